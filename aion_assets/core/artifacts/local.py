"""`LocalArtifactStore`: artifacts as files below a folder (the embedded default).

Every write goes through a temp file in the target's folder, is fsynced and renamed into place,
so a reader sees either nothing or the complete object.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from aion_assets.core.artifacts.base import (
    TEMP_PREFIX,
    ArtifactNotFoundError,
    ArtifactStore,
    validate_key,
    validate_prefix,
)
from aion_assets.core.errors import ArtifactError
from aion_assets.core.files import make_private_dir

_COPY_BUFFER = 1024 * 1024


def _atomic_copy_to(path: Path, source: BinaryIO) -> None:
    """Write SOURCE to PATH through a temp file in the same folder + fsync + os.replace.

    The temp file lives in PATH's own folder because os.replace is only atomic within one
    filesystem; the fsync before the rename keeps a crash from leaving a renamed but empty file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            shutil.copyfileobj(source, tmp, _COPY_BUFFER)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not every platform lets a folder be opened for it.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class LocalArtifactStore(ArtifactStore):
    """Artifacts as files below ROOT (the embedded default).

    Writes go to a hidden temp file in the target folder, are fsynced and renamed into place.
    On a local filesystem a key cannot be both an object and a folder of other keys
    (``a`` and ``a/b``); such a write raises ArtifactError.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().resolve()

    def __repr__(self) -> str:
        return f"LocalArtifactStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*validate_key(key).split("/"))

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()

    def put_bytes(self, key: str, data: bytes) -> str:
        return self._put(key, io.BytesIO(data))

    def put_file(self, key: str, path: Path) -> str:
        target = self._path(key)
        if not Path(path).is_file():
            raise ArtifactError(f"cannot store {target.as_uri()}: local file {path} does not exist")
        with open(path, "rb") as source:
            return self._put(key, source)

    def _put(self, key: str, source: BinaryIO) -> str:
        path = self._path(key)
        try:
            # Folders 0700 whatever the umask (files are already 0600: mkstemp); artifacts hold PII.
            make_private_dir(path.parent)
            _atomic_copy_to(path, source)
        except (NotADirectoryError, IsADirectoryError, FileExistsError) as exc:
            raise ArtifactError(
                f"cannot write {path.as_uri()}: a key is both an object and a folder of other keys "
                f"in the local store ({exc.strerror})"
            ) from exc
        return path.as_uri()

    def get_bytes(self, key: str) -> bytes:
        with self.open_read(key) as stream:
            return stream.read()

    def open_read(self, key: str) -> BinaryIO:
        path = self._path(key)
        try:
            return open(path, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ArtifactNotFoundError(f"artifact not found: {path.as_uri()}") from None

    def download_file(self, key: str, path: Path) -> None:
        with self.open_read(key) as source:
            _atomic_copy_to(Path(path), source)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> Iterator[str]:
        validate_prefix(prefix)
        # Walk only the deepest folder that the prefix fully names, then filter by string
        # prefix, so that 'datasets/ac' matches 'datasets/acme/...' as it does on S3.
        folder = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self.root.joinpath(*folder.split("/")) if folder else self.root
        keys = []
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames[:] = [d for d in dirnames if not d.startswith(TEMP_PREFIX)]
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                if name.startswith(TEMP_PREFIX):
                    continue
                key = name if rel == "." else f"{rel}/{name}"
                if key.startswith(prefix):
                    keys.append(key)
        yield from sorted(keys)

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        except IsADirectoryError:
            raise ArtifactError(f"cannot delete {path.as_uri()}: it is a folder of other keys") from None


"""The artifact store's interface and its keys: `ArtifactStore`, key validation, `key_segment`.

Keys are POSIX-style relative paths such as ``datasets/acme/support/v1/train.jsonl``. The two
implementations are in ``core.artifacts.local`` and ``core.artifacts.s3``.
"""

from __future__ import annotations

import abc
import builtins
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from aion_assets.core.errors import ArtifactError

#: Local temporary files start with this; keys may not, so `list()` can always skip them.
TEMP_PREFIX = ".aion-tmp-"




class InvalidKeyError(ArtifactError, ValueError):
    """A key is not a clean relative POSIX path (empty, absolute, '..', empty segment...)."""


class ArtifactNotFoundError(ArtifactError):
    """No object is stored at the key; the message names the full URI."""


def validate_key(key: str) -> str:
    """Return KEY unchanged when it is a valid artifact key, else raise InvalidKeyError.

    A valid key is a non-empty relative POSIX path whose segments are non-empty, not '.' or
    '..', contain no backslash, NUL or control character, and do not start with the
    reserved temporary-file prefix.
    """
    if not isinstance(key, str) or not key:
        raise InvalidKeyError(f"artifact key must be a non-empty string, got {key!r}")
    if key.startswith("/"):
        raise InvalidKeyError(f"artifact key must be relative, got absolute {key!r}")
    if "\\" in key or any(ord(ch) < 32 or ord(ch) == 127 for ch in key):
        raise InvalidKeyError(f"artifact key {key!r} contains a backslash or control character")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidKeyError(
                f"artifact key {key!r} has an empty, '.' or '..' segment; use a plain relative path "
                "such as 'datasets/acme/support/v1/train.jsonl'"
            )
        if segment.startswith(TEMP_PREFIX):
            raise InvalidKeyError(f"artifact key {key!r} uses the reserved prefix {TEMP_PREFIX!r}")
    return key


def validate_prefix(prefix: str) -> str:
    """Return PREFIX when it is '' or a valid key with an optional trailing '/'."""
    if prefix == "":
        return prefix
    validate_key(prefix.removesuffix("/"))
    return prefix


class ArtifactStore(abc.ABC):
    """Abstract store of immutable-by-convention objects addressed by key."""

    @abc.abstractmethod
    def uri(self, key: str) -> str:
        """Return the full URI of KEY (``file:///...`` or ``s3://bucket/prefix/key``)."""

    @abc.abstractmethod
    def put_bytes(self, key: str, data: bytes) -> str:
        """Store DATA at KEY atomically, replacing any object there. Returns the URI."""

    @abc.abstractmethod
    def put_file(self, key: str, path: Path) -> str:
        """Store the local file PATH at KEY atomically. Returns the URI."""

    @abc.abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """Return the object at KEY. Raises ArtifactError when it does not exist."""

    @abc.abstractmethod
    def open_read(self, key: str) -> BinaryIO:
        """Open KEY for streaming reads (caller closes). Raises ArtifactError if missing."""

    @abc.abstractmethod
    def download_file(self, key: str, path: Path) -> None:
        """Copy the object at KEY to the local file PATH."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object is stored at KEY."""

    @abc.abstractmethod
    def list(self, prefix: str = "") -> Iterator[str]:
        """Yield the keys under PREFIX (recursively), sorted."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Delete the object at KEY; deleting a missing key is not an error."""

    # builtins.list: inside the class body `list` is the method below, not the type.
    def put_dir(self, prefix: str, directory: Path) -> builtins.list[str]:
        """Upload every file below DIRECTORY under PREFIX; returns the keys written."""
        keys = []
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            key = f"{prefix.rstrip('/')}/{path.relative_to(directory).as_posix()}"
            self.put_file(key, path)
            keys.append(key)
        return keys

    def download_dir(self, prefix: str, directory: Path) -> builtins.list[Path]:
        """Download every object under PREFIX into DIRECTORY, keeping relative paths."""
        out = []
        base = prefix.rstrip("/") + "/"
        for key in self.list(base):
            target = directory / key[len(base):]
            target.parent.mkdir(parents=True, exist_ok=True)
            self.download_file(key, target)
            out.append(target)
        return out

def key_segment(value: str) -> str:
    """VALUE (a tenant id) as one artifact-key segment (``/`` and other separators percent-quoted)."""
    return quote(value, safe="@:.-_")

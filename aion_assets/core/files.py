"""Private files and folders for state under AION_HOME (database, artifacts, secrets).

The embedded default keeps interactions (PII), adapters and the JWT secret on local disk, so
what this process creates there is readable by its own user only: folders ``0700``, files
``0600``. Modes are set explicitly after creation, so they do not depend on the umask. Folders
and files that already exist are left as they are: tightening an operator's own layout is not
this module's call.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def make_private_dir(path: Path | str) -> Path:
    """Create PATH and any missing parents with mode 0700; existing folders keep their mode.

    Returns:
        PATH as a ``Path``.

    Raises:
        OSError: a component exists and is not a folder (``NotADirectoryError``, ``FileExistsError``).
    """
    path = Path(path)
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            if folder.is_dir():  # another process created it meanwhile: its mode, not ours
                continue
            raise
        # mkdir's mode is filtered by the umask; chmod is not.
        os.chmod(folder, DIR_MODE)
    return path


def create_private_file(path: Path | str) -> bool:
    """Create PATH empty with mode 0600 unless it exists (parents: `make_private_dir`).

    Returns:
        Whether this call created the file.
    """
    path = Path(path)
    make_private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    with contextlib.closing(os.fdopen(fd, "wb")) as fh:
        os.fchmod(fh.fileno(), FILE_MODE)
    return True


__all__ = ["DIR_MODE", "FILE_MODE", "create_private_file", "make_private_dir"]

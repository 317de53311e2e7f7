"""The routing client's persisted table: the last good routes of each tenant, on disk.

A gateway restarted while the registry is unreachable reads this file at start and resolves
before it can reach the registry (``registry.client.RouteClient``). Writes go to a temporary
file in the same directory, are fsynced, renamed over the old file, and the directory is
fsynced: a crash leaves the old file or the new one, never a torn one. A file that cannot be
read or does not check is ignored with a warning, never fatal.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Collection
from pathlib import Path
from typing import Any

from aion_assets.registry.routing import checked

log = logging.getLogger(__name__)
#: Version of the file's layout; a file of another version is ignored.
CACHE_FORMAT = 1
#: tenant -> (wall-clock time of the fetch, the routes as the API sent them)
Segments = dict[str, tuple[float, list[dict[str, Any]]]]


def save_segments(path: Path, segments: Segments) -> None:
    """Write SEGMENTS to PATH atomically and durably.

    A full or read-only disk must not stop routing from memory: an OSError is logged, not raised.
    """
    doc = {
        "format": CACHE_FORMAT,
        "tenants": {t: {"fetched_at": at, "routes": rows} for t, (at, rows) in segments.items()},
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(doc, handle, separators=(",", ":"))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        with contextlib.suppress(OSError):  # make the rename itself durable (POSIX)
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    except OSError as exc:
        log.warning("could not persist the route table to %s: %s", path, exc)


def load_segments(path: Path | None, tenants: Collection[str]) -> Segments | None:
    """The tables of TENANTS persisted at PATH (routes of other tenants are dropped).

    Returns:
        None when there is no file, or it cannot be read or does not check (logged); every
        row of the tables returned passed :func:`aion_assets.registry.routing.checked`.
    """
    if path is None or not path.exists():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != CACHE_FORMAT:
            raise ValueError(f"format {doc.get('format')!r}, expected {CACHE_FORMAT}")
        return {
            tenant: (float(seg["fetched_at"]), [checked(row, tenant) for row in seg["routes"]])
            for tenant, seg in doc["tenants"].items()
            if tenant in tenants  # routes of tenants this client no longer serves are dropped
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("ignoring the persisted route table %s: %s", path, exc)
        return None

"""The retention archive's files: rows as archive lines, checksums, sealing, and the verified fetch.

An archive is gzip-compressed JSONL (deterministic bytes: no gzip timestamp), one canonical JSON
line per interaction with its self-edits (``{"interaction": {...}, "self_edits": [...]}``). When
an archive key is configured the gzip bytes are encrypted before upload (`seal`); `fetch_verified`
downloads, decrypts and checks an archive against its manifest (``memory.archive_format``) before
anything is deleted or restored from it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from aion_assets.core import crypto
from aion_assets.core.artifacts import ArtifactStore
from aion_assets.core.errors import ArtifactError
from aion_assets.memory.archive_format import ArchiveKeys, ArchiveManifest
from aion_assets.memory.models import utc

_READ_CHUNK = 1024 * 1024
#: Rows per statement when reading a day, deleting or restoring.
BATCH = 500


# -- rows -------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc(value).isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def row_dict(mapping: Any, table: sa.Table, prefix: str = "") -> dict[str, Any]:
    """A database row of TABLE as the JSON-ready dict stored in archives."""
    return {c.name: _jsonable(mapping[f"{prefix}{c.name}"]) for c in table.c}


def from_json(data: dict[str, Any], table: sa.Table) -> dict[str, Any]:
    """An archived row of TABLE as column values to insert."""
    out: dict[str, Any] = {}
    for col in table.c:
        value = data.get(col.name)
        if value is not None and isinstance(col.type, sa.Uuid):
            value = uuid.UUID(value)
        elif value is not None and isinstance(col.type, sa.DateTime):
            value = utc(datetime.fromisoformat(value))
        out[col.name] = value
    return out


def encode_item(item: dict[str, Any]) -> bytes:
    """One archive line (canonical JSON, so equal rows give equal bytes)."""
    return (json.dumps(item, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n").encode()


def canonical(row: dict[str, Any]) -> str:
    """A row dict as canonical JSON, to compare an archived row with the current one."""
    return json.dumps(row, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def read_items(path: Path) -> Iterator[dict[str, Any]]:
    """The archived items of a local (decrypted) archive file, in order."""
    with gzip.open(path, "rb") as gz:
        for line in gz:
            if line.strip():
                yield json.loads(line)


# -- fetching and verifying ------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    """The sha256 of a local file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _count_lines(path: Path, uri: str) -> int:
    try:
        with gzip.open(path, "rb") as gz:
            return sum(1 for line in gz if line.strip())
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ArtifactError(f"archive {uri} is not a readable gzip file: {exc}") from exc


def seal(plain: Path, key: str, keys: ArchiveKeys | None, out: Path) -> Path:
    """The file to upload for the gzip file PLAIN at KEY: encrypted into OUT when KEYS is set."""
    if keys is None:
        return plain
    return crypto.encrypt_file(plain, out, keys.encryption, associated_data=key.encode())


def fetch_verified(
    artifacts: ArtifactStore, manifest: ArchiveManifest, keys: ArchiveKeys | None, folder: Path
) -> Path:
    """Download MANIFEST's archive into FOLDER, decrypt it, check it; return the local gzip file.

    Raises:
        ArtifactError: a plaintext object where an encrypted one is expected (or the reverse), no
            key for an encrypted archive, a failed decryption, or a checksum or row count that
            differs from the manifest's. Nothing is deleted or restored then.
    """
    uri = artifacts.uri(manifest.key)
    stored = folder / "stored"
    artifacts.download_file(manifest.key, stored)
    with open(stored, "rb") as fh:
        head = fh.read(len(crypto.MAGIC) + 1)
    if manifest.encrypted != crypto.is_encrypted(head):
        found, expected = ("plaintext", "encrypted") if manifest.encrypted else ("encrypted", "plaintext")
        raise ArtifactError(f"archive {uri} is {found} where an {expected} archive is expected; refusing it")
    if file_sha256(stored) != manifest.sha256:
        raise ArtifactError(f"archive {uri} failed verification: its sha256 differs from the manifest's")
    plain = stored
    if manifest.encrypted:
        if keys is None:
            raise ArtifactError(f"archive {uri} is encrypted and no archive key is configured (AION_ARCHIVE_KEY)")
        plain = crypto.decrypt_file(stored, folder / "plain.jsonl.gz", keys.encryption,
                                    associated_data=manifest.key.encode())
    rows = _count_lines(plain, uri)
    if rows != manifest.rows or file_sha256(plain) != manifest.content_sha256:
        raise ArtifactError(
            f"archive {uri} failed verification: {rows} rows read back, {manifest.rows} in the manifest "
            "(or its content checksum differs); nothing was deleted"
        )
    return plain

def batched(items: Iterator[dict[str, Any]], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    """ITEMS in lists of at most SIZE."""
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


__all__ = [
    "BATCH",
    "batched",
    "canonical",
    "encode_item",
    "fetch_verified",
    "file_sha256",
    "from_json",
    "read_items",
    "row_dict",
    "seal",
]

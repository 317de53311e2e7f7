"""Retention: archive old interactions (with their self-edits) to the artifact store, then delete them.

Per tenant with ``retention_days`` set, interactions older than ``now - retention_days`` are
archived one calendar day (UTC) at a time as gzip-compressed JSONL, one line per interaction::

    {"interaction": {...all columns...}, "self_edits": [{...all columns...}, ...]}

Layout, per tenant and day (tenant ids are percent-quoted so that ``/`` never nests)::

    archives/{tenant}/interactions/{YYYY-MM-DD}/{digest}.jsonl.gz           the rows
    archives/{tenant}/interactions/{YYYY-MM-DD}/{digest}.manifest.json      rows, edits, sha256
    archives/{tenant}/interactions/{YYYY-MM-DD}/{digest}.deleted.json       written after the delete

Crash safety, step by step: (1) the archive's key is a digest of the archived interaction ids,
and its bytes are deterministic (gzip without timestamp), so archiving the same rows again writes
the same object, never a second copy; (2) the archive is read back and its row count and sha256
verified before anything is deleted; (3) the manifest is written, then rows are deleted by the ids
read from the archive, then the ``deleted`` marker is written. A crash before (3) leaves the rows
in place and the next run archives the same set to the same key; a crash inside (3) leaves a
manifest without marker, which the next run completes first (delete by its ids, idempotent). So
nothing is lost and nothing is archived twice.

Restore (``aion archive restore --tenant T --date D``) inserts a day's archived rows back, skipping
ids that are already present. Restored rows older than the retention window are archived again
(to the same key) by the next retention run; raise the tenant's ``retention_days`` to keep them.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import logging
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from aion_assets.core.artifacts import ArtifactStore, key_segment
from aion_assets.core.db import tenant_transaction
from aion_assets.core.errors import ArtifactError, NotFoundError
from aion_assets.memory import tables as t
from aion_assets.memory.models import Tenant, utc

log = logging.getLogger(__name__)
DELETE_BATCH = 500
_READ_CHUNK = 1024 * 1024


def day_prefix(tenant_id: str, day: date) -> str:
    """The artifact-store folder of one tenant's archives of one day (with trailing ``/``)."""
    return f"archives/{key_segment(tenant_id)}/interactions/{day.isoformat()}/"


@dataclass(frozen=True)
class ArchiveManifest:
    """What one archive object holds; stored beside it as ``{digest}.manifest.json``."""

    tenant_id: str
    day: str
    key: str
    rows: int
    edits: int
    sha256: str
    ids_sha256: str
    cutoff: str
    created_at: str

    def dumps(self) -> bytes:
        """The manifest as JSON bytes."""
        return json.dumps(asdict(self), sort_keys=True, indent=1).encode()

    @classmethod
    def loads(cls, data: bytes) -> ArchiveManifest:
        """Parse a manifest written by :meth:`dumps`."""
        return cls(**json.loads(data))


@dataclass(frozen=True)
class ArchiveResult:
    """The outcome of archiving one tenant/day (or completing a crashed run's delete)."""

    manifest: ArchiveManifest
    deleted: int
    reused: bool


@dataclass(frozen=True)
class RestoreResult:
    """The outcome of restoring one tenant/day."""

    archives: int
    interactions: int
    edits: int
    skipped: int


# -- serialisation ----------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc(value).isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _row_dict(mapping: Any, table: sa.Table, prefix: str = "") -> dict[str, Any]:
    return {c.name: _jsonable(mapping[f"{prefix}{c.name}"]) for c in table.c}


def _from_json(data: dict[str, Any], table: sa.Table) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for col in table.c:
        value = data.get(col.name)
        if value is not None and isinstance(col.type, sa.Uuid):
            value = uuid.UUID(value)
        elif value is not None and isinstance(col.type, sa.DateTime):
            value = utc(datetime.fromisoformat(value))
        out[col.name] = value
    return out


# -- queries ----------------------------------------------------------------------------------


def _next_day_with_data(conn: Connection, tenant_id: str, start: datetime | None, cutoff: datetime) -> date | None:
    c = t.interactions.c
    query = sa.select(sa.func.min(c.timestamp)).where(c.tenant_id == tenant_id, c.timestamp < cutoff)
    if start is not None:
        query = query.where(c.timestamp >= start)
    first = conn.execute(query).scalar()
    return None if first is None else utc(first).date()


def _day_bounds(day: date, cutoff: datetime) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, min(start + timedelta(days=1), cutoff)


def _stream_day(conn: Connection, tenant_id: str, start: datetime, end: datetime) -> Iterator[dict[str, Any]]:
    """Interactions of [START, END) with their edits, one dict per interaction, ordered by id."""
    i, e = t.interactions.c, t.self_edits.c
    query = (
        sa.select(t.interactions, *[col.label(f"e_{col.name}") for col in t.self_edits.c])
        .select_from(
            t.interactions.outerjoin(t.self_edits, sa.and_(e.interaction_id == i.id, e.tenant_id == tenant_id))
        )
        .where(i.tenant_id == tenant_id, i.timestamp >= start, i.timestamp < end)
        .order_by(i.id, e.id)
    )
    current: dict[str, Any] | None = None
    for row in conn.execution_options(stream_results=True, yield_per=DELETE_BATCH).execute(query):
        m = row._mapping
        if current is None or current["interaction"]["id"] != str(m["id"]):
            if current is not None:
                yield current
            current = {"interaction": _row_dict(m, t.interactions), "self_edits": []}
        if m["e_id"] is not None:
            current["self_edits"].append(_row_dict(m, t.self_edits, "e_"))
    if current is not None:
        yield current


def _delete_ids(conn: Connection, tenant_id: str, ids: Sequence[uuid.UUID]) -> int:
    e = t.self_edits.c
    conn.execute(sa.delete(t.self_edits).where(e.tenant_id == tenant_id, e.interaction_id.in_(ids)))
    result = conn.execute(
        sa.delete(t.interactions).where(t.interactions.c.tenant_id == tenant_id, t.interactions.c.id.in_(ids))
    )
    return int(result.rowcount or 0)


def _archive_ids(stream: IO[bytes]) -> Iterator[uuid.UUID]:
    with gzip.GzipFile(fileobj=stream, mode="rb") as gz:
        for line in gz:
            if line.strip():
                yield uuid.UUID(json.loads(line)["interaction"]["id"])


def _batched(items: Iterator[uuid.UUID], size: int) -> Iterator[list[uuid.UUID]]:
    batch: list[uuid.UUID] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# -- verification -----------------------------------------------------------------------------


def verify_archive(artifacts: ArtifactStore, key: str, *, rows: int, sha256: str) -> None:
    """Read KEY back and check its row count and sha256; raise ArtifactError on any mismatch."""
    digest = hashlib.sha256()

    class _Tee(io.RawIOBase):
        def __init__(self, inner: IO[bytes]) -> None:
            self.inner = inner

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            data = self.inner.read(len(buffer))
            digest.update(data)
            buffer[: len(data)] = data
            return len(data)

    count = 0
    with contextlib.closing(artifacts.open_read(key)) as raw:
        tee = io.BufferedReader(_Tee(raw), buffer_size=_READ_CHUNK)
        try:
            with gzip.GzipFile(fileobj=tee, mode="rb") as gz:
                count = sum(1 for line in gz if line.strip())
            while tee.read(_READ_CHUNK):  # trailing bytes, if any, count in the checksum
                pass
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise ArtifactError(f"archive {artifacts.uri(key)} is not a readable gzip file: {exc}") from exc
    if count != rows or digest.hexdigest() != sha256:
        raise ArtifactError(
            f"archive {artifacts.uri(key)} failed verification: {count} rows / sha256 {digest.hexdigest()[:12]} "
            f"read back, {rows} rows / {sha256[:12]} written; nothing was deleted"
        )


# -- archiving --------------------------------------------------------------------------------


def _write_day(conn: Connection, tenant_id: str, start: datetime, end: datetime, path: Path) -> tuple[int, int, str]:
    """Write the day's rows to PATH (deterministic gzip); return (rows, edits, ids sha256)."""
    ids_hash = hashlib.sha256()
    rows = edits = 0
    with open(path, "wb") as fh, gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0) as gz:
        for item in _stream_day(conn, tenant_id, start, end):
            gz.write((json.dumps(item, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n").encode())
            ids_hash.update(item["interaction"]["id"].encode() + b"\n")
            rows += 1
            edits += len(item["self_edits"])
    return rows, edits, ids_hash.hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _complete_delete(
    engine: Engine, artifacts: ArtifactStore, manifest: ArchiveManifest, manifest_key: str
) -> int:
    """Delete the rows of a verified archive (by the ids it holds) and write its ``deleted`` marker."""
    deleted = 0
    with contextlib.closing(artifacts.open_read(manifest.key)) as raw, tenant_transaction(
        engine, manifest.tenant_id
    ) as conn:
        for batch in _batched(_archive_ids(raw), DELETE_BATCH):
            deleted += _delete_ids(conn, manifest.tenant_id, batch)
    marker = manifest_key.removesuffix(".manifest.json") + ".deleted.json"
    artifacts.put_bytes(
        marker, json.dumps({"deleted": deleted, "at": datetime.now(UTC).isoformat()}, sort_keys=True).encode()
    )
    return deleted


def _pending_manifests(artifacts: ArtifactStore, tenant_id: str) -> Iterator[tuple[str, ArchiveManifest]]:
    keys = list(artifacts.list(f"archives/{key_segment(tenant_id)}/interactions/"))
    present = set(keys)
    for key in keys:
        if key.endswith(".manifest.json") and key.removesuffix(".manifest.json") + ".deleted.json" not in present:
            yield key, ArchiveManifest.loads(artifacts.get_bytes(key))


def archive_tenant(
    engine: Engine,
    artifacts: ArtifactStore,
    tenant: Tenant,
    *,
    now: datetime | None = None,
    before_delete: Callable[[ArchiveManifest], None] | None = None,
) -> list[ArchiveResult]:
    """Archive and delete TENANT's interactions older than its retention window.

    Args:
        now: the reference time (default: now, UTC); the cutoff is ``now - retention_days``.
        before_delete: called with each verified manifest just before its rows are deleted
            (operators' audit hook; tests inject a crash there).

    Returns:
        One result per archive completed (including deletes left over by a crashed run).

    Raises:
        ArtifactError: an archive failed verification (its rows were not deleted).
    """
    if tenant.retention_days is None:
        return []
    now = utc(now or datetime.now(UTC))
    cutoff = now - timedelta(days=tenant.retention_days)
    results: list[ArchiveResult] = []
    # First finish what a crashed run archived and verified but did not delete.
    for manifest_key, manifest in _pending_manifests(artifacts, tenant.tenant_id):
        verify_archive(artifacts, manifest.key, rows=manifest.rows, sha256=manifest.sha256)
        if before_delete is not None:
            before_delete(manifest)
        results.append(ArchiveResult(manifest, _complete_delete(engine, artifacts, manifest, manifest_key), True))
    start: datetime | None = None
    with tempfile.TemporaryDirectory(prefix="aion-archive-") as tmp:
        while True:
            with tenant_transaction(engine, tenant.tenant_id) as conn:
                day = _next_day_with_data(conn, tenant.tenant_id, start, cutoff)
                if day is None:
                    break
                day_start, day_end = _day_bounds(day, cutoff)
                path = Path(tmp) / f"{day.isoformat()}.jsonl.gz"
                rows, edits, ids_sha = _write_day(conn, tenant.tenant_id, day_start, day_end, path)
            start = day_start + timedelta(days=1)
            if rows == 0:
                continue
            results.append(_archive_file(engine, artifacts, tenant.tenant_id, day, path, rows, edits, ids_sha, cutoff,
                                         before_delete))
    return results


def _archive_file(
    engine: Engine,
    artifacts: ArtifactStore,
    tenant_id: str,
    day: date,
    path: Path,
    rows: int,
    edits: int,
    ids_sha: str,
    cutoff: datetime,
    before_delete: Callable[[ArchiveManifest], None] | None,
) -> ArchiveResult:
    base = day_prefix(tenant_id, day) + ids_sha[:24]
    key, manifest_key = base + ".jsonl.gz", base + ".manifest.json"
    sha = _file_sha256(path)
    reused = False
    if artifacts.exists(key):
        try:
            verify_archive(artifacts, key, rows=rows, sha256=sha)
            reused = True  # a crashed run already stored these very bytes
        except ArtifactError:
            reused = False
    if not reused:
        artifacts.put_file(key, path)
    verify_archive(artifacts, key, rows=rows, sha256=sha)
    manifest = ArchiveManifest(
        tenant_id=tenant_id,
        day=day.isoformat(),
        key=key,
        rows=rows,
        edits=edits,
        sha256=sha,
        ids_sha256=ids_sha,
        cutoff=cutoff.isoformat(),
        created_at=datetime.now(UTC).isoformat(),
    )
    artifacts.put_bytes(manifest_key, manifest.dumps())
    if before_delete is not None:
        before_delete(manifest)
    deleted = _complete_delete(engine, artifacts, manifest, manifest_key)
    log.info("archived %d interactions of %s on %s to %s", rows, tenant_id, day, artifacts.uri(key))
    return ArchiveResult(manifest, deleted, reused)


def run_retention(
    engine: Engine,
    artifacts: ArtifactStore,
    tenants: Sequence[Tenant],
    *,
    now: datetime | None = None,
    before_delete: Callable[[ArchiveManifest], None] | None = None,
) -> dict[str, list[ArchiveResult]]:
    """Apply retention to every tenant of TENANTS that has ``retention_days``; results by tenant."""
    return {
        tenant.tenant_id: archive_tenant(engine, artifacts, tenant, now=now, before_delete=before_delete)
        for tenant in tenants
        if tenant.retention_days is not None
    }


# -- restore ----------------------------------------------------------------------------------


def _insert_ignore(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(rows).on_conflict_do_nothing(index_elements=["id"]).returning(table.c.id)
    return len(conn.execute(stmt).all())


def _restore_file(conn: Connection, tenant_id: str, path: Path, uri: str) -> tuple[int, int, int]:
    """Insert the rows of one local archive file; return (interactions, edits, skipped)."""
    inter_n = edit_n = skipped = 0
    batch_i: list[dict[str, Any]] = []
    batch_e: list[dict[str, Any]] = []
    with gzip.open(path, "rb") as gz:
        for line in (*gz, b""):
            if line.strip():
                item = json.loads(line)
                row = _from_json(item["interaction"], t.interactions)
                if row["tenant_id"] != tenant_id:
                    raise ArtifactError(f"archive {uri} holds rows of another tenant; nothing restored")
                batch_i.append(row)
                batch_e.extend(_from_json(e, t.self_edits) for e in item["self_edits"])
            if batch_i and (len(batch_i) >= DELETE_BATCH or not line):
                added = _insert_ignore(conn, t.interactions, batch_i)
                inter_n, skipped = inter_n + added, skipped + len(batch_i) - added
                edit_n += _insert_ignore(conn, t.self_edits, batch_e)
                batch_i, batch_e = [], []
    return inter_n, edit_n, skipped


def restore_day(engine: Engine, artifacts: ArtifactStore, tenant_id: str, day: date) -> RestoreResult:
    """Insert back every archived interaction (and edit) of TENANT_ID on DAY; present ids are skipped.

    All of the day's archives are restored in one transaction: all or nothing.

    Raises:
        NotFoundError: there is no archive for that tenant and day.
        ArtifactError: an archive fails verification against its manifest (nothing restored).
    """
    prefix = day_prefix(tenant_id, day)
    manifests = [
        ArchiveManifest.loads(artifacts.get_bytes(k)) for k in artifacts.list(prefix) if k.endswith(".manifest.json")
    ]
    if not manifests:
        where = artifacts.uri(prefix.rstrip("/"))
        raise NotFoundError(f"no archive of tenant {tenant_id!r} for {day.isoformat()} under {where}")
    for m in manifests:
        verify_archive(artifacts, m.key, rows=m.rows, sha256=m.sha256)
    totals = [0, 0, 0]
    with tempfile.TemporaryDirectory(prefix="aion-restore-") as tmp, tenant_transaction(engine, tenant_id) as conn:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(
            dialect.insert(t.tenants)
            .values(tenant_id=tenant_id, config={}, created_at=datetime.now(UTC))
            .on_conflict_do_nothing(index_elements=["tenant_id"])
        )
        for m in manifests:
            local = Path(tmp) / "archive.jsonl.gz"
            artifacts.download_file(m.key, local)
            counts = _restore_file(conn, tenant_id, local, artifacts.uri(m.key))
            totals = [a + b for a, b in zip(totals, counts, strict=True)]
            local.unlink()
    return RestoreResult(archives=len(manifests), interactions=totals[0], edits=totals[1], skipped=totals[2])


__all__ = [
    "ArchiveManifest",
    "ArchiveResult",
    "RestoreResult",
    "archive_tenant",
    "day_prefix",
    "restore_day",
    "run_retention",
    "verify_archive",
]

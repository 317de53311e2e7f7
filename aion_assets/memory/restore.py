"""Restore of retention archives: a day's archived interactions and edits back into the hot tables.

``aion archive restore --tenant T --date D``. Every manifest of the day is checked as retention
checks it (HMAC when a key is configured, tenant, key beside it) and every archive verified and
decrypted before the one transaction that inserts; ids already present are skipped, and archives
are applied newest first, so an interaction archived twice (it changed after a first snapshot)
comes back in its latest version.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from aion_assets.core.artifacts import ArtifactStore
from aion_assets.core.db import tenant_transaction
from aion_assets.core.errors import ArtifactError, NotFoundError
from aion_assets.memory import tables as t
from aion_assets.memory.archive_files import batched, fetch_verified, from_json, read_items
from aion_assets.memory.archive_format import ArchiveKeys, day_prefix, is_manifest, load_trusted


@dataclass(frozen=True)
class RestoreResult:
    """The outcome of restoring one tenant/day."""

    archives: int
    interactions: int
    edits: int
    skipped: int


def _insert_ignore(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(rows).on_conflict_do_nothing(index_elements=["id"]).returning(table.c.id)
    return len(conn.execute(stmt).all())


def _restore_file(conn: Connection, tenant_id: str, path: Path, uri: str) -> tuple[int, int, int]:
    """Insert the rows of one local archive file; return (interactions, edits, skipped)."""
    inter_n = edit_n = skipped = 0
    for batch in batched(read_items(path)):
        rows = [from_json(item["interaction"], t.interactions) for item in batch]
        edits = [from_json(e, t.self_edits) for item in batch for e in item["self_edits"]]
        parents = [row["id"] for row, item in zip(rows, batch, strict=True) for _ in item["self_edits"]]
        # SQLite has no row-level security: the tenant of every row, edits included, is checked here,
        # and an edit may only hang off the interaction it was archived with.
        if any(r["tenant_id"] != tenant_id for r in (*rows, *edits)) or any(
            e["interaction_id"] != parent for e, parent in zip(edits, parents, strict=True)
        ):
            raise ArtifactError(f"archive {uri} holds rows of another tenant; nothing restored")
        added = _insert_ignore(conn, t.interactions, rows)
        inter_n, skipped = inter_n + added, skipped + len(rows) - added
        edit_n += _insert_ignore(conn, t.self_edits, edits)
    return inter_n, edit_n, skipped


def restore_day(
    engine: Engine, artifacts: ArtifactStore, tenant_id: str, day: date, *, keys: ArchiveKeys | None = None
) -> RestoreResult:
    """Insert back every archived interaction (and edit) of TENANT_ID on DAY; present ids are skipped.

    All of the day's archives are verified first, then restored newest first (so the newest
    archived version of an interaction wins) in one transaction: all or nothing.

    Raises:
        NotFoundError: there is no archive for that tenant and day.
        ArtifactError: a manifest is not trusted, or an archive is missing, altered, of another
            tenant, plaintext where an encrypted one is expected, or not decryptable (nothing restored).
    """
    prefix = day_prefix(tenant_id, day)
    manifest_keys = [k for k in artifacts.list(prefix) if is_manifest(k)]
    if not manifest_keys:
        where = artifacts.uri(prefix.rstrip("/"))
        raise NotFoundError(f"no archive of tenant {tenant_id!r} for {day.isoformat()} under {where}")
    manifests = [load_trusted(artifacts, k, tenant_id, keys, None) for k in manifest_keys]
    manifests.sort(key=lambda m: m.created_at, reverse=True)
    totals = [0, 0, 0]
    with tempfile.TemporaryDirectory(prefix="aion-restore-") as tmp:
        local = [
            (fetch_verified(artifacts, m, keys, Path(tempfile.mkdtemp(dir=tmp))), artifacts.uri(m.key))
            for m in manifests
        ]
        with tenant_transaction(engine, tenant_id) as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            conn.execute(
                dialect.insert(t.tenants)
                .values(tenant_id=tenant_id, config={}, created_at=datetime.now(UTC))
                .on_conflict_do_nothing(index_elements=["tenant_id"])
            )
            for path, uri in local:
                counts = _restore_file(conn, tenant_id, path, uri)
                totals = [a + b for a, b in zip(totals, counts, strict=True)]
    return RestoreResult(archives=len(manifests), interactions=totals[0], edits=totals[1], skipped=totals[2])


__all__ = ["RestoreResult", "restore_day"]

"""Step 3 of retention: delete, in one short transaction, exactly the rows a verified archive holds.

The delete is driven by the verified local copy of the archive, never by the manifest's word.
For each archived interaction it locks the current row (``FOR UPDATE`` on PostgreSQL, which also
blocks a concurrent insert of a new edit, since the foreign-key check needs a share lock on that
row; on SQLite the write transaction begins IMMEDIATE and serialises all writers), reads its
current edits, and deletes the interaction and its edits only if they are exactly the archived
ones and its timestamp is before both the manifest's and this run's cutoff. Anything else stays,
whole, for the next run. Repeating a delete is harmless (rows already gone are simply absent).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from aion_assets.core.db import tenant_transaction
from aion_assets.core.errors import ArtifactError
from aion_assets.memory import tables as t
from aion_assets.memory.archive_files import batched, canonical, read_items, row_dict
from aion_assets.memory.archive_format import ArchiveManifest, day_bounds
from aion_assets.memory.models import utc


def check_item(item: dict[str, Any], tenant_id: str, start: datetime, limit: datetime, uri: str) -> uuid.UUID:
    """The id of an archived item, after checking it belongs to TENANT_ID and to [START, LIMIT)."""
    inter = item["interaction"]
    ident = uuid.UUID(inter["id"])
    if inter.get("tenant_id") != tenant_id or any(
        e.get("tenant_id") != tenant_id or e.get("interaction_id") != inter["id"] for e in item["self_edits"]
    ):
        raise ArtifactError(f"archive {uri} holds rows of another tenant; nothing was deleted")
    stamp = utc(datetime.fromisoformat(inter["timestamp"]))
    if not start <= stamp < limit:
        raise ArtifactError(f"archive {uri} holds a row outside its day or after the cutoff; nothing was deleted")
    return ident


def delete_batch(conn: Connection, tenant_id: str, batch: list[dict[str, Any]], ids: list[uuid.UUID],
                  limit: datetime) -> tuple[int, int]:
    """Delete the interactions of BATCH that are unchanged since archiving; return (deleted, kept)."""
    i, e = t.interactions.c, t.self_edits.c
    # Lock the interactions first: from here no edit can be added to them (the foreign-key check
    # of an insert waits for this transaction), so the edits read next are the final ones.
    current = {
        str(r.id): canonical(row_dict(r._mapping, t.interactions))
        for r in conn.execute(
            sa.select(t.interactions)
            .where(i.tenant_id == tenant_id, i.id.in_(ids), i.timestamp < limit)
            .with_for_update()
        )
    }
    # No tenant filter: on SQLite an edit of another tenant pointing here must keep the row too.
    edits: dict[str, list[str]] = {}
    for r in conn.execute(sa.select(t.self_edits).where(e.interaction_id.in_(ids)).with_for_update()):
        edits.setdefault(str(r.interaction_id), []).append(canonical(row_dict(r._mapping, t.self_edits)))
    gone_ids: list[uuid.UUID] = []
    gone_edits: list[uuid.UUID] = []
    kept = 0
    for item, ident in zip(batch, ids, strict=True):
        key = str(ident)
        if key not in current:
            continue  # already deleted (a resumed run) or not old enough: nothing to do
        same_row = current[key] == canonical(item["interaction"])
        same_edits = sorted(edits.get(key, [])) == sorted(canonical(x) for x in item["self_edits"])
        if same_row and same_edits:
            gone_ids.append(ident)
            gone_edits.extend(uuid.UUID(x["id"]) for x in item["self_edits"])
        else:
            kept += 1
    if gone_edits:
        conn.execute(sa.delete(t.self_edits).where(e.tenant_id == tenant_id, e.id.in_(gone_edits)))
    deleted = 0
    if gone_ids:
        result = conn.execute(
            sa.delete(t.interactions).where(i.tenant_id == tenant_id, i.id.in_(gone_ids), i.timestamp < limit)
        )
        deleted = int(result.rowcount or 0)
    return deleted, kept


def delete_archived(
    engine: Engine, tenant_id: str, manifest: ArchiveManifest, plain: Path, cutoff: datetime, uri: str
) -> tuple[int, int]:
    """Delete, in one transaction, TENANT_ID's rows that the verified archive PLAIN holds unchanged.

    Returns:
        (deleted, kept): interactions deleted, and archived ones left because they changed.
    """
    day = date.fromisoformat(manifest.day)
    limit = min(cutoff, utc(datetime.fromisoformat(manifest.cutoff)))
    start, end = day_bounds(day, limit)
    deleted = kept = 0
    # The job's tenant, never the manifest's word for it (check_manifest made them equal anyway).
    with tenant_transaction(engine, tenant_id) as conn:
        for batch in batched(read_items(plain)):
            ids = [check_item(item, tenant_id, start, end, uri) for item in batch]
            d, k = delete_batch(conn, tenant_id, batch, ids, end)
            deleted, kept = deleted + d, kept + k
    return deleted, kept


__all__ = ["check_item", "delete_archived", "delete_batch"]

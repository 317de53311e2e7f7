"""Step 1 of retention: one tenant's day of interactions, read in pages, written to a local archive file.

Each page (up to BATCH interactions in id order, with their self-edits) is read in its own short
read-only transaction and written to the file only after that transaction has ended. So no
transaction is open and no pooled connection is held while the archive is compressed, written,
uploaded or verified (security finding 7: on SQLite a transaction held across the archive made
every writer wait; on PostgreSQL it kept a pooled connection for as long).

The pages are not one snapshot. A row added to the day while the pages are read may or may not
be in the file, and an edit added to an interaction already written is not; the delete
(``memory.retention_delete``) compares every archived item with the current rows and deletes
only exact copies, so a row leaves the hot tables only together with an archive that holds it as
it is. Within a page, an interaction and its edits are read in the same transaction.
"""

from __future__ import annotations

import gzip
import hashlib
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from aion_assets.core.db import tenant_transaction
from aion_assets.memory import tables as t
from aion_assets.memory.archive_files import BATCH, encode_item, row_dict
from aion_assets.memory.models import utc


def next_day_with_data(engine: Engine, tenant_id: str, start: datetime | None, cutoff: datetime) -> date | None:
    """The first UTC day at or after START with an interaction of TENANT_ID dated before CUTOFF (None: none left)."""
    c = t.interactions.c
    query = sa.select(sa.func.min(c.timestamp)).where(c.tenant_id == tenant_id, c.timestamp < cutoff)
    if start is not None:
        query = query.where(c.timestamp >= start)
    with tenant_transaction(engine, tenant_id, read_only=True) as conn:
        first = conn.execute(query).scalar()
    return None if first is None else utc(first).date()


def read_page(
    conn: Connection, tenant_id: str, start: datetime, end: datetime, after: uuid.UUID | None, size: int
) -> list[dict[str, Any]]:
    """Up to SIZE interactions of [START, END) with ids after AFTER, each with its edits, in id order.

    Returns:
        One archive item per interaction: ``{"interaction": row, "self_edits": [rows by id]}``.
    """
    i, e = t.interactions.c, t.self_edits.c
    query = sa.select(t.interactions).where(i.tenant_id == tenant_id, i.timestamp >= start, i.timestamp < end)
    if after is not None:
        query = query.where(i.id > after)
    rows = conn.execute(query.order_by(i.id).limit(size)).all()
    items: list[dict[str, Any]] = [
        {"interaction": row_dict(r._mapping, t.interactions), "self_edits": []} for r in rows
    ]
    if not rows:
        return items
    by_id = {item["interaction"]["id"]: item for item in items}
    edits = conn.execute(
        sa.select(t.self_edits)
        .where(e.tenant_id == tenant_id, e.interaction_id.in_([r.id for r in rows]))
        .order_by(e.interaction_id, e.id)
    )
    for r in edits:
        by_id[str(r.interaction_id)]["self_edits"].append(row_dict(r._mapping, t.self_edits))
    return items


def write_day(
    engine: Engine, tenant_id: str, start: datetime, end: datetime, path: Path, *, page_size: int = BATCH
) -> tuple[int, int, str]:
    """Write TENANT_ID's interactions of [START, END) to PATH as a deterministic gzip archive.

    Every page is read in a short read-only transaction that has ended before its rows are
    written; equal rows give equal bytes (no gzip timestamp, canonical JSON lines in id order).

    Returns:
        (interactions, self-edits, sha256 of the interaction ids written, one per line).
    """
    ids_hash = hashlib.sha256()
    rows = edits = 0
    after: uuid.UUID | None = None
    with open(path, "wb") as fh, gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0) as gz:
        while True:
            with tenant_transaction(engine, tenant_id, read_only=True) as conn:
                page = read_page(conn, tenant_id, start, end, after, page_size)
            for item in page:
                gz.write(encode_item(item))
                ids_hash.update(item["interaction"]["id"].encode() + b"\n")
                rows += 1
                edits += len(item["self_edits"])
            if len(page) < page_size:
                break
            after = uuid.UUID(page[-1]["interaction"]["id"])
    return rows, edits, ids_hash.hexdigest()


__all__ = ["next_day_with_data", "read_page", "write_day"]

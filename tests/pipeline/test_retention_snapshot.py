"""Retention's read side (security finding 7): no transaction is open while an archive is written.

Protects: while retention writes a day's archive, it holds no pooled connection and no
transaction, so another tenant's ingestion on SQLite succeeds (not SQLITE_BUSY, not 503) and on
PostgreSQL no connection is taken from the pool; the day is read in pages that give the same
archive bytes whatever the page size; and rows added or changed while the pages are read are
neither lost nor half-archived (they stay whole in the hot tables and the next run archives them).
"""

from __future__ import annotations

import gzip
import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from aion_assets.core import db as core_db
from aion_assets.core.db import make_engine, tenant_transaction
from aion_assets.memory import retention_snapshot
from aion_assets.memory import tables as t
from aion_assets.memory.archive_format import day_bounds
from aion_assets.memory.models import EditorType, InteractionIn, SelfEditIn, Tenant
from aion_assets.memory.retention import archive_tenant
from aion_assets.memory.store import MemoryStore
from tests.pipeline.conftest import Backend, days_ago, seed, set_tenant


def _tenant(store: MemoryStore, tenant: str) -> Tenant:
    tenant_row = store.get_tenant(tenant)
    assert tenant_row is not None
    return tenant_row


def _count(engine: sa.Engine, tenant: str) -> tuple[int, int]:
    with tenant_transaction(engine, tenant, read_only=True) as conn:
        n_i = conn.execute(sa.select(sa.func.count()).where(t.interactions.c.tenant_id == tenant)).scalar()
        n_e = conn.execute(sa.select(sa.func.count()).where(t.self_edits.c.tenant_id == tenant)).scalar()
    return int(n_i or 0), int(n_e or 0)


def _while_writing(monkeypatch: pytest.MonkeyPatch, hook: Any) -> list[Any]:
    """Run HOOK once, when retention writes the first line of an archive file; returns HOOK's results."""
    real = retention_snapshot.encode_item
    results: list[Any] = []

    def encode_item(item: dict[str, Any]) -> bytes:
        if not results:
            results.append(hook())
        return real(item)

    monkeypatch.setattr(retention_snapshot, "encode_item", encode_item)
    return results


def test_other_tenants_ingest_while_the_archive_is_written(
    backend: Backend, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another tenant's POST /interactions, landing while retention writes an archive, is stored.

    Before the fix the day was written inside a transaction: on SQLite a write transaction made the
    insert wait for the busy timeout and fail with 503, and on both backends a pooled connection
    stayed checked out for as long as the archive took.
    """
    engine = backend.engine()
    store = MemoryStore(engine)
    artifacts = backend.artifact_store()
    seed(store, tenant, 3, timestamp=days_ago(40), approve=False)
    set_tenant(engine, tenant, retention_days=30)
    # The API process: its own engine; a short busy timeout turns a held write lock into an error
    # here rather than a 30 s wait (the assertion is on the outcome, never on the time).
    monkeypatch.setattr(core_db, "SQLITE_BUSY_TIMEOUT_S", 1)
    api_engine = make_engine(backend.database.url, pool_size=1)
    api_store = MemoryStore(api_engine)
    other = f"{tenant}-other"
    item = InteractionIn(
        agent_id="support-bot", user_id="u-1", input_text="Where is my order?", output_text="On its way."
    )

    def ingest() -> tuple[int, int]:
        checked_out = engine.pool.checkedout()  # type: ignore[attr-defined]
        _, created = api_store.add_interactions(other, [item])
        return checked_out, created

    seen = _while_writing(monkeypatch, ingest)
    (result,) = archive_tenant(engine, artifacts, _tenant(store, tenant))
    assert seen == [(0, 1)], "retention held a connection while writing, or the other tenant's insert failed"
    assert (result.manifest.rows, result.deleted, result.kept) == (3, 3, 0)
    assert _count(engine, tenant) == (0, 0)
    assert _count(engine, other) == (1, 0)
    api_engine.dispose()
    engine.dispose()


def test_changes_while_the_pages_are_read_are_neither_lost_nor_half_archived(
    backend: Backend, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edit on an interaction already written and a new row of the same day, both while writing."""
    engine = backend.engine()
    store = MemoryStore(engine)
    artifacts = backend.artifact_store()
    old = days_ago(40).replace(hour=12, minute=0, second=0, microsecond=0)
    ids = seed(store, tenant, 3, timestamp=old, approve=False)
    set_tenant(engine, tenant, retention_days=30)
    first_written = min(ids, key=str)  # pages go in id order: the first line written is this one

    def concurrent_api() -> tuple[uuid.UUID, uuid.UUID]:
        edit, _ = store.add_self_edit(
            tenant,
            SelfEditIn(interaction_id=first_written, editor_type=EditorType.human, edited_output="A late fix.",
                       reward_score=1.0),
        )
        (late,), _ = store.add_interactions(
            tenant,
            [InteractionIn(agent_id="support-bot", user_id="u-9", input_text="Late", output_text="Row",
                           timestamp=old + timedelta(minutes=1))],
        )
        return edit.id, late.id

    seen = _while_writing(monkeypatch, concurrent_api)
    results = archive_tenant(engine, artifacts, _tenant(store, tenant))
    ((late_edit, late_row),) = seen
    archived = {
        json.loads(line)["interaction"]["id"]
        for r in results
        for line in gzip.decompress(artifacts.get_bytes(r.manifest.key)).splitlines()
    }
    # The edited interaction stays whole with both edits; the late row is gone only if an archive holds it.
    i, e = t.interactions.c, t.self_edits.c
    with tenant_transaction(engine, tenant, read_only=True) as conn:
        left = {r.id for r in conn.execute(sa.select(i.id).where(i.tenant_id == tenant))}
        edits = {r.id for r in conn.execute(sa.select(e.id).where(e.interaction_id == first_written))}
    assert first_written in left and late_edit in edits and len(edits) == 2
    assert (late_row in left) != (str(late_row) in archived)
    assert sum(r.kept for r in results) == 1
    # The next run archives what stayed, as it is now.
    again = archive_tenant(engine, artifacts, _tenant(store, tenant))
    assert sum(r.deleted for r in again) == len(left)
    assert _count(engine, tenant) == (0, 0)
    engine.dispose()


def test_the_archive_bytes_do_not_depend_on_the_page_size(backend: Backend, tenant: str, tmp_path: Path) -> None:
    engine = backend.engine()
    store = MemoryStore(engine)
    old = days_ago(40).replace(hour=12, minute=0, second=0, microsecond=0)
    seed(store, tenant, 7, timestamp=old, approve=False)
    start, end = day_bounds(old.date(), days_ago(30))
    outcomes = {
        size: retention_snapshot.write_day(engine, tenant, start, end, tmp_path / f"{size}.gz", page_size=size)
        for size in (1, 3, 7, 500)
    }
    assert {counts for counts in outcomes.values()} == {outcomes[500]}
    assert outcomes[500][:2] == (7, 7)
    contents = {(tmp_path / f"{size}.gz").read_bytes() for size in outcomes}
    assert len(contents) == 1
    lines = [json.loads(x) for x in gzip.decompress(contents.pop()).splitlines()]
    assert [x["interaction"]["id"] for x in lines] == sorted(x["interaction"]["id"] for x in lines)
    assert all(len(x["self_edits"]) == 1 for x in lines)
    engine.dispose()

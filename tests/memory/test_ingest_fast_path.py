"""Protects: the single-row ingestion path on PostgreSQL (BEGIN, tenant, INSERT and COMMIT sent as
one pipeline, ``core.db.tenant_pipeline``) keeps every promise of the general path, on both
backends: the row is committed, a retry with the same id returns the row as first stored and
creates nothing, another tenant's id is a ConflictError that writes nothing; and a pipeline that
fails (a value the database refuses, an error in the block) commits nothing and hands back a
pooled connection that the next transaction can use (no open transaction, autocommit off)."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from aion_assets.core.db import make_engine, tenant_pipeline
from aion_assets.core.errors import ConflictError
from aion_assets.memory.models import InteractionIn
from aion_assets.memory.store import MemoryStore


@pytest.fixture
def engine(database):  # type: ignore[no-untyped-def]
    # One connection: whatever a failed request leaves on it, the next request gets.
    engine = make_engine(database.url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def one(text: str, row_id: uuid.UUID | None = None) -> list[InteractionIn]:
    return [InteractionIn(id=row_id, agent_id="a", input_text=text, output_text="o")]


def test_single_row_commit_replay_and_conflict_once_tenants_are_known(engine: sa.Engine, tenant: str) -> None:
    store, other = MemoryStore(engine), f"{tenant}-b"
    store.add_interactions(tenant, one("first"))  # the tenants' rows exist from here on: the fast path
    store.add_interactions(other, one("first"))
    row_id = uuid.uuid4()

    stored, created = store.add_interactions(tenant, one("q", row_id))
    assert created == 1 and stored[0].id == row_id
    # Committed: a fresh store (no cache) in another transaction reads it.
    assert MemoryStore(engine).get_interaction(tenant, row_id).input_text == "q"

    replayed, created = store.add_interactions(tenant, one("changed on retry", row_id))
    assert created == 0 and replayed[0].input_text == "q" and replayed[0].timestamp == stored[0].timestamp

    with pytest.raises(ConflictError, match=r"\[0\]\.id .* is already used"):
        store.add_interactions(other, one("steal", row_id))
    assert store.counts(other)["interactions"] == 1
    assert store.get_interaction(tenant, row_id).input_text == "q"
    assert store.counts(tenant)["interactions"] == 2


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_refused_value_commits_nothing_and_leaves_the_connection_clean(engine: sa.Engine, tenant: str) -> None:
    store = MemoryStore(engine)
    store.add_interactions(tenant, one("first"))
    # Past validation (which refuses NUL): the database itself refuses it, inside the pipeline.
    bad = InteractionIn.model_construct(
        id=uuid.uuid4(), tenant_id=None, agent_id="a", user_id=None, input_text="nul \x00 here", output_text="o",
        model_version=None, channel=None, timestamp=None, metadata={},
    )
    with pytest.raises(sa.exc.DataError):
        store.add_interactions(tenant, [bad])
    _, created = store.add_interactions(tenant, one("after"))
    assert created == 1 and store.counts(tenant)["interactions"] == 2
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None and raw.autocommit is False
        assert conn.execute(sa.text("SELECT current_setting('aion.tenant_id', true)")).scalar() in (None, "")


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_error_inside_the_block_commits_nothing(engine: sa.Engine, tenant: str) -> None:
    store = MemoryStore(engine)
    store.add_interactions(tenant, one("first"))
    row_id = uuid.uuid4()
    with pytest.raises(RuntimeError), tenant_pipeline(engine, tenant) as raw:
        raw.execute(
            "INSERT INTO aion_memory.interactions (id, tenant_id, agent_id, input_text, output_text, timestamp, "
            "metadata) VALUES (%s, %s, 'a', 'q', 'o', now(), '{}')",
            (row_id, tenant),
        )
        raise RuntimeError("the caller failed before COMMIT was queued")
    assert store.counts(tenant)["interactions"] == 1
    stored, created = store.add_interactions(tenant, one("q", row_id))
    assert created == 1 and stored[0].id == row_id

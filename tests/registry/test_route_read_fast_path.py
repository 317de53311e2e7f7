"""Protects: the route read behind ``GET /routes/{agent_id}`` (a gateway's hot path). On both backends it
returns the same Route as the general read path (``list_routes``, SQLAlchemy in a tenant transaction),
with and without a fallback, and another tenant's agent is not found. On PostgreSQL it is one round trip
(``BEGIN READ ONLY``, the tenant, the SELECT and COMMIT pipelined by ``core.db.tenant_pipeline``), row-level
security still scopes that transaction to the tenant, a write in a read-only pipeline is refused, and the
pooled connection comes back clean (no open transaction, autocommit off, no tenant left set)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from aion_assets.core import db
from aion_assets.core.db import make_engine, tenant_pipeline
from aion_assets.core.errors import NotFoundError
from aion_assets.registry.models import ModelVersion, RouteIn
from aion_assets.registry.rows import _pg_route_by_agent_sql
from aion_assets.registry.sql_store import SqlRegistryStore


def _route(store: SqlRegistryStore, tenant: str, agent: str, default: ModelVersion, fallback: ModelVersion | None,
           **policy: object) -> None:
    store.set_route(
        tenant,
        RouteIn(agent_id=agent, default_model_id=default.id, policy=dict(policy), expected_version=0,
                fallback_model_id=None if fallback is None else fallback.id),
        "admin",
    )


def test_route_read_matches_the_general_path(
    store: SqlRegistryStore, tenant: str, promoted: Callable[..., ModelVersion]
) -> None:
    old, new = promoted(adapter_uri="file:///adapters/old"), promoted(adapter_uri="file:///adapters/new")
    _route(store, tenant, "with-fallback", new, old, canary_percent=5, note="é")
    _route(store, tenant, "alone", old, None)
    listed = {r.agent_id: r for r in store.list_routes(tenant)}

    for agent in ("with-fallback", "alone"):
        assert store.get_route(tenant, agent) == listed[agent]
    read = store.get_route(tenant, "with-fallback")
    assert (read.default_adapter_uri, read.fallback_adapter_uri) == ("file:///adapters/new", "file:///adapters/old")
    assert read.policy == {"canary_percent": 5, "note": "é"} and read.updated_at.utcoffset() is not None
    assert store.get_route(tenant, "alone").fallback_model_name is None

    with pytest.raises(NotFoundError, match="no route for agent nobody"):
        store.get_route(tenant, "nobody")
    with pytest.raises(NotFoundError):
        store.get_route(f"{tenant}-other", "with-fallback")


@pytest.fixture
def one_connection(database) -> Iterator[sa.Engine]:  # type: ignore[no-untyped-def]
    """An engine of one pooled connection, so that the connection a test traces is the one the store uses."""
    engine = make_engine(database.url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def _traced(engine: sa.Engine, trace: Path, call: Callable[[], object]) -> list[str]:
    """The protocol messages (libpq trace) CALL exchanges over ENGINE's one pooled connection."""
    with engine.connect() as conn:
        pgconn = conn.connection.driver_connection.pgconn  # type: ignore[union-attr]
    with trace.open("wb") as sink:
        pgconn.trace(sink.fileno())
        pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE)
        try:
            call()
        finally:
            pgconn.untrace()
    return trace.read_text().splitlines()


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_postgres_route_read_is_one_round_trip_under_rls(
    one_connection: sa.Engine, tenant: str, promoted: Callable[..., ModelVersion], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No idle ping at checkout: it would be a round trip of its own on a slow machine.
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 3600.0)
    store = SqlRegistryStore(one_connection)
    _route(store, tenant, "bot", promoted(), None)
    store.get_route(tenant, "bot")  # the SELECT is prepared on this connection from here on

    messages = _traced(one_connection, tmp_path / "trace", lambda: store.get_route(tenant, "bot"))
    # A trace line is "F|B <tab> length <tab> message type <tab> fields".
    kinds = [tuple(m.split("\t")[:3:2]) for m in messages if m[:2] in ("F\t", "B\t")]
    sent = [name for side, name in kinds if side == "F"]
    # Every Sync (or simple Query) is answered by one ReadyForQuery: the client waited once.
    assert kinds.count(("B", "ReadyForQuery")) == 1, messages
    assert sent.count("Execute") == 4 and sent.count("Sync") == 1 and "Query" not in sent, sent
    assert any("BEGIN READ ONLY" in m for m in messages) and any("COMMIT" in m for m in messages)

    # RLS: the same SELECT without the tenant filter, in the pipeline of another tenant, sees nothing.
    unfiltered = _pg_route_by_agent_sql().replace("aion_registry.routes.tenant_id = %(tenant_id)s::VARCHAR AND ", "")
    assert unfiltered != _pg_route_by_agent_sql()
    seen = {}
    for who in (tenant, f"{tenant}-other"):
        with tenant_pipeline(one_connection, who, read_only=True) as raw:
            cur = raw.cursor()
            cur.execute(unfiltered, {"agent_id": "bot"})
        with cur:
            seen[who] = len(cur.fetchall())
    assert seen == {tenant: 1, f"{tenant}-other": 0}


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_read_only_pipeline_refuses_a_write_and_leaves_the_connection_clean(
    one_connection: sa.Engine, tenant: str, promoted: Callable[..., ModelVersion]
) -> None:
    store = SqlRegistryStore(one_connection)
    version = promoted()
    with pytest.raises(sa.exc.DBAPIError, match="read-only transaction"), \
            tenant_pipeline(one_connection, tenant, read_only=True) as raw:
        raw.execute("UPDATE aion_registry.models SET description = 'x' WHERE id = %s", (version.id,))
    assert store.get_version(tenant, version.id).description == version.description
    with one_connection.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None and raw.autocommit is False and not raw.read_only
        assert conn.execute(sa.text("SELECT current_setting('aion.tenant_id', true)")).scalar() in (None, "")
    _route(store, tenant, "after", version, None)  # a write transaction on the same connection still works
    assert store.get_route(tenant, "after").default_model_id == version.id

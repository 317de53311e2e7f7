"""Protects: the API's route read cache (``registry/route_reads.py``, migration 0006's NOTIFY trigger).

On the machine's PostgreSQL: a read is answered from memory once the tenant is loaded, with the same
JSON as the database read; every route change, whoever makes it (this API, another connection's store
write, an operator's SQL as the owner, a delete), reaches the cache through NOTIFY and the next read is
current; a load that raced with a change is not kept; a write through the API is read back at once on the
same worker; tenants stay apart; a tenant beyond the cap is read from the database; when the listener's
connection is killed, reads go to the database (still current) until it reconnects, and nothing learned
before the outage is served after it. On SQLite the cache is off and the endpoint answers as before.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from aion_assets.core.db import TENANT_GUC, make_engine
from aion_assets.core.errors import NotFoundError
from aion_assets.registry.models import ModelVersion, Route, RouteIn
from aion_assets.registry.route_reads import APPLICATION_NAME, MISS, RouteReads
from aion_assets.registry.sql_store import SqlRegistryStore
from tests.conftest import PG_SUPERUSER, _pg_url
from tests.registry.conftest import build_app


@pytest.fixture
def pg_store(pg_database: Any) -> Iterator[SqlRegistryStore]:
    engine = make_engine(pg_database.url, pool_size=4)
    yield SqlRegistryStore(engine)
    engine.dispose()


@pytest.fixture
def reads(pg_store: SqlRegistryStore) -> Iterator[RouteReads]:
    cache = RouteReads(pg_store, pg_store.engine, reconnect_seconds=0.2)
    cache.start()
    assert cache.live, "the listener did not connect"
    yield cache
    cache.stop()


@pytest.fixture
def versions(pg_store: SqlRegistryStore) -> Callable[[str], tuple[ModelVersion, ModelVersion]]:
    from aion_assets.registry.models import ModelStatus
    from tests.registry.conftest import version_in

    def _make(tenant: str) -> tuple[ModelVersion, ModelVersion]:
        made = [pg_store.register_version(tenant, version_in(status=ModelStatus.promoted), "pipeline")[0]
                for _ in range(2)]
        return made[0], made[1]

    return _make


def _set(store: SqlRegistryStore, tenant: str, agent: str, default: ModelVersion, fallback: ModelVersion | None,
         expected: int) -> Route:
    route = RouteIn(agent_id=agent, default_model_id=default.id, expected_version=expected,
                    fallback_model_id=None if fallback is None else fallback.id)
    return store.set_route(tenant, route, "admin")


def _read(cache: RouteReads, tenant: str, agent: str) -> dict[str, Any] | None:
    """What GET /routes/{agent} would answer: memory first, the database on a miss (None = 404)."""
    found = cache.cached(tenant, agent)
    if found is None:
        return None
    if found is MISS:
        try:
            found = cache.read(tenant, agent)
        except NotFoundError:
            return None
    assert isinstance(found, bytes)
    return json.loads(found)  # type: ignore[no-any-return]


def _eventually(check: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the change did not reach the cache"
        time.sleep(0.01)


def _settle(cache: RouteReads, database: Any) -> None:
    """Wait until the notifications of every write committed so far have reached CACHE.

    PostgreSQL delivers notifications in commit order: a marker sent now arrives after them.
    """
    marker = _tenant()
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute("SELECT pg_notify('aion_registry_routes', %s)", (f"{marker}/sync",))
    _eventually(lambda: cache._generation.get(marker, 0) > 0)


def _tenant() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def test_hits_are_served_from_memory_with_the_database_json(
    reads: RouteReads, pg_store: SqlRegistryStore, pg_database: Any, versions: Callable[..., Any]
) -> None:
    tenant = _tenant()
    old, new = versions(tenant)
    _set(pg_store, tenant, "chat", new, old, 0)
    _set(pg_store, tenant, "mail", old, None, 0)
    _settle(reads, pg_database)

    assert reads.cached(tenant, "chat") is MISS  # nothing loaded yet
    first = _read(reads, tenant, "chat")
    hits = reads.counts["hit"]
    for agent in ("chat", "mail"):
        served = reads.cached(tenant, agent)
        assert isinstance(served, bytes)
        assert json.loads(served) == json.loads(pg_store.get_route(tenant, agent).model_dump_json())
    assert reads.counts["hit"] == hits + 2
    assert first is not None and first["fallback_model_id"] == str(old.id)
    assert reads.cached(tenant, "nobody") is None  # the tenant's table is complete: a 404 from memory


def test_changes_by_any_writer_reach_the_cache(
    reads: RouteReads, pg_store: SqlRegistryStore, pg_database: Any, versions: Callable[..., Any]
) -> None:
    tenant = _tenant()
    old, new = versions(tenant)
    _set(pg_store, tenant, "chat", old, None, 0)
    assert _read(reads, tenant, "chat")["version"] == 1  # type: ignore[index]
    assert _read(reads, tenant, "late") is None

    # Another connection's store (as another worker or the route_table asset would write).
    other = SqlRegistryStore(make_engine(pg_database.url, pool_size=1))
    try:
        _set(other, tenant, "chat", new, old, 1)
        _set(other, tenant, "late", new, None, 0)
    finally:
        other.engine.dispose()
    _eventually(lambda: (_read(reads, tenant, "chat") or {}).get("version") == 2)
    assert _read(reads, tenant, "chat")["default_model_id"] == str(new.id)  # type: ignore[index]
    _eventually(lambda: _read(reads, tenant, "late") is not None)  # its own notification, delivered after chat's
    _settle(reads, pg_database)
    _read(reads, tenant, "chat")
    assert reads.live and isinstance(reads.cached(tenant, "chat"), bytes)  # served from memory again

    # An operator's SQL as the owner, bypassing the store: the trigger still announces it.
    with psycopg.connect(pg_database.admin_url, autocommit=True) as owner:
        owner.execute("SELECT set_config(%s, %s, false)", (TENANT_GUC, tenant))  # RLS is forced on the owner too
        owner.execute("UPDATE aion_registry.routes SET policy_json = '{\"canary\": 1}' WHERE tenant_id = %s "
                      "AND agent_id = 'chat'", (tenant,))
        owner.execute("DELETE FROM aion_registry.routes WHERE tenant_id = %s AND agent_id = 'late'", (tenant,))
    _eventually(lambda: (_read(reads, tenant, "chat") or {}).get("policy") == {"canary": 1})
    _eventually(lambda: _read(reads, tenant, "late") is None)


def test_a_load_that_raced_with_a_change_is_not_kept(
    pg_store: SqlRegistryStore, versions: Callable[..., Any]
) -> None:
    tenant = _tenant()
    old, new = versions(tenant)
    _set(pg_store, tenant, "chat", old, None, 0)

    class RacingStore(SqlRegistryStore):
        """The real store; a change is announced while the tenant's routes are being loaded."""

        raced = False

        def list_routes(self, tenant_id: str) -> list[Route]:
            listed = super().list_routes(tenant_id)
            if not RacingStore.raced:
                RacingStore.raced = True
                _set(pg_store, tenant_id, "chat", new, old, 1)
                cache.forget(tenant_id, "chat")  # what its notification does, deterministically before the load ends
            return listed

    cache = RouteReads(RacingStore(pg_store.engine), pg_store.engine)
    cache.start()
    try:
        assert _read(cache, tenant, "chat")["version"] == 1  # type: ignore[index]  # read during the request
        assert cache.cached(tenant, "chat") is MISS  # but not kept: the next read goes to the database
        assert _read(cache, tenant, "chat")["version"] == 2  # type: ignore[index]
    finally:
        cache.stop()


def test_tenants_stay_apart_and_the_cap_holds(
    pg_store: SqlRegistryStore, versions: Callable[..., Any]
) -> None:
    a, b = _tenant(), _tenant()
    va, vb = versions(a), versions(b)
    _set(pg_store, a, "chat", va[0], None, 0)
    _set(pg_store, a, "mail", va[0], None, 0)
    _set(pg_store, b, "voice", vb[0], None, 0)
    cache = RouteReads(pg_store, pg_store.engine, max_routes=1)  # b fits, a does not
    cache.start()
    try:
        assert _read(cache, b, "voice") is not None and _read(cache, b, "chat") is None
        assert _read(cache, a, "voice") is None  # b's agent is not a's
        assert _read(cache, a, "chat") is not None
        assert cache.cached(a, "chat") is MISS  # over the cap: read from the database every time
        assert isinstance(cache.cached(b, "voice"), bytes)
    finally:
        cache.stop()


def test_listener_outage_reads_the_database_and_forgets(
    reads: RouteReads, pg_store: SqlRegistryStore, pg_database: Any, versions: Callable[..., Any]
) -> None:
    tenant = _tenant()
    old, new = versions(tenant)
    _set(pg_store, tenant, "chat", old, None, 0)
    _settle(reads, pg_database)
    _read(reads, tenant, "chat")
    assert isinstance(reads.cached(tenant, "chat"), bytes)

    dbname = pg_database.url.rsplit("/", 1)[1]
    with psycopg.connect(_pg_url(PG_SUPERUSER, "postgres"), autocommit=True) as admin:
        killed = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
            (dbname, APPLICATION_NAME),
        ).fetchall()
    assert killed, "no listener connection found"
    _eventually(lambda: not reads.live)
    _set(pg_store, tenant, "chat", new, old, 1)  # while nobody listens: this notification is lost
    assert _read(reads, tenant, "chat")["version"] == 2  # type: ignore[index]  # bypass: from the database
    _eventually(lambda: reads.live)
    assert reads.cached(tenant, "chat") is MISS  # emptied on reconnect: nothing from before the outage
    assert _read(reads, tenant, "chat")["version"] == 2  # type: ignore[index]


def test_api_reads_its_own_writes_at_once(
    pg_database: Any, pg_store: SqlRegistryStore, versions: Callable[..., Any],
    headers: Callable[..., dict[str, str]],
) -> None:
    tenant = _tenant()
    old, new = versions(tenant)
    with TestClient(build_app(pg_database.url, route_read_cache=True)) as client:
        admin = headers(tenant, "admin")
        body = {"tenant_id": tenant, "agent_id": "chat", "default_model_id": str(old.id), "expected_version": 0}
        assert client.post("/routes", json=body, headers=admin).status_code == 200
        assert client.get("/routes/chat", headers=admin).json()["version"] == 1
        assert client.get("/routes/chat", headers=headers(_tenant(), "reader")).status_code == 404
        body |= {"default_model_id": str(new.id), "fallback_model_id": str(old.id), "expected_version": 1}
        for expected in (2, 3):
            if expected == 2:
                assert client.post("/routes", json=body, headers=admin).status_code == 200
            else:
                assert client.post("/routes/chat/rollback", headers=admin).status_code == 200
            got = client.get("/routes/chat", headers=headers(tenant, "reader"))
            assert got.status_code == 200 and got.json()["version"] == expected  # no wait: this worker forgot it
        assert client.get("/routes/nobody", headers=admin).json()["error"] == "not_found"
        assert client.app.state.route_reads.counts["hit"] >= 1  # type: ignore[attr-defined]


def test_sqlite_has_no_cache(sqlite_database: Any, headers: Callable[..., dict[str, str]]) -> None:
    with TestClient(build_app(sqlite_database.url, route_read_cache=True)) as client:
        assert client.app.state.route_reads is None  # type: ignore[attr-defined]
        assert client.get("/routes/nobody", headers=headers(_tenant(), "reader")).status_code == 404

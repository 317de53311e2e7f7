"""Protects: the gateways' RouteClient against a real registry API: it resolves from memory and follows
route changes (on demand and in the background); with the API stopped or its database down it keeps
answering from the last good table; a gateway restarted during the outage resolves from the persisted
file; a corrupt file is ignored, never fatal; an unknown agent gets the configured default or a clear
error; resolve() never waits on a refresh stuck on the network (API stopped, its port hung); stats() and the
Prometheus gauges (table age, routes, failed refreshes) per client name; the refresh interval is validated and a
change applies at once."""

from __future__ import annotations

import contextlib
import json
import math
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

from aion_assets.app import create_app
from aion_assets.core.auth import TokenVerifier
from aion_assets.core.db import make_engine
from aion_assets.core.serve import free_port, serve_in_thread
from aion_assets.registry.client import RouteClient, UnknownRouteError
from tests.registry.conftest import SECRET, build_app, version_in

Headers = Callable[..., dict[str, str]]


class Registry:
    """A served registry API and an admin HTTP client of one tenant."""

    def __init__(self, base: str, admin: dict[str, str], reviewer: dict[str, str]) -> None:
        self.base = base
        self.http = httpx.Client(base_url=base, headers=admin, timeout=30)
        self.reviewer = reviewer

    def promoted(self) -> dict[str, Any]:
        """A version registered for approval and approved by a second principal."""
        body = version_in(status="pending_approval").model_dump(mode="json", exclude_none=True)
        r = self.http.post("/models", json=body)
        assert r.status_code == 201, r.text
        r = self.http.post(f"/models/{r.json()['id']}/approve", headers=self.reviewer)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def set_route(self, agent: str, model: dict[str, Any], expected: int, fallback: dict[str, Any] | None = None
                  ) -> dict[str, Any]:
        r = self.http.post("/routes", json={"agent_id": agent, "default_model_id": model["id"],
                                            "fallback_model_id": fallback["id"] if fallback else None,
                                            "expected_version": expected})
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


@pytest.fixture
def registry(database, headers: Headers, tenant: str) -> Iterator[Registry]:  # type: ignore[no-untyped-def]
    with serve_in_thread(build_app(database.url)) as base:
        reg = Registry(base, headers(tenant, "admin", subject="alice"), headers(tenant, "reviewer", subject="bob"))
        yield reg
        reg.http.close()


def token(make_token: Callable[..., str], tenant: str) -> str:
    return make_token(tenant, "writer")


def test_resolves_from_memory_and_follows_changes(
    registry: Registry, make_token: Callable[..., str], tenant: str, tmp_path: Path
) -> None:
    v1, v2 = registry.promoted(), registry.promoted()
    registry.set_route("bot", v1, 0)
    with RouteClient(registry.base, token(make_token, tenant), cache_path=tmp_path / "routes.json",
                     refresh_interval=3600) as routes:
        hit = routes.resolve(tenant, "bot")
        assert (hit.model_name, hit.model_id, hit.adapter_uri, hit.version) == (
            v1["name"], v1["id"], v1["adapter_uri"], 1
        )
        assert 0 <= routes.age_seconds < 3600 and routes.last_error is None
        registry.set_route("bot", v2, 1, fallback=v1)
        assert routes.resolve(tenant, "bot").version == 1  # nothing changes until a refresh
        assert routes.refresh() is True
        hit = routes.resolve(tenant, "bot")
        assert (hit.model_name, hit.fallback_model_name, hit.version) == (v2["name"], v1["name"], 2)
        with pytest.raises(UnknownRouteError, match="no route for agent 'ghost'"):
            routes.resolve(tenant, "ghost")
        with pytest.raises(UnknownRouteError, match="no route table for tenant"):
            routes.resolve("another-tenant", "bot")
    persisted = json.loads((tmp_path / "routes.json").read_text())
    assert persisted["tenants"][tenant]["routes"][0]["version"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["routes.json"]  # no temporary file left behind


def test_unknown_agent_gets_the_configured_default(
    registry: Registry, make_token: Callable[..., str], tenant: str
) -> None:
    with RouteClient(registry.base, token(make_token, tenant), default_model="aion-base") as routes:
        hit = routes.resolve(tenant, "ghost")
        assert hit.from_default and hit.model_name == "aion-base" and hit.model_id is None


def test_background_refresh_picks_up_a_route_change(
    registry: Registry, make_token: Callable[..., str], tenant: str
) -> None:
    v1, v2 = registry.promoted(), registry.promoted()
    registry.set_route("bot", v1, 0)
    with RouteClient(registry.base, token(make_token, tenant), refresh_interval=0.05) as routes:
        assert routes.resolve(tenant, "bot").model_id == v1["id"]
        registry.set_route("bot", v2, 1)
        deadline = time.monotonic() + 30
        while routes.resolve(tenant, "bot").model_id != v2["id"]:
            assert time.monotonic() < deadline, "the background refresh never picked up the change"
            time.sleep(0.02)


def test_api_stopped_keeps_resolving_and_a_restart_resolves_from_disk(
    database, headers: Headers, make_token: Callable[..., str], tenant: str, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    cache = tmp_path / "gateway" / "routes.json"
    with serve_in_thread(build_app(database.url)) as base:
        reg = Registry(base, headers(tenant, "admin", subject="alice"), headers(tenant, "reviewer", subject="bob"))
        old, new = reg.promoted(), reg.promoted()
        reg.set_route("bot", new, 0, fallback=old)
        reg.set_route("helper", old, 0)
        reg.http.close()
        routes = RouteClient(base, token(make_token, tenant), cache_path=cache, refresh_interval=3600).start()
        assert routes.resolve(tenant, "bot").model_id == new["id"]
    try:
        # The API is stopped now: refreshes fail, answers keep coming from memory.
        assert routes.refresh() is False and routes.last_error is not None
        for _ in range(1000):
            assert routes.resolve(tenant, "bot").model_id == new["id"]
        assert routes.resolve(tenant, "helper").model_id == old["id"]
    finally:
        routes.close()
    # The gateway restarts while the registry is still down: the persisted table answers.
    with RouteClient(base, token(make_token, tenant), cache_path=cache, refresh_interval=3600) as restarted:
        assert restarted.loaded_from_disk and restarted.last_error is not None
        hit = restarted.resolve(tenant, "bot")
        assert (hit.model_id, hit.fallback_model_name, hit.version) == (new["id"], old["name"], 1)
        assert restarted.age_seconds >= 0


def test_database_down_keeps_the_last_good_table(
    registry: Registry, make_token: Callable[..., str], tenant: str, tmp_path: Path
) -> None:
    v1 = registry.promoted()
    registry.set_route("bot", v1, 0)
    cache = tmp_path / "routes.json"
    with RouteClient(registry.base, token(make_token, tenant), cache_path=cache, refresh_interval=3600) as routes:
        assert routes.resolve(tenant, "bot").model_id == v1["id"]
    saved = cache.read_bytes()
    # A registry whose database cannot be reached answers 503 to every read.
    down = create_app(make_engine("postgresql://nobody@127.0.0.1:1/none", pool_size=1), TokenVerifier(SECRET),
                      check_schema=False)
    with serve_in_thread(down) as base:
        assert httpx.get(f"{base}/routes", headers={"Authorization": f"Bearer {token(make_token, tenant)}"}
                         ).status_code == 503
        with RouteClient(base, token(make_token, tenant), cache_path=cache, refresh_interval=3600) as routes:
            assert routes.refresh() is False and "503" in (routes.last_error or "")
            assert routes.resolve(tenant, "bot").model_id == v1["id"]
        assert cache.read_bytes() == saved  # a failed refresh never overwrites the good file
        with RouteClient(base, token(make_token, tenant), refresh_interval=3600) as cold:
            with pytest.raises(UnknownRouteError, match="503"):
                cold.resolve(tenant, "bot")


def test_corrupt_cache_file_is_ignored_then_replaced(
    registry: Registry, make_token: Callable[..., str], tenant: str, tmp_path: Path
) -> None:
    v1 = registry.promoted()
    registry.set_route("bot", v1, 0)
    cache = tmp_path / "routes.json"
    cache.write_text('{"format": 1, "tenants": {"' + tenant + '": {"fetched_at": "soon"')
    with RouteClient("http://127.0.0.1:1", token(make_token, tenant), cache_path=cache) as offline:
        assert not offline.loaded_from_disk
        with pytest.raises(UnknownRouteError):
            offline.resolve(tenant, "bot")
    with RouteClient(registry.base, token(make_token, tenant), cache_path=cache) as online:
        assert online.resolve(tenant, "bot").model_id == v1["id"]
    assert json.loads(cache.read_text())["tenants"][tenant]["routes"][0]["agent_id"] == "bot"


def test_one_client_serves_several_tenants_each_with_its_token(
    registry: Registry, headers: Headers, make_token: Callable[..., str], tenant: str, database  # type: ignore[no-untyped-def]
) -> None:
    other = "o-" + uuid.uuid4().hex[:8]
    mine = registry.promoted()
    registry.set_route("bot", mine, 0)
    theirs_reg = Registry(
        registry.base, headers(other, "admin", subject="alice"), headers(other, "reviewer", subject="bob")
    )
    theirs = theirs_reg.promoted()
    theirs_reg.set_route("bot", theirs, 0)
    theirs_reg.http.close()
    with RouteClient(registry.base, [token(make_token, tenant), token(make_token, other)]) as routes:
        assert routes.resolve(tenant, "bot").model_id == mine["id"]
        assert routes.resolve(other, "bot").model_id == theirs["id"]
        assert {(r.tenant_id, r.agent_id) for r in routes.routes()} == {(tenant, "bot"), (other, "bot")}


@contextlib.contextmanager
def hung_registry(port: int) -> Iterator[None]:
    """A registry host that is up but hangs: PORT accepts TCP connections and never answers.

    Connections wait in the listen backlog unanswered; closing the socket resets them.
    """
    with socket.socket() as hole:
        hole.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        hole.bind(("127.0.0.1", port))
        hole.listen(16)
        yield


def test_resolve_never_waits_on_the_network_after_warm_up(
    database, headers: Headers, make_token: Callable[..., str], tenant: str  # type: ignore[no-untyped-def]
) -> None:
    """Warm-up over HTTP, then the API stops and its port hangs: a refresh stuck on the network (a 120 s
    timeout) does not hold up resolve(), which answers from memory while that refresh is still in flight."""
    port = free_port()
    metrics = CollectorRegistry()
    with serve_in_thread(build_app(database.url), port=port) as base:
        reg = Registry(base, headers(tenant, "admin", subject="alice"), headers(tenant, "reviewer", subject="bob"))
        v1 = reg.promoted()
        reg.set_route("bot", v1, 0)
        reg.http.close()
        routes = RouteClient(base, token(make_token, tenant), refresh_interval=3600, timeout=120,
                             metrics_registry=metrics).start()
        assert routes.resolve(tenant, "bot").model_id == v1["id"]
    try:
        with hung_registry(port):
            routes.refresh_interval = 0.01  # the background refresher goes to the hung port now
            deadline = time.monotonic() + 30
            while not routes.stats().refreshing:
                assert time.monotonic() < deadline, "the background refresh never started"
                time.sleep(0.01)
            finished = routes.stats().refreshes
            for _ in range(10_000):
                assert routes.resolve(tenant, "bot").model_id == v1["id"]
            # Still the same refresh in flight: no resolve() waited for it to end.
            assert routes.stats().refreshing and routes.stats().refreshes == finished
            assert routes.stats().routes == 1 and routes.age_seconds < math.inf
            assert metrics.get_sample_value("aion_route_table_routes", {"client": "default"}) == 1
    finally:
        routes.close()


def test_stats_and_prometheus_gauges(
    registry: Registry, make_token: Callable[..., str], tenant: str
) -> None:
    v1 = registry.promoted()
    registry.set_route("bot", v1, 0)
    registry.set_route("helper", v1, 0)
    metrics = CollectorRegistry()
    sample = metrics.get_sample_value
    client = RouteClient(registry.base, token(make_token, tenant), refresh_interval=3600, name="gw-1",
                         metrics_registry=metrics)
    assert sample("aion_route_table_age_seconds", {"client": "gw-1"}) is None  # nothing exported before start
    with client as routes:
        stats = routes.stats()
        assert (stats.routes, stats.tenants, stats.tenants_with_table, stats.refreshes, stats.refresh_failures) == (
            2, 1, 1, 1, 0
        )
        assert stats.last_error is None and stats.last_success_at is not None and not stats.refreshing
        assert stats.refresh_interval == 3600 and set(stats.tenant_age_seconds) == {tenant}
        age = sample("aion_route_table_age_seconds", {"client": "gw-1"})
        assert age is not None and 0 <= age < 3600
        assert sample("aion_route_table_routes", {"client": "gw-1"}) == 2
        assert sample("aion_route_refresh_failures", {"client": "gw-1"}) == 0
        assert 'aion_route_table_age_seconds{client="gw-1"}' in generate_latest(metrics).decode()
        same_name = RouteClient(registry.base, token(make_token, tenant), name="gw-1", metrics_registry=metrics)
        with pytest.raises(ValueError, match="gw-1"):
            same_name.start()
        same_name.close()
        with RouteClient(registry.base, token(make_token, tenant), name="gw-2", metrics_registry=metrics):
            assert sample("aion_route_table_routes", {"client": "gw-2"}) == 2
        assert sample("aion_route_table_routes", {"client": "gw-2"}) is None  # withdrawn at close
    with RouteClient("http://127.0.0.1:1", token(make_token, tenant), name="cold", metrics_registry=metrics) as cold:
        assert sample("aion_route_table_age_seconds", {"client": "cold"}) == math.inf
        assert sample("aion_route_refresh_failures", {"client": "cold"}) == 1
        stats = cold.stats()
        assert stats.refresh_failures == 1 and stats.last_success_at is None and stats.last_error
    # Without a registry given, the process-wide default one (what /metrics endpoints usually serve).
    with RouteClient(registry.base, token(make_token, tenant), name=f"default-{tenant}"):
        assert REGISTRY.get_sample_value("aion_route_table_routes", {"client": f"default-{tenant}"}) == 2


def test_refresh_interval_is_validated_and_a_change_applies_at_once(
    registry: Registry, make_token: Callable[..., str], tenant: str
) -> None:
    for bad in (0, -1, math.inf, math.nan):
        with pytest.raises(ValueError, match="refresh_interval"):
            RouteClient(registry.base, token(make_token, tenant), refresh_interval=bad)
    v1, v2 = registry.promoted(), registry.promoted()
    registry.set_route("bot", v1, 0)
    with RouteClient(registry.base, token(make_token, tenant), refresh_interval=3600) as routes:
        registry.set_route("bot", v2, 1)
        with pytest.raises(ValueError):
            routes.refresh_interval = 0
        routes.refresh_interval = 0.05  # without this the next refresh is an hour away
        assert routes.stats().refresh_interval == 0.05
        deadline = time.monotonic() + 30
        while routes.resolve(tenant, "bot").model_id != v2["id"]:
            assert time.monotonic() < deadline, "the new interval was not applied"
            time.sleep(0.02)

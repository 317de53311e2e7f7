"""Protects: gateways keep routing while the registry's database is down, on a private PostgreSQL cluster.

The registry API runs as the application role (RLS on) over a private cluster (never the machine's
server). A RouteClient warms up; then the cluster is stopped: the API answers 503 (never 500) to route
and model reads and to a rollback, the client records the failed refresh (``last_error``, ``stats()``)
and keeps resolving from its in-memory table; a gateway started during the outage resolves from the
table persisted on disk. Once the cluster is back, a route change made through the API reaches the
running client by its background refresh, and the failure is cleared.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from aion_assets.app import create_app
from aion_assets.core.auth import TokenVerifier
from aion_assets.core.db import make_engine
from aion_assets.core.migrate import upgrade
from aion_assets.core.serve import serve_in_thread
from aion_assets.registry.client import RouteClient
from tests.registry.conftest import SECRET
from tests.registry.test_client import Registry
from tests.support.private_pg import private_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
TENANT = "acme"
#: Upper bound on waiting for the background refresh (it runs every REFRESH seconds); not a speed check.
PATIENCE_S = 60
REFRESH = 0.2


def _retry_503(call: Callable[[], httpx.Response]) -> httpx.Response:
    # Right after the restart a pooled connection that died with the old server fails its one request
    # with 503 (core.db's liveness window); a client retries, as gateways and operators do.
    deadline = time.monotonic() + PATIENCE_S
    while True:
        response = call()
        if response.status_code != 503 or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_database_stopped_the_client_keeps_routing_then_follows_again(
    tmp_path: Path, headers: Callable[..., dict[str, str]], make_token: Callable[..., str]
) -> None:
    with private_postgres(tmp_path) as pg:
        import psycopg

        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE aion")
        app_url = pg.url_for("aion", user="aion_app")
        upgrade(pg.url_for("aion"), app_url)
        engine = make_engine(app_url, pool_size=4)
        token = make_token(TENANT, "writer")
        cache = tmp_path / "gateway" / "routes.json"
        with serve_in_thread(create_app(engine, TokenVerifier(SECRET))) as base:
            reg = Registry(base, headers(TENANT, "admin", subject="alice"), headers(TENANT, "reviewer", subject="bob"))
            old, new = reg.promoted(), reg.promoted()
            reg.set_route("bot", new, 0, fallback=old)
            routes = RouteClient(base, token, cache_path=cache, refresh_interval=REFRESH, name="warm",
                                 metrics_registry=CollectorRegistry()).start()
            try:
                assert routes.last_error is None and routes.resolve(TENANT, "bot").model_id == new["id"]

                pg.stop()
                for method, path in (("GET", "/routes"), ("GET", "/routes/bot"), ("GET", "/models"),
                                     ("GET", f"/models/{new['id']}"), ("POST", "/routes/bot/rollback")):
                    r = reg.http.request(method, path)
                    assert r.status_code == 503, (method, path, r.status_code, r.text)
                    assert r.json()["error"] == "unavailable"
                assert routes.refresh() is False
                assert "HTTP 503" in (routes.last_error or "")
                stats = routes.stats()
                assert stats.refresh_failures >= 1 and stats.last_error is not None
                for _ in range(1000):
                    hit = routes.resolve(TENANT, "bot")
                    assert (hit.model_id, hit.fallback_model_name) == (new["id"], old["name"])

                # A gateway (re)started during the outage: the persisted table answers.
                with RouteClient(base, token, cache_path=cache, refresh_interval=3600, name="cold",
                                 metrics_registry=CollectorRegistry()) as restarted:
                    assert restarted.loaded_from_disk and "HTTP 503" in (restarted.last_error or "")
                    hit = restarted.resolve(TENANT, "bot")
                    assert (hit.model_id, hit.fallback_model_name, hit.version) == (new["id"], old["name"], 1)

                pg.start()
                rolled = _retry_503(lambda: reg.http.post("/routes/bot/rollback", json={"reason": "db back"}))
                assert rolled.status_code == 200, rolled.text
                # No refresh() here: the running client's background refresh picks the change up.
                deadline = time.monotonic() + PATIENCE_S
                while routes.resolve(TENANT, "bot").version != 2 and time.monotonic() < deadline:
                    time.sleep(REFRESH)
                hit = routes.resolve(TENANT, "bot")
                assert (hit.model_id, hit.fallback_model_name, hit.version) == (old["id"], None, 2)
                while routes.last_error is not None and time.monotonic() < deadline:
                    time.sleep(REFRESH)
                assert routes.last_error is None and routes.stats().last_success_at is not None
            finally:
                routes.close()
                reg.http.close()
        engine.dispose()

"""Route lookups: ``RouteClient.resolve()`` in process and ``GET /routes/{agent_id}`` over HTTP under wrk.

One fresh database on the machine's PostgreSQL, 10,000 routes of one tenant written through the
registry store as the non-owner application role (under RLS), then:
  - ``aion api`` started as a new user starts it (its defaults: one worker per CPU, the default
    pool; connected as the application role); wrk with 8 connections on
    ``GET /routes/agent-<random of 10,000>`` and, as baselines of the same run, on
    ``GET /metrics`` (no token, no database: the HTTP stack's floor) and ``GET /healthz`` (no
    token, reads the schema version);
  - a ``RouteClient`` warmed up from that API (``GET /routes``: all 10,000 routes), then
    ``resolve()`` of random agents timed one by one with ``perf_counter_ns``, against the same
    loop over a plain dict lookup (the floor: timer and loop overhead included in both).

The machine is shared: its load average is recorded before and after.

    python -m bench.bench_registry [--seconds 10] [--routes 10000] [--lookups 200000]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
from psycopg import sql

from aion_assets.cli.api import default_workers
from aion_assets.core.auth import mint_token
from aion_assets.core.db import make_engine
from aion_assets.core.migrate import upgrade
from aion_assets.core.serve import free_port
from aion_assets.registry.client import RouteClient
from aion_assets.registry.models import ModelStatus, ModelVersionIn, RouteIn
from aion_assets.registry.sql_store import SqlRegistryStore
from bench._report import write_section
from bench.bench_ingest import parse_wrk

PG = os.environ.get("AION_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
SECRET = "bench-secret-" + "b" * 24
TENANT = "bench"

WRK_ROUTES = """
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/routes/agent-" .. math.random(0, {last}), {{["Authorization"] = "Bearer {token}"}})
end
"""


def fill(app_url: str, routes: int) -> None:
    """ROUTES routes of TENANT (a default and a fallback each), through the store as the app role."""
    store = SqlRegistryStore(make_engine(app_url, pool_size=4))
    models = []
    for i in range(2):
        item = ModelVersionIn(
            manifest_sha256=hashlib.sha256(f"bench-{i}".encode()).hexdigest(),
            adapter_uri=f"file:///artifacts/adapters/bench/support/v{i}",
            base_model="aion-base",
            domain="support",
            status=ModelStatus.promoted,
        )
        models.append(store.register_version(TENANT, item, "bench")[0])


    def write(n: int) -> None:
        route = RouteIn(agent_id=f"agent-{n}", default_model_id=models[1].id, fallback_model_id=models[0].id,
                        expected_version=0)
        store.set_route(TENANT, route, "bench")

    # A few writers at once: each write waits on the database more than it computes.
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, range(routes)))
    store.engine.dispose()


def run_wrk(url: str, seconds: int, connections: int, script: str | None = None) -> dict[str, float]:
    """wrk's figures for URL (with the Lua SCRIPT when given); exits when any answer is not 2xx."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    path = None
    if script is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
            fh.write(script)
        path = fh.name
        command[-1:-1] = ["-s", path]
    try:
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        if path is not None:
            os.unlink(path)
    figures = parse_wrk(out)
    if figures["non2xx"]:
        raise SystemExit(f"{figures['non2xx']:.0f} requests failed during the run; the figures would be wrong")
    return figures


def percentiles_ns(samples: list[int]) -> tuple[float, float]:
    """(p50, p99) of SAMPLES in microseconds."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49] / 1000, cuts[98] / 1000


def time_lookups(lookup: Any, keys: list[tuple[str, str]]) -> tuple[float, float]:
    """p50/p99 (µs) of LOOKUP(tenant, agent) over KEYS, each call timed alone."""
    clock = time.perf_counter_ns
    samples = []
    for tenant, agent in keys:
        start = clock()
        lookup(tenant, agent)
        samples.append(clock() - start)
    return percentiles_ns(samples)


def uptime() -> str:
    """`uptime`'s line (load averages of the shared machine)."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        load = os.getloadavg()
        return f"load average: {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per scenario")
    parser.add_argument("--connections", type=int, default=8, help="concurrent HTTP connections")
    parser.add_argument("--routes", type=int, default=10_000, help="routes in the table")
    parser.add_argument("--lookups", type=int, default=200_000, help="timed resolve() calls")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install wrk")
    workers = default_workers()
    load_before = uptime()

    suffix = uuid.uuid4().hex[:8]
    dbname, role = f"aion_bench_{suffix}", f"aion_bench_app_{suffix}"
    admin = psycopg.connect(f"{PG}/postgres", autocommit=True)
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    owner_url, app_url = f"{PG}/{dbname}", f"{PG.replace('postgres@', role + '@')}/{dbname}"
    server = None
    try:
        upgrade(owner_url, app_url)
        started = time.monotonic()
        fill(app_url, args.routes)
        fill_seconds = time.monotonic() - started
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AION_")}
        env |= {"AION_DATABASE_URL": app_url, "AION_JWT_SECRET": SECRET}
        server = subprocess.Popen([sys.executable, "-m", "aion_assets.cli", "api", "--port", str(port)], env=env)
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        else:
            raise SystemExit("API did not come up")
        token = mint_token(SECRET, tenant_id=TENANT, roles=["reader"], ttl_seconds=3600)
        script = WRK_ROUTES.format(last=args.routes - 1, token=token)
        run_wrk(base + "/", 3, args.connections, script)  # warm-up
        routes_http = run_wrk(base + "/", args.seconds, args.connections, script)
        run_wrk(f"{base}/metrics", 3, args.connections)  # warm-up
        floor = run_wrk(f"{base}/metrics", args.seconds, args.connections)
        healthz = run_wrk(f"{base}/healthz", args.seconds, args.connections)

        # Warmed up from the same API; the background refresh is pushed out of the measurement.
        with RouteClient(base, token, refresh_interval=3600, timeout=60, name="bench") as client:
            assert client.stats().routes == args.routes, client.stats()
            server.terminate()  # resolve() must not need it
            server.wait(timeout=30)
            server = None
            rng = random.Random(7)
            keys = [(TENANT, f"agent-{rng.randrange(args.routes)}") for _ in range(args.lookups)]
            plain = {(t, a): client.resolve(t, a) for t, a in set(keys)}
            time_lookups(client.resolve, keys[:20_000])  # warm-up
            resolve_p50, resolve_p99 = time_lookups(client.resolve, keys)
            dict_p50, dict_p99 = time_lookups(lambda t, a: plain[(t, a)], keys)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        admin.execute(
            sql.SQL("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = {}").format(
                sql.Literal(dbname)
            )
        )
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(dbname)))
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        admin.close()
    load_after = uptime()

    ok_resolve = "met" if resolve_p99 < 50 else "NOT met"
    ok_http = "met" if routes_http["p99"] < 10 else "NOT met"
    body = f"""
{args.routes:,} routes of one tenant in PostgreSQL, written through the registry store as the non-owner
application role ({fill_seconds:.0f} s). Server: `aion api` with its defaults ({workers} uvicorn workers = one
per CPU), connected as the application role under row-level security; wrk with 2 threads and
{args.connections} connections, {args.seconds} s per scenario after a 3 s warm-up, a random agent of the
{args.routes:,} per request. wrk, PostgreSQL and the server share the machine's cores. `resolve()`:
a `RouteClient` warmed up from that API (`GET /routes`, all routes), the API then stopped; {args.lookups:,}
random lookups, each timed alone with `perf_counter_ns` (timer and loop overhead included, as in the
dict baseline).

Load of the shared machine (other engineers' jobs included), `uptime` before: `{load_before}`;
after: `{load_after}`.

| scenario | requests/s | p50 | p90 | p99 | target |
|---|---:|---:|---:|---:|---|
| `GET /routes/{{agent_id}}` over HTTP | {routes_http['rps']:,.0f} | {routes_http['p50']:.2f} ms | {routes_http['p90']:.2f} ms | **{routes_http['p99']:.2f} ms** | p99 < 10 ms: {ok_http} |
| baseline: `GET /metrics` (no auth, no database) | {floor['rps']:,.0f} | {floor['p50']:.2f} ms | {floor['p90']:.2f} ms | {floor['p99']:.2f} ms | |
| baseline: `GET /healthz` (no auth, schema version check) | {healthz['rps']:,.0f} | {healthz['p50']:.2f} ms | {healthz['p90']:.2f} ms | {healthz['p99']:.2f} ms | |
| `RouteClient.resolve()` in process | | {resolve_p50:.2f} µs | | **{resolve_p99:.2f} µs** | p99 < 50 µs: {ok_resolve} |
| baseline: plain dict lookup, same loop | | {dict_p50:.2f} µs | | {dict_p99:.2f} µs | |
"""
    command = f"python -m bench.bench_registry --seconds {args.seconds}"
    if args.routes != 10_000:
        command += f" --routes {args.routes}"
    write_section("registry", "Route lookups: RouteClient.resolve() and GET /routes/{agent_id} (issue 12)", body,
                  command=command)
    print(body)


if __name__ == "__main__":
    main()

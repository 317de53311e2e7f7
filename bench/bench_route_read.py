"""The cost of one ``GET /routes/{agent_id}``: server CPU per request, statements and round trips.

Figures that hold on a busy shared machine (latency under wrk does not: see ``bench_registry``).
One fresh database on the machine's PostgreSQL with one route, written as the non-owner
application role (under RLS), then:
  - ``aion api`` with one worker, asked sequentially over one keep-alive connection: the server
    process's CPU time (``/proc/<pid>/stat``) per ``GET /routes/{agent_id}``, and per ``GET /metrics``
    (no token, no database) as the HTTP stack's floor in the same run;
  - one ``SqlRegistryStore.get_route`` traced at the PostgreSQL protocol (libpq trace): the
    statements it executes and its round trips (answers the client waited for).

    python -m bench.bench_route_read [--requests 3000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from aion_assets.core.auth import mint_token
from aion_assets.core.db import make_engine
from aion_assets.core.migrate import upgrade
from aion_assets.core.serve import free_port
from aion_assets.registry.sql_store import SqlRegistryStore
from bench._report import write_section
from bench.bench_registry import PG, SECRET, TENANT, fill, uptime


def server_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process PID so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_request_us(client: httpx.Client, pid: int, path: str, requests: int) -> float:
    """Server CPU (µs) per sequential GET PATH, after a warm-up; every answer must be 200."""
    for _ in range(100):
        client.get(path).raise_for_status()
    start = server_cpu_s(pid)
    for _ in range(requests):
        client.get(path).raise_for_status()
    return (server_cpu_s(pid) - start) * 1e6 / requests


def protocol_trace(app_url: str) -> tuple[int, int]:
    """(statements executed, round trips) of one warmed-up ``get_route``, from libpq's trace."""
    engine = make_engine(app_url, pool_size=1, max_overflow=0)
    store = SqlRegistryStore(engine)
    try:
        store.get_route(TENANT, "agent-0")
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            pgconn = raw.pgconn
        with tempfile.TemporaryFile() as sink:
            pgconn.trace(sink.fileno())
            pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE)
            store.get_route(TENANT, "agent-0")
            pgconn.untrace()
            sink.seek(0)
            kinds = [tuple(line.split("\t")[:3:2]) for line in sink.read().decode().splitlines()]
    finally:
        engine.dispose()
    # Execute (extended protocol) or Query (simple) per statement; one ReadyForQuery per wait.
    statements = sum(k in (("F", "Execute"), ("F", "Query")) for k in kinds)
    return statements, kinds.count(("B", "ReadyForQuery"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="timed requests per path")
    args = parser.parse_args()
    load_before = uptime()
    suffix = uuid.uuid4().hex[:8]
    dbname, role = f"aion_bench_{suffix}", f"aion_bench_app_{suffix}"
    admin = psycopg.connect(f"{PG}/postgres", autocommit=True)
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    owner_url, app_url = f"{PG}/{dbname}", f"{PG.replace('postgres@', role + '@')}/{dbname}"
    server = None
    try:
        upgrade(owner_url, app_url)
        fill(app_url, 1)
        statements, round_trips = protocol_trace(app_url)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AION_")}
        env |= {"AION_DATABASE_URL": app_url, "AION_JWT_SECRET": SECRET}
        command = [sys.executable, "-m", "aion_assets.cli", "api", "--port", str(port), "--workers", "1"]
        server = subprocess.Popen(command, env=env)
        token = mint_token(SECRET, tenant_id=TENANT, roles=["reader"], ttl_seconds=3600)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}) as c:
            for _ in range(300):
                try:
                    if c.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            else:
                raise SystemExit("API did not come up")
            routes_us = cpu_per_request_us(c, server.pid, "/routes/agent-0", args.requests)
            metrics_us = cpu_per_request_us(c, server.pid, "/metrics", args.requests)
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
    body = f"""
`aion api --workers 1` as the application role (RLS), {args.requests:,} sequential requests per path over
one keep-alive connection after 100 of warm-up; CPU = the server process's user + system time per
request (wrk is not used: on the shared machine latency measures the neighbours, CPU time much less).
Protocol figures: one warmed-up `SqlRegistryStore.get_route` under libpq's trace.
Load average before: `{load_before}`; after: `{uptime()}`.

| figure | value |
|---|---:|
| server CPU per `GET /routes/{{agent_id}}` | {routes_us:,.0f} µs |
| baseline: server CPU per `GET /metrics` (no auth, no database) | {metrics_us:,.0f} µs |
| statements per route read (BEGIN, tenant, SELECT, COMMIT included) | {statements} |
| round trips per route read | {round_trips} |
"""
    write_section("route_read", "Cost of one GET /routes/{agent_id} (issue 12)", body,
                  command=f"python -m bench.bench_route_read --requests {args.requests}")
    print(body)


if __name__ == "__main__":
    main()

"""Ingestion throughput and latency of the memory API on PostgreSQL, driven by wrk.

Runs the real server (`aion api`, uvicorn workers) against a fresh database on the machine's
PostgreSQL as the non-owner application role (under RLS), and measures with wrk (Debian
package `wrk`; a Python load generator on the same 2 cores would eat a core):
  - batches of 100 interactions, 8 connections;
  - single-interaction POSTs, 8 connections;
and, as the physical ceiling of the same database, a bulk COPY of the same rows (as the
superuser: COPY is refused under row-level security).

    python -m bench.bench_ingest [--seconds 15] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime

import httpx
import psycopg
from psycopg import sql

from aion_assets.core.auth import mint_token
from aion_assets.core.migrate import upgrade
from aion_assets.core.serve import free_port
from bench._report import write_section

PG = os.environ.get("AION_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
SECRET = "bench-secret-" + "b" * 24
ROW = {
    "agent_id": "support-bot",
    "user_id": "user-42",
    "input_text": "My Acme X-200 shows error E-402 after the update, how do I reset it?",
    "output_text": "Hold the power button for 10 seconds, then re-pair the device in the app.",
    "channel": "web",
    "metadata": {"domain": "support"},
}

WRK_SCRIPT = """
wrk.method = "POST"
local f = assert(io.open("{body_path}", "rb")); wrk.body = f:read("*all"); f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
"""


def parse_wrk(out: str) -> dict[str, float]:
    """Requests/s and latency percentiles (ms) from `wrk --latency` output."""

    def ms(text: str) -> float:
        value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    figures = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    for pct in ("50", "90", "99"):
        match = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", out, re.M)
        figures[f"p{pct}"] = ms(match.group(1)) if match else float("nan")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    figures["non2xx"] = float(errors.group(1)) if errors else 0.0
    return figures


def run_wrk(url: str, body: str, token: str, seconds: int, connections: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as body_file:
        body_file.write(body)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(WRK_SCRIPT.format(body_path=body_file.name, token=token))
    try:
        out = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", fh.name, url],
            capture_output=True, text=True, check=True,
        ).stdout
    finally:
        os.unlink(fh.name)
        os.unlink(body_file.name)
    figures = parse_wrk(out)
    if figures["non2xx"]:
        raise SystemExit(f"{figures['non2xx']:.0f} requests failed during the run; the figures would be wrong")
    return figures


def copy_ceiling(admin_url: str, rows: int) -> float:
    """Rows/s of COPY into the interactions table as the superuser (bypasses RLS)."""
    now = datetime.now(UTC)
    with psycopg.connect(admin_url) as conn, conn.cursor() as cur:
        started = time.perf_counter()
        with cur.copy(
            "COPY aion_memory.interactions (id, tenant_id, agent_id, user_id, input_text, output_text, "
            "channel, timestamp, metadata) FROM STDIN"
        ) as copy:
            meta = json.dumps(ROW["metadata"])
            for _ in range(rows):
                copy.write_row((uuid.uuid4(), "bench-copy", ROW["agent_id"], ROW["user_id"], ROW["input_text"],
                                ROW["output_text"], ROW["channel"], now, meta))
        conn.commit()
        return rows / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=15, help="wrk duration per scenario")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--connections", type=int, default=8, help="concurrent HTTP connections")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install wrk")

    suffix = uuid.uuid4().hex[:8]
    dbname, role = f"aion_bench_{suffix}", f"aion_bench_app_{suffix}"
    admin = psycopg.connect(f"{PG}/postgres", autocommit=True)
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    owner_url, app_url = f"{PG}/{dbname}", f"{PG.replace('postgres@', role + '@')}/{dbname}"
    server = None
    try:
        upgrade(owner_url, app_url)
        port = free_port()
        env = os.environ | {"AION_DATABASE_URL": app_url, "AION_JWT_SECRET": SECRET, "AION_DB_POOL_SIZE": "8"}
        server = subprocess.Popen(
            [sys.executable, "-m", "aion_assets.cli", "api", "--port", str(port), "--workers", str(args.workers)],
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        else:
            raise SystemExit("API did not come up")
        token = mint_token(SECRET, tenant_id="bench", roles=["writer"], ttl_seconds=3600)
        url = f"{base}/interactions"
        run_wrk(url, json.dumps([ROW] * 100), token, 3, args.connections)  # warm-up
        batch = run_wrk(url, json.dumps([ROW] * 100), token, args.seconds, args.connections)
        single = run_wrk(url, json.dumps(ROW), token, args.seconds, args.connections)
        ceiling = copy_ceiling(owner_url.replace(f"/{dbname}", f"/{dbname}"), 200_000)
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

    batch_rows = batch["rps"] * 100
    body = f"""
Server: `aion api --workers {args.workers}` (uvicorn + FastAPI + SQLAlchemy Core on psycopg 3), connected as the
non-owner application role under row-level security; wrk with 2 threads and {args.connections} connections,
{args.seconds} s per scenario after a 3 s warm-up. wrk and PostgreSQL share the same 2 cores with the server.

| scenario | rows/s | requests/s | p50 ms | p90 ms | p99 ms | non-2xx | target |
|---|---:|---:|---:|---:|---:|---:|---|
| POST /interactions, batches of 100 | {batch_rows:,.0f} | {batch['rps']:,.1f} | {batch['p50']:.1f} | {batch['p90']:.1f} | {batch['p99']:.1f} | {batch['non2xx']:.0f} | >= 5,000 rows/s |
| POST /interactions, single row | {single['rps']:,.0f} | {single['rps']:,.0f} | {single['p50']:.1f} | {single['p90']:.1f} | {single['p99']:.1f} | {single['non2xx']:.0f} | p99 < 20 ms |
| COPY as superuser (ceiling, no HTTP, no RLS) | {ceiling:,.0f} | | | | | | |

The API's batched ingestion reaches **{batch_rows / ceiling:.0%}** of the database's bulk-load ceiling on this machine.
"""
    write_section("ingest", "Ingestion API on PostgreSQL (issue 2)", body,
                  command=f"python -m bench.bench_ingest --seconds {args.seconds} --workers {args.workers}")
    print(body)


if __name__ == "__main__":
    main()

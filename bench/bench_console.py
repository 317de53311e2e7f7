"""Time for the reviewer console to show a page of 50 pending edits with 100,000 pending.

Measures the call path the queue page uses: ``review_app.services.fetch_page`` (MemoryClient ->
HTTP -> the memory API served by `aion api` as a user starts it -> the store under RLS) plus what
the page computes from the result (the table rows and the side-by-side diff of the shown edit).
Streamlit's own rendering is not included. The database holds 100,000 pending edits of the
measured tenant (10 agents, 3 editor types, 8 reason codes of which one is rare, rewards uniform
in [0, 1]), 50,000 decided ones and 20,000 of another tenant, seeded with COPY.

Scenarios: first page; page 1,000 reached through cursors (the cursor is the last row's
(timestamp, id), so depth costs nothing); and filters by agent, editor type, reason code (common
and rare: 0.1 % of the edits) and reward range.

    python -m bench.bench_console [--pending 100000] [--repeat 30] [--backend postgres|sqlite|both]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from aion_assets.core.auth import mint_token
from aion_assets.core.db import make_engine
from aion_assets.core.migrate import upgrade
from aion_assets.core.serve import free_port
from aion_assets.memory import tables as t
from aion_assets.memory.client import MemoryClient
from bench._report import write_section
from review_app.services import PAGE_SIZE, QueueFilters, diff_html, fetch_page, make_client, page_rows

PG = os.environ.get("AION_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
SECRET = "bench-secret-" + "c" * 24
TENANT, OTHER = "bench", "other"
AGENTS = [f"agent-{i}" for i in range(10)]
EDITORS = ["human", "model", "rule"]
REASONS = ["wrong_fact", "tone", "too_long", "missing_step", "format", "outdated", "policy", "typo"]
RARE = "pii_leak"
START = datetime(2026, 1, 1, tzinfo=UTC)
ANSWER = ("Hold the power button for 10 seconds, then re-pair the device in the app. If error E-402 "
          "persists, reset the hub from Settings > System > Reset and try again. ") * 3


def rows(tenant: str, n: int, status: str, offset: int, rng: random.Random) -> Iterator[tuple[tuple, tuple]]:
    """(interaction, self-edit) rows: N of TENANT in STATUS, one second apart from OFFSET."""
    for i in range(n):
        iid, eid = uuid.UUID(int=rng.getrandbits(128)), uuid.UUID(int=rng.getrandbits(128))
        ts = START + timedelta(seconds=offset + i)
        agent = AGENTS[i % len(AGENTS)]
        reason = RARE if i % 1000 == 7 else REASONS[rng.randrange(len(REASONS))]
        edited = ANSWER.replace("10 seconds", f"{5 + i % 20} seconds")
        yield (
            (iid, tenant, agent, None, f"Question {i}: my hub shows E-402, what now?", ANSWER, None, "web", ts, "{}"),
            (eid, tenant, iid, agent, EDITORS[i % 3], ANSWER, edited, reason, rng.random(), status,
             None if status == "pending" else "seed", None if status == "pending" else ts, ts, "{}"),
        )


def plan(pending: int) -> list[tuple[str, int, str, int]]:
    """(tenant, count, status, offset) blocks to seed."""
    return [(TENANT, pending, "pending", 0), (TENANT, pending // 2, "approved", pending),
            (OTHER, pending // 5, "pending", 0)]


INTERACTION_COLS = "id, tenant_id, agent_id, user_id, input_text, output_text, model_version, channel, timestamp, metadata"
EDIT_COLS = ("id, tenant_id, interaction_id, agent_id, editor_type, original_output, edited_output, reason_code, "
             "reward_score, status, reviewer, reviewed_at, timestamp, metadata")


def seed_postgres(url: str, pending: int) -> None:
    rng = random.Random(7)
    with psycopg.connect(url, autocommit=True) as conn:
        for tenant in (TENANT, OTHER):
            conn.execute("INSERT INTO aion_memory.tenants (tenant_id, config, created_at) VALUES (%s, '{}', now())",
                         (tenant,))
        for tenant, n, status, offset in plan(pending):
            block = list(rows(tenant, n, status, offset, rng))
            with conn.cursor() as cur:
                with cur.copy(f"COPY aion_memory.interactions ({INTERACTION_COLS}) FROM STDIN") as copy:
                    for inter, _ in block:
                        copy.write_row(inter)
                with cur.copy(f"COPY aion_memory.self_edits ({EDIT_COLS}) FROM STDIN") as copy:
                    for _, edit in block:
                        copy.write_row(edit)
        conn.execute("ANALYZE aion_memory.interactions")
        conn.execute("ANALYZE aion_memory.self_edits")


def seed_sqlite(url: str, pending: int) -> None:
    """The same rows through SQLAlchemy (its SQLite types: UUIDs as hex, naive UTC timestamps)."""
    rng = random.Random(7)
    engine = make_engine(url, pool_size=1)
    icols, ecols = [c.name for c in t.interactions.c], [c.name for c in t.self_edits.c]
    with engine.begin() as conn:
        conn.execute(t.tenants.insert(), [{"tenant_id": x, "config": {}, "created_at": START} for x in (TENANT, OTHER)])
        for tenant, n, status, offset in plan(pending):
            block = list(rows(tenant, n, status, offset, rng))
            conn.execute(t.interactions.insert(), [dict(zip(icols, i, strict=True)) | {"metadata": {}} for i, _ in block])
            conn.execute(t.self_edits.insert(), [dict(zip(ecols, e, strict=True)) | {"metadata": {}} for _, e in block])
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()


@contextmanager
def served(db_url: str) -> Iterator[str]:
    """`aion api` as a new user starts it (default workers), over DB_URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AION_")}
    env |= {"AION_DATABASE_URL": db_url, "AION_JWT_SECRET": SECRET}
    server = subprocess.Popen([sys.executable, "-m", "aion_assets.cli", "api", "--port", str(port)], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if server.poll() is not None:
                raise SystemExit(f"`aion api` exited with {server.returncode} (see its log above)")
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        else:
            raise SystemExit("API did not come up")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def show_page(client: MemoryClient, filters: QueueFilters, cursor: str | None) -> int:
    """What the queue page does to show a page: fetch it, build its table, diff the shown edit."""
    page = fetch_page(client, filters, cursor)
    page_rows(page)
    if page.items:
        diff_html(page.items[0].original_output, page.items[0].edited_output)
    return len(page.items)


def measure(base: str, repeat: int) -> list[tuple[str, int, float, float, float]]:
    """(scenario, items shown, median ms, p95 ms, max ms) per scenario."""
    client = make_client(base, mint_token(SECRET, tenant_id=TENANT, roles=["reviewer"], ttl_seconds=3600))
    cursor: str | None = None
    for _ in range(999):  # walk to page 1,000 the way the "Next page" button does
        cursor = fetch_page(client, QueueFilters(), cursor).next_cursor
    scenarios: list[tuple[str, QueueFilters, str | None]] = [
        ("first page, no filter", QueueFilters(), None),
        ("page 1,000 (cursor)", QueueFilters(), cursor),
        ("agent = agent-3", QueueFilters(agent_id="agent-3"), None),
        ("editor type = model", QueueFilters(editor_type="model"), None),
        ("reason code = tone (1 in 8)", QueueFilters(reason_code="tone"), None),
        (f"reason code = {RARE} (1 in 1,000)", QueueFilters(reason_code=RARE), None),
        ("reward in [0.90, 1.00]", QueueFilters(min_reward=0.9), None),
        ("agent + editor + reward", QueueFilters(agent_id="agent-3", editor_type="human", min_reward=0.5), None),
    ]
    out = []
    for name, filters, cur in scenarios:
        shown = show_page(client, filters, cur)  # warm-up
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            show_page(client, filters, cur)
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
        out.append((name, shown, statistics.median(times), p95, times[-1]))
        print(f"{name:42s} {shown:3d} items  median {statistics.median(times):7.1f} ms  p95 {p95:7.1f} ms")
    client.close()
    return out


def run_postgres(pending: int, repeat: int) -> list[tuple[str, int, float, float, float]]:
    suffix = uuid.uuid4().hex[:8]
    dbname, role = f"aion_bench_console_{suffix}", f"aion_bench_app_{suffix}"
    admin = psycopg.connect(f"{PG}/postgres", autocommit=True)
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    owner_url, app_url = f"{PG}/{dbname}", f"{PG.replace('postgres@', role + '@')}/{dbname}"
    try:
        upgrade(owner_url, app_url)
        seed_postgres(owner_url, pending)
        with served(app_url) as base:
            return measure(base, repeat)
    finally:
        admin.execute(sql.SQL("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = {}").format(
            sql.Literal(dbname)))
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(dbname)))
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        admin.close()


def run_sqlite(pending: int, repeat: int) -> list[tuple[str, int, float, float, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "aion.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        seed_sqlite(url, pending)
        with served(url) as base:
            return measure(base, repeat)


def table(results: list[tuple[str, int, float, float, float]]) -> str:
    lines = ["| scenario | shown | median | p95 | max |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {n} | {s} | {m:.1f} ms | {p:.1f} ms | {x:.1f} ms |" for n, s, m, p, x in results]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pending", type=int, default=100_000, help="pending edits of the measured tenant")
    parser.add_argument("--repeat", type=int, default=30, help="timed repetitions per scenario")
    parser.add_argument("--backend", choices=["postgres", "sqlite", "both"], default="both")
    args = parser.parse_args()
    sections = []
    load = os.getloadavg()
    if args.backend in ("postgres", "both"):
        print("PostgreSQL")
        sections.append(("PostgreSQL (the API as the non-owner application role, under RLS)",
                         run_postgres(args.pending, args.repeat)))
    if args.backend in ("sqlite", "both"):
        print("SQLite")
        sections.append(("SQLite (the embedded default)", run_sqlite(args.pending, args.repeat)))
    worst = max(r[3] for _, results in sections for r in results)
    body = (
        f"{args.pending:,} pending edits of the measured tenant (plus {args.pending // 2:,} decided and "
        f"{args.pending // 5:,} of another tenant); a page is {PAGE_SIZE} edits; {args.repeat} timed runs per "
        "scenario after one warm-up. Time = `review_app.services.fetch_page` through the HTTP client to `aion api` "
        "(default workers) + the page's table rows + the diff of the shown edit; Streamlit's rendering is not "
        f"included. Load average before the run: {load[0]:.2f}.\n\n"
    )
    for title, results in sections:
        body += f"**{title}**\n\n{table(results)}\n\n"
    body += (f"Worst p95 over all scenarios: **{worst:.0f} ms** (the bar: under 1 s to show a page of 50 with "
             "100,000 pending).\n")
    write_section("console", "Reviewer console: a page of 50 with 100,000 pending", body,
                  command=" ".join([".venv/bin/python -m bench.bench_console", *sys.argv[1:]]))
    print(f"worst p95 {worst:.1f} ms")


if __name__ == "__main__":
    main()

"""Curation + export benchmark: approved edits -> deduplicated, split JSONL dataset files.

Run from the repository root::

    python -m bench.bench_export [--sizes 25000 100000] [--database-url URL] [--no-write]

For each size, a fresh memory store (SQLite file by default) is filled with that many approved
self-edits (one per interaction, plus 10% extra, lower-reward edits of the same interactions that
deduplication must drop); then the path of the ``sft_dataset`` asset without scrubbing is timed:
``MemoryStore.iter_approved_edits`` -> ``curation.curate`` -> ``curation.write_splits`` into
train/eval files. Scrubbing throughput is measured separately (bench_scrub). Peak memory is
Python's allocation peak (tracemalloc) during a second, untimed export; flat across sizes means
constant memory in the number of rows. Target: 100,000 rows in under 30 s.

With ``--scrub`` (issue 11, "scrub once"), the rows carry PII and the export goes through
``GET /datasets/sft`` (the real app over HTTP, in process), scrubbing on: each size is exported
three times in the same run, on the same database: cold (every text analysed by the NER and stored
in ``scrub_detections``), warm (the stored detections are read, the policy applied, no NER), and
the baseline: the same rows through curation without scrubbing. A fourth, untimed warm export
gives the peak Python memory. For the production figure give a PostgreSQL superuser URL: the
bench creates a database and an application role (the API runs under row-level security) and
drops both afterwards::

    python -m bench.bench_export --scrub --sizes 2000 10000 --database-url postgresql://postgres@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

TARGET_S = 30.0
TENANT = "bench"


_FIRST = ("Laura", "Pierre", "Maria", "John", "Priya", "Kenji", "Ana", "Tom", "Fatima", "Lars")
_LAST = ("Schmidt", "Dubois", "Gonzalez", "Miller", "Sharma", "Tanaka", "Silva", "Brown", "Khan", "Berg")


def _texts(k: int, pii: bool) -> tuple[str, str]:
    """The prompt and the edited answer of row K (distinct per row; with names, e-mails, phones if PII)."""
    if not pii:
        return (f"How do I configure feature {k} of the Acme router after a firmware update?",
                f"Open Settings > Advanced, enable feature {k}, then save and reboot.")
    first, last = _FIRST[k % 10], _LAST[(k // 10) % 10]
    return (f"Hi, I'm {first} {last}, my email is {first.lower()}.{last.lower()}{k}@example.com. "
            f"Order {k} of the Acme router never arrived; call me on +1 415-555-{k % 10000:04d}.",
            f"Thanks {first}, order {k} ships today from our warehouse. Open Settings > Orders to follow it.")


def fill(engine: sa.Engine, n: int, *, pii: bool = False) -> None:
    """Insert N interactions with one approved edit each, plus n/10 weaker duplicates."""
    from aion_assets.memory import tables as t

    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(sa.insert(t.tenants), [{"tenant_id": TENANT, "config": {}, "created_at": now}])
    batch = 5000
    for start in range(0, n, batch):
        inters, edits = [], []
        for k in range(start, min(n, start + batch)):
            iid = uuid.uuid4()
            ts = now - timedelta(minutes=k)
            prompt, answer = _texts(k, pii)
            inters.append({
                "id": iid, "tenant_id": TENANT, "agent_id": "bot", "user_id": f"u{k}",
                "input_text": prompt,
                "output_text": "Please see the manual.", "model_version": "m1", "channel": "chat",
                "timestamp": ts, "metadata": {"domain": "support"},
            })
            for extra in range(2 if k % 10 == 0 else 1):
                edits.append({
                    "id": uuid.uuid4(), "tenant_id": TENANT, "interaction_id": iid, "agent_id": "bot",
                    "editor_type": "human", "original_output": "Please see the manual.",
                    "edited_output": answer,
                    "reason_code": "incomplete", "reward_score": 0.9 - 0.2 * extra, "status": "approved",
                    "reviewer": "r", "reviewed_at": ts, "timestamp": ts, "metadata": {},
                })
        with engine.begin() as conn:
            conn.execute(sa.insert(t.interactions), inters)
            conn.execute(sa.insert(t.self_edits), edits)


def export(engine: sa.Engine, out_dir: Path) -> tuple[int, str]:
    """The sft_dataset path without scrubbing; returns (rows, content hash)."""
    from aion_assets.memory.store import MemoryStore
    from aion_assets.seal.datasets.curate import curate
    from aion_assets.seal.datasets.versions import write_splits

    store = MemoryStore(engine)
    with open(out_dir / "train.jsonl", "wb") as train, open(out_dir / "eval.jsonl", "wb") as ev:
        summary = write_splits(
            curate(store.iter_approved_edits(TENANT, min_reward=0.5), tenant_config={}, min_reward=0.5),
            {"train": train, "eval": ev},
            eval_share=0.2,
        )
    return summary.total, summary.content_hash


def run_size(n: int, database_url: str | None) -> dict[str, float]:
    from aion_assets.core.db import make_engine
    from aion_assets.core.migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="aion-bench-export-") as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url, pool_size=2)
        fill(engine, n)
        t0 = time.perf_counter()
        rows, content_hash = export(engine, Path(tmp))
        elapsed = time.perf_counter() - t0
        assert rows == n, f"exported {rows} rows, expected {n}"
        tracemalloc.start()
        rows2, hash2 = export(engine, Path(tmp))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert (rows2, hash2) == (rows, content_hash), "the same data gave a different dataset"
        engine.dispose()
    return {"rows": rows, "seconds": elapsed, "rows_per_s": rows / elapsed, "peak_mib": peak / 2**20}


def _http_export(client: object, token: str) -> tuple[int, int]:
    """One ``GET /datasets/sft``; returns (rows, bytes), reading the stream to its end."""
    rows = size = 0
    with client.stream("GET", "/datasets/sft", headers={"Authorization": f"Bearer {token}"}) as response:  # type: ignore[attr-defined]
        assert response.status_code == 200, response.read()[:300]
        for line in response.iter_lines():
            if line:
                rows += 1
                size += len(line)
    return rows, size


@contextlib.contextmanager
def _database(server_url: str | None, tmp: str) -> Iterator[tuple[str, str]]:
    """(owner URL, application-role URL) of a fresh database: a SQLite file, or on the PostgreSQL
    server SERVER_URL (a superuser) a new database and application role, dropped afterwards."""
    if not server_url:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        yield url, url
        return
    import psycopg
    from psycopg import sql

    suffix = uuid.uuid4().hex[:8]
    dbname, role = f"aion_bench_{suffix}", f"aion_bench_app_{suffix}"
    server = sa.engine.make_url(server_url)
    with psycopg.connect(server.set(drivername="postgresql", database="postgres").render_as_string(False),
                         autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        try:
            yield (server.set(database=dbname).render_as_string(False),
                   server.set(database=dbname, username=role, password=None).render_as_string(False))
        finally:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (dbname,))
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(dbname)))
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def run_scrub_size(n: int, database_url: str | None) -> dict[str, float]:
    """Cold, warm and unscrubbed export of N PII-carrying rows on a fresh database (module docstring)."""
    from fastapi.testclient import TestClient

    from aion_assets.app import create_app
    from aion_assets.core.auth import TokenVerifier, mint_token
    from aion_assets.core.db import make_engine
    from aion_assets.core.migrate import upgrade
    from aion_assets.memory.detections import DetectionStore
    from aion_assets.memory.scrub.engine import Scrubber, get_scrubber

    secret = "bench-export-secret-" + "x" * 24
    token = mint_token(secret, tenant_id=TENANT, roles=["reviewer"], ttl_seconds=24 * 3600)
    get_scrubber()  # the model load is not part of an export
    analysed = [0]
    real = Scrubber.detect_many

    def counting(self: Scrubber, texts: list[str]) -> list:  # type: ignore[type-arg]
        analysed[0] += len(texts)
        return real(self, texts)

    Scrubber.detect_many = counting  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory(prefix="aion-bench-export-") as tmp, _database(database_url, tmp) as urls:
            admin_url, app_url = urls
            upgrade(admin_url, app_url)
            fill(make_engine(admin_url, pool_size=1), n, pii=True)
            # The API connects as the application role, under row-level security, as in production.
            engine = make_engine(app_url, pool_size=2)
            out: dict[str, float] = {"rows": n}
            with TestClient(create_app(engine, TokenVerifier(secret))) as client:
                for label in ("cold", "warm"):
                    analysed[0] = 0
                    t0 = time.perf_counter()
                    rows, _ = _http_export(client, token)
                    out[f"{label}_s"] = time.perf_counter() - t0
                    out[f"{label}_analysed"] = analysed[0]
                    assert rows == n, f"exported {rows} rows, expected {n}"
                tracemalloc.start()
                _http_export(client, token)
                out["warm_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
                tracemalloc.stop()
            t0 = time.perf_counter()
            rows, _ = export(engine, Path(tmp))
            out["baseline_s"] = time.perf_counter() - t0
            out["stored"] = DetectionStore(engine).count(TENANT)
            engine.dispose()
    finally:
        Scrubber.detect_many = real  # type: ignore[method-assign]
    return out


def main_scrub(args: argparse.Namespace) -> int:
    """``--scrub``: the scrubbed HTTP export, cold and warm, beside the unscrubbed baseline."""
    results = [run_scrub_size(n, args.database_url) for n in args.sizes]
    lines = ["| rows | cold: NER + store | texts analysed | warm: stored detections | texts analysed | "
             "no scrubbing (baseline) | warm peak Python memory |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['rows']:,} | {r['cold_s']:.1f} s | {r['cold_analysed']:,} | {r['warm_s']:.1f} s | "
                     f"{r['warm_analysed']:,} | {r['baseline_s']:.1f} s | {r['warm_peak_mib']:.1f} MiB |")
    backend = "PostgreSQL" if args.database_url and args.database_url.startswith("postgres") else "SQLite file"
    load = os.getloadavg()[0]
    body = "\n".join(lines) + (
        f"\n\nBackend: {backend}; `GET /datasets/sft` through the real app (FastAPI TestClient, in process), "
        "streamed to the end; each row's prompt holds a name, an e-mail and a phone number, its answer a first "
        "name; 10% extra weaker edits are dropped by deduplication. Cold: every text is analysed (and the "
        "re-scan of each output) and stored in `scrub_detections`; warm: the same export again, reading the "
        "stored detections (the learned vocabulary is cached by the API in both). Baseline: the same rows "
        f"curated without scrubbing, in the same run. Load average when the run ended: {load:.1f} "
        "(the machine was shared with other work: absolute times are pessimistic, compare within a row).\n"
    )
    print(body)
    if not args.no_write:
        from bench._report import write_section

        sizes = " ".join(str(n) for n in args.sizes)
        db = " --database-url postgresql://postgres@127.0.0.1/postgres" if backend == "PostgreSQL" else ""
        write_section("export_scrub", "Scrubbed export: cold (analysing) and warm (stored detections)", body,
                      command=f"python -m bench.bench_export --scrub --sizes {sizes}{db}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[25_000, 100_000])
    parser.add_argument("--database-url", default=None, help="empty database to use instead of a SQLite file")
    parser.add_argument("--no-write", action="store_true", help="print only, do not touch docs/")
    parser.add_argument("--scrub", action="store_true", help="the scrubbed HTTP export, cold and warm")
    args = parser.parse_args(argv)
    if args.scrub:
        return main_scrub(args)
    results = [run_size(n, args.database_url) for n in args.sizes]
    lines = ["| approved edits | export time | rows/s | peak Python memory |", "|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['rows']:,} | {r['seconds']:.1f} s | {r['rows_per_s']:,.0f} | {r['peak_mib']:.1f} MiB |")
    biggest = max(results, key=lambda r: r["rows"])
    smallest = min(results, key=lambda r: r["rows"])
    met = biggest["rows"] < 100_000 or biggest["seconds"] < TARGET_S
    flat = biggest["peak_mib"] <= 1.5 * smallest["peak_mib"] + 1
    body = "\n".join(lines) + (
        f"\n\nBackend: {'SQLite file' if not args.database_url else 'given database'}; each edit set also holds 10% "
        "weaker duplicate edits that deduplication drops; scrubbing excluded (see the scrub section).\n"
        f"Target 100,000 rows < {TARGET_S:.0f} s: {'met' if met else 'NOT met'}; memory flat in rows "
        f"(peak at the largest size <= 1.5x the smallest + 1 MiB): {'yes' if flat else 'NO'}.\n"
    )
    print(body)
    if not args.no_write:
        from bench._report import write_section

        sizes = " ".join(str(n) for n in args.sizes)
        write_section("export", "Curation + export of approved edits", body,
                      command=f"python -m bench.bench_export --sizes {sizes}")
    return 0 if met and flat else 1


if __name__ == "__main__":
    raise SystemExit(main())

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
``GET /datasets/sft`` (the real app over HTTP, in process), scrubbing on. Per size, on one database:

- *cold*: the first export analyses every distinct text with the NER (and the re-scan of each
  output) and stores the detections in ``scrub_detections``: this is the product's own path, the
  same one a backfill after a scrubber-version change takes. To keep the cold part practical at
  100,000 rows, the rows' prompts are drawn from a pool of ``--distinct`` different prompts
  (names, e-mails, phones, order numbers vary) and the answers from a pool ten times smaller, so
  the NER runs on about 1.1 x DISTINCT texts whatever the number of rows; its time is reported,
  with the count of texts analysed;
- *warm*: the same export again, timed on its own: every text's scrub result under the tenant's
  policy is read from ``scrub_results`` (one query per batch of rows; the cold export stored it),
  its placeholders rendered, rows streamed: no policy step, no detection read. The per-request memo
  of detections is switched off for the timed warm runs (``--memo`` keeps it), and results are
  looked up per batch only, so the pooled prompts do not flatter the figure: every distinct text
  of a batch is looked up in the store as a never-repeated prompt would be;
- *peak RSS*: the process's resident memory sampled every 20 ms during a warm export, minus its
  value when the export starts (flat across sizes means memory does not grow with the rows);
- *baseline*: the same rows through curation without scrubbing, same run;
- *incremental*: 1,000 new approvals (new texts) on top, then the export again: the texts analysed
  (only the new ones and their re-scans) and the time, beside the warm time of the history.

After each bulk load the bench runs ``ANALYZE`` (production tables have the planner statistics
autovacuum gathers). For the production figure give a PostgreSQL superuser URL: the bench creates a database and an
application role (the API runs under row-level security) and drops both afterwards::

    python -m bench.bench_export --scrub --sizes 10000 100000 --database-url postgresql://postgres@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import threading
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


def _texts(k: int, pii: bool, distinct: int | None = None) -> tuple[str, str]:
    """The prompt and the edited answer of row K (names, e-mails, phones if PII).

    DISTINCT: the prompt is the one of row ``K % DISTINCT`` and the answer the one of row
    ``K % (DISTINCT // 10)`` (the bench's pools, module docstring); None: every row its own texts.
    """
    if not pii:
        return (f"How do I configure feature {k} of the Acme router after a firmware update?",
                f"Open Settings > Advanced, enable feature {k}, then save and reboot.")
    p = k if distinct is None else k % distinct
    a = k if distinct is None else k % max(1, distinct // 10)
    first, last = _FIRST[p % 10], _LAST[(p // 10) % 10]
    prompt = (f"Hi, I'm {first} {last}, my email is {first.lower()}.{last.lower()}{p}@example.com. "
              f"Order {p} of the Acme router never arrived; call me on +1 415-555-{p % 10000:04d}.")
    first = _FIRST[a % 10]
    return prompt, f"Thanks {first}, order {a} ships today from our warehouse. Open Settings > Orders to follow it."


def fill(engine: sa.Engine, n: int, *, pii: bool = False, distinct: int | None = None, first: int = 0,
         tenant_row: bool = True, approved_now: bool = False) -> None:
    """Insert N interactions (rows FIRST.. FIRST+N-1) with one approved edit each, plus n/10 weaker duplicates.

    The history's edits are reviewed when they were made; APPROVED_NOW stamps the review at the time
    of the fill instead (new approvals, as the review API stamps them).
    """
    from aion_assets.memory import tables as t

    now = datetime.now(UTC)
    if tenant_row:
        with engine.begin() as conn:
            conn.execute(sa.insert(t.tenants), [{"tenant_id": TENANT, "config": {}, "created_at": now}])
    batch = 5000
    for start in range(first, first + n, batch):
        inters, edits = [], []
        for k in range(start, min(first + n, start + batch)):
            iid = uuid.uuid4()
            ts = now - timedelta(minutes=k)
            prompt, answer = _texts(k, pii, distinct)
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
                    "reviewer": "r", "reviewed_at": now if approved_now else ts, "timestamp": ts, "metadata": {},
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


class _PeakRss:
    """The process's peak resident memory above its level at start, sampled every 20 ms (Linux /proc)."""

    def __init__(self) -> None:
        self.start = self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss())

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.start) / 2**20


def _rss() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _analyze(engine: sa.Engine) -> None:
    """Planner statistics after a bulk load, as autovacuum gathers them in production (without them
    PostgreSQL plans each keyset page of a fresh 100,000-row table as a scan from the start)."""
    with engine.begin() as conn:
        conn.execute(sa.text("ANALYZE"))


def run_scrub_size(n: int, database_url: str | None, distinct: int, memo: bool) -> dict[str, float]:
    """Cold, warm, unscrubbed and incremental export of N PII-carrying rows on a fresh database (module docstring)."""
    from fastapi.testclient import TestClient

    from aion_assets.app import create_app
    from aion_assets.core.auth import TokenVerifier, mint_token
    from aion_assets.core.db import make_engine
    from aion_assets.core.migrate import upgrade
    from aion_assets.memory import detections
    from aion_assets.memory.detections import DetectionStore
    from aion_assets.memory.scrub.engine import Scrubber, get_scrubber

    secret = "bench-export-secret-" + "x" * 24
    token = mint_token(secret, tenant_id=TENANT, roles=["reviewer"], ttl_seconds=24 * 3600)
    get_scrubber()  # the model load is not part of an export
    analysed = [0]
    real = Scrubber.detect_many
    memo_size = detections.MEMO_SIZE
    distinct = min(distinct, n)

    def counting(self: Scrubber, texts: list[str]) -> list:  # type: ignore[type-arg]
        analysed[0] += len(texts)
        return real(self, texts)

    def timed(client: TestClient, label: str, out: dict[str, float], rows: int) -> None:
        analysed[0] = 0
        with _PeakRss() as rss:
            t0 = time.perf_counter()
            got, _ = _http_export(client, token)
            out[f"{label}_s"] = time.perf_counter() - t0
        out[f"{label}_analysed"] = analysed[0]
        out[f"{label}_rss_mib"] = rss.growth_mib
        assert got == rows, f"{label}: exported {got} rows, expected {rows}"
        print(f"  {n:,} rows, {label}: {out[f'{label}_s']:.1f} s, {analysed[0]:,} texts analysed, "
              f"RSS +{rss.growth_mib:.0f} MiB", flush=True)

    Scrubber.detect_many = counting  # type: ignore[method-assign,assignment]
    try:
        with tempfile.TemporaryDirectory(prefix="aion-bench-export-") as tmp, _database(database_url, tmp) as urls:
            admin_url, app_url = urls
            upgrade(admin_url, app_url)
            owner = make_engine(admin_url, pool_size=1)
            fill(owner, n, pii=True, distinct=distinct)
            _analyze(owner)
            # The API connects as the application role, under row-level security, as in production.
            engine = make_engine(app_url, pool_size=2)
            out: dict[str, float] = {"rows": n, "distinct": distinct}
            with TestClient(create_app(engine, TokenVerifier(secret))) as client:
                timed(client, "cold", out, n)
                detections.MEMO_SIZE = memo_size if memo else 0
                timed(client, "warm", out, n)
                timed(client, "warm2", out, n)
                t0 = time.perf_counter()
                rows, _ = export(engine, Path(tmp))
                out["baseline_s"] = time.perf_counter() - t0
                assert rows == n, f"baseline: exported {rows} rows, expected {n}"
                out["stored"] = DetectionStore(engine).count(TENANT)
                fill(owner, 1000, pii=True, first=n, tenant_row=False, approved_now=True)
                _analyze(owner)
                timed(client, "incremental", out, n + 1000)
                detections.MEMO_SIZE = memo_size
            owner.dispose()
            engine.dispose()
    finally:
        Scrubber.detect_many = real  # type: ignore[method-assign]
        detections.MEMO_SIZE = memo_size
    return out


def _scrub_processes() -> int:
    """Processes the scrubber's analysis really ran on (1 when its workers could not start)."""
    from aion_assets.memory.scrub.engine import get_scrubber

    pool = get_scrubber().pool
    return pool.workers if pool is not None and pool.unavailable is None else 1


def main_scrub(args: argparse.Namespace) -> int:
    """``--scrub``: the scrubbed HTTP export, cold and warm, beside the unscrubbed baseline."""
    load_before = "/".join(f"{x:.1f}" for x in os.getloadavg())
    results = [run_scrub_size(n, args.database_url, args.distinct, args.memo) for n in args.sizes]
    load_after = "/".join(f"{x:.1f}" for x in os.getloadavg())
    lines = ["| rows | distinct prompts | cold: NER + store | texts analysed | warm: stored detections | "
             "texts analysed | warm peak RSS growth | no scrubbing (baseline) | +1,000 new approvals | "
             "texts analysed |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        warm = min(r["warm_s"], r["warm2_s"])
        lines.append(
            f"| {r['rows']:,} | {r['distinct']:,} | {r['cold_s']:.1f} s | {r['cold_analysed']:,} | {warm:.1f} s | "
            f"{r['warm_analysed'] + r['warm2_analysed']:,} | {max(r['warm_rss_mib'], r['warm2_rss_mib']):.0f} MiB | "
            f"{r['baseline_s']:.1f} s | {r['incremental_s']:.1f} s | {r['incremental_analysed']:,} |")
    biggest = max(results, key=lambda r: r["rows"])
    warm_big = min(biggest["warm_s"], biggest["warm2_s"])
    # What the 1,000 new approvals cost: the incremental export minus the warm export of the history.
    extra = biggest["incremental_s"] - warm_big
    per_text_cold = biggest["cold_s"] / max(1, biggest["cold_analysed"])
    backend = "PostgreSQL" if args.database_url and args.database_url.startswith("postgres") else "SQLite file"
    body = "\n".join(lines) + (
        f"\n\nBackend: {backend} (`ANALYZE` after each bulk load, as autovacuum does); `GET /datasets/sft` "
        "through the real app (FastAPI TestClient, in process), streamed to the end; each row's prompt holds a name, an e-mail, an order number and a phone number, its "
        "answer a first name; 10% extra weaker edits are dropped by deduplication. "
        "Cold: the first export; every distinct text is analysed by the NER (and the re-scan of each output) and "
        f"stored in `scrub_detections`; prompts come from a pool of DISTINCT texts and answers from a pool ten "
        "times smaller, so cold analyses about 2.2 x DISTINCT texts (originals and re-scans) whatever the rows. "
        "Warm: the same export again (best of two), timed apart from the cold one: each text's result under the "
        "policy (final spans, stored by the cold export in `scrub_results`) read from the store, one query per batch "
        "of rows, placeholders rendered, rows streamed (no policy step, no detection read); "
        f"{'the per-request memo on' if args.memo else 'the per-request memo of detections off, so every distinct text of a batch is looked up in the store'}. "
        "Peak RSS growth: resident memory sampled every 20 ms during the warm export, above its level when the "
        "export started. Baseline: the same rows curated without scrubbing, same run. +1,000: 1,000 new "
        "approvals with new texts on top of the history, then the export again (warm for the history, the "
        f"NER for the new texts only). At {biggest['rows']:,} rows the 1,000 cost {extra:.1f} s on top of the "
        f"warm export ({extra / 1000 * 1e3:.1f} ms per approval; {extra / max(1, biggest['incremental_analysed']) * 1e3:.1f} "
        f"ms per text analysed for them, the cold export {per_text_cold * 1e3:.1f} ms: what the new approvals cost is "
        "the analysis of their own texts, the history is served warm, and the export's vocabulary reads only "
        f"the new approvals). Target: {100_000:,} rows warm < 15 s: "
        f"{'met' if biggest['rows'] >= 100_000 and warm_big < 15 else 'NOT met' if biggest['rows'] >= 100_000 else 'not measured at 100,000'}"
        f" (warm / baseline in the same run: {warm_big / biggest['baseline_s']:.2f}x). Scrubber processes: "
        f"{_scrub_processes()} (`AION_SCRUB_WORKERS`; the cold export and the new approvals' analysis share them, "
        f"the warm export analyses nothing). Load average (1/5/15 min) before the run {load_before}, after {load_after} (the machine is shared: "
        "absolute times are pessimistic, compare within a row).\n"
    )
    print(body)
    if not args.no_write:
        from bench._report import write_section

        sizes = " ".join(str(n) for n in args.sizes)
        db = " --database-url postgresql://postgres@127.0.0.1/postgres" if backend == "PostgreSQL" else ""
        env = f"AION_SCRUB_WORKERS={_scrub_processes()} " if _scrub_processes() > 1 else ""
        write_section("export_scrub", "Scrubbed export: cold (analysing) and warm (stored detections)", body,
                      command=f"{env}python -m bench.bench_export --scrub --sizes {sizes} --distinct {args.distinct}{db}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[25_000, 100_000])
    parser.add_argument("--database-url", default=None, help="empty database to use instead of a SQLite file")
    parser.add_argument("--no-write", action="store_true", help="print only, do not touch docs/")
    parser.add_argument("--scrub", action="store_true", help="the scrubbed HTTP export, cold and warm")
    parser.add_argument("--distinct", type=int, default=10_000, help="--scrub: distinct prompts (pool size)")
    parser.add_argument("--memo", action="store_true", help="--scrub: keep the per-request detections memo on")
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

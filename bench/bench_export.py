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
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

TARGET_S = 30.0
TENANT = "bench"


def fill(engine: sa.Engine, n: int) -> None:
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
            inters.append({
                "id": iid, "tenant_id": TENANT, "agent_id": "bot", "user_id": f"u{k}",
                "input_text": f"How do I configure feature {k} of the Acme router after a firmware update?",
                "output_text": "Please see the manual.", "model_version": "m1", "channel": "chat",
                "timestamp": ts, "metadata": {"domain": "support"},
            })
            for extra in range(2 if k % 10 == 0 else 1):
                edits.append({
                    "id": uuid.uuid4(), "tenant_id": TENANT, "interaction_id": iid, "agent_id": "bot",
                    "editor_type": "human", "original_output": "Please see the manual.",
                    "edited_output": f"Open Settings > Advanced, enable feature {k}, then save and reboot.",
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[25_000, 100_000])
    parser.add_argument("--database-url", default=None, help="empty database to use instead of a SQLite file")
    parser.add_argument("--no-write", action="store_true", help="print only, do not touch docs/")
    args = parser.parse_args(argv)
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

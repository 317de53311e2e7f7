"""Does the loop really learn? The demo domains end to end with the real model, on this machine.

For each domain: a fresh embedded home, the domain's traffic ingested through the HTTP API,
then Dagster materializes scrubbed_edits -> sft_dataset -> lora_adapter (the configured
defaults: at most 8 minutes of training) -> evaluation_report, exactly as `make demo` does.
The figures (base, style-only control, candidate on held-out questions) go into the
"learning" section of docs/benchmarks.md, a few example answers into docs/learning-examples.md.

    python -m bench.bench_learning [--domains acme/support globex/billing] [--train-minutes 8] [--one-core]

``--one-core`` emulates a machine half as fast: the process (and the runs it starts) pinned to
CPU 0, one torch / OpenMP thread.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._report import write_section

ROOT = Path(__file__).resolve().parent.parent
METRICS = [("rougeL_body", "body ROUGE-L"), ("fact_recall", "key-fact recall"), ("style", "house style"),
           ("rougeL", "whole-answer ROUGE-L"), ("chrf_body", "body chrF"), ("consistency_body", "body consistency"),
           ("scenario_pass_rate", "scenario pass rate")]


def run_domain(name: str, train_minutes: float | None, model_home: Path) -> dict[str, Any]:
    from aion_assets.core.migrate import upgrade
    from aion_assets.core.settings import get_settings
    from aion_assets.demo.ingest import ingest_sample
    from aion_assets.runs import run_partition

    home = Path(tempfile.mkdtemp(prefix="aion-learning-"))
    os.environ["AION_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    (home / "dagster").mkdir()
    get_settings.cache_clear()
    settings = get_settings()
    upgrade(settings.db_url)
    ingest_sample(settings, domains=(name,), echo=lambda _m: None)
    tenant, domain = name.split("/")
    started = time.perf_counter()
    out = run_partition(settings, tenant, domain, max_train_minutes=train_minutes,
                        require_beats_control=("rougeL_body",), model_home=model_home, echo=print)
    out["wall_seconds"] = time.perf_counter() - started
    if out["success"]:
        out["examples"] = _examples(settings.artifacts, out["report"]["examples_uri"])
    (home / "bench-learning.json").write_text(json.dumps(out, default=str))
    return out


def _examples(artifacts_uri: str, examples_uri: str) -> list[dict[str, Any]]:
    from aion_assets.core.artifacts import artifact_store_from_uri

    store = artifact_store_from_uri(artifacts_uri)
    key = examples_uri.split("/artifacts/", 1)[1]
    return [json.loads(line) for line in store.get_bytes(key).decode().splitlines()]


def from_home(home: Path, name: str) -> dict[str, Any]:
    """Re-read a finished run's results from its home (to re-render without training again)."""
    import dagster as dg

    from aion_assets.seal.assets import evaluation_report, lora_adapter
    from aion_assets.seal.datasets.assets import sft_dataset
    from aion_assets.seal.refs import latest_metadata

    saved = home / "bench-learning.json"
    if saved.exists():
        return json.loads(saved.read_text())  # type: ignore[no-any-return]
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        out: dict[str, Any] = {"success": True}
        for label, asset in (("dataset", sft_dataset), ("adapter", lora_adapter), ("report", evaluation_report)):
            out[label] = latest_metadata(instance, asset.key, name)
        records = instance.get_run_records()
        out["wall_seconds"] = sum((r.end_time or 0) - (r.start_time or 0) for r in records)
    out["checks"] = {"candidate_not_worse_than_baseline": bool(out["report"]["gate_passed"])}
    out["examples"] = _examples((home / "artifacts").as_uri(), out["report"]["examples_uri"])
    return out


def table(name: str, out: dict[str, Any]) -> str:
    summary = out["report"]["summary"]
    models = summary["models"]
    lines = [f"### {name}", "",
             f"Adapter `{out['adapter']['version']}`: {out['adapter']['steps']} steps in "
             f"{out['adapter']['train_seconds']} s ({out['adapter']['tokens_per_s']} tokens/s through the asset, "
             f"{out['adapter']['precision']}, stopped by {out['adapter']['stopped_by']}); dataset "
             f"{out['dataset']['rows_train']} train / {out['dataset']['rows_eval']} held-out rows; whole run "
             f"{out['wall_seconds'] / 60:.1f} min (scrub, curate, train, evaluate); gate: {'passed' if all(out['checks'].values()) else 'FAILED'}.", "",
             "| metric | base | style-only control | candidate | candidate - base (95% CI) | relative |",
             "|---|---:|---:|---:|---|---:|"]
    for metric, label in METRICS:
        vals = [models[r]["metrics"].get(metric) for r in ("baseline", "control", "candidate")]
        if all(v is None for v in vals):
            continue
        ci = summary["vs_baseline"].get(metric)
        interval = f"{ci['diff']:+.3f} ({ci['low']:+.3f} to {ci['high']:+.3f})" if ci else ""
        rel = f"{vals[2] / vals[0] - 1:+.0%}" if vals[0] and vals[2] is not None else ""
        cells = " | ".join(f"{v:.3f}" if v is not None else "-" for v in vals)
        lines.append(f"| {label} | {cells} | {interval} | {rel} |")
    evals = models["candidate"].get("examples_per_second")
    lines += ["", f"Evaluation speed: {evals:.2f} examples/s per model (greedy, batched)." if evals else ""]
    return "\n".join(lines)


def examples_md(name: str, out: dict[str, Any], n: int = 3) -> str:
    by_role: dict[str, dict[str, Any]] = {}
    for ex in out.get("examples", []):
        if ex.get("source") == "eval":
            by_role.setdefault(ex["id"], {})[ex["role"]] = ex
    lines = [f"## {name}", ""]
    ids = list(by_role)
    # Two answers as they come, then one where the candidate got key facts wrong: the adapter
    # is far from perfect (see key-fact recall), and the examples should show that too.
    wrong = [i for i in ids[n - 1:] if (by_role[i].get("candidate", {}).get("fact_recall") or 0) < 0.5]
    chosen = ids[: n - 1] + wrong[:1]
    for ex_id in chosen:
        roles = by_role[ex_id]
        cand = roles.get("candidate", {})
        lines += [f"**Question:** {cand.get('prompt', '')}", "",
                  "**Reference (human edit):**\n\n> " + str(cand.get("reference", "")).replace("\n", "\n> "), "",
                  "**Base model:**\n\n> " + str(roles.get("baseline", {}).get("answer", "")).replace("\n", "\n> "), "",
                  "**Candidate (base + adapter):**\n\n> " + str(cand.get("answer", "")).replace("\n", "\n> "), ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--domains", nargs="+", default=["acme/support", "globex/billing"])
    parser.add_argument("--train-minutes", type=float, default=None, help="default: config/seal.yaml (8)")
    parser.add_argument("--model-home", type=Path, default=ROOT / ".aion", help="cache of the converted base model")
    parser.add_argument(
        "--from-homes", type=Path, nargs="+", default=None,
        help="re-render from finished runs' AION_HOMEs (one per domain, same order) instead of training again",
    )
    parser.add_argument("--one-core", action="store_true", help="taskset -c 0 and torch.set_num_threads(1)")
    args = parser.parse_args()
    if args.one_core:
        import torch

        os.sched_setaffinity(0, {0})
        os.environ["OMP_NUM_THREADS"] = "1"  # inherited by any run process Dagster starts
        torch.set_num_threads(1)
    if args.from_homes:
        results = {name: from_home(home, name) for name, home in zip(args.domains, args.from_homes, strict=True)}
    else:
        results = {name: run_domain(name, args.train_minutes, args.model_home) for name in args.domains}
    body = ["The demo domains (`aion_assets/demo/`: invented products, prices, codes, procedures and "
            "hours a base model cannot know, 6 paraphrases per question, held-out paraphrases evaluated) through the "
            "whole loop with SmolLM2-135M-Instruct on 2 CPU cores, same code path and defaults for both domains. "
            "\"Body\" metrics drop the house greeting and sign-off; the control is the base model's answer wrapped in "
            "them, so that style alone does not count as learning.", ""]
    examples = ["# Example answers from the learning benchmark", "",
                "Held-out questions (paraphrases never seen in training), written by `python -m bench.bench_learning`.", ""]
    for name, out in results.items():
        if not out["success"]:
            body.append(f"### {name}\n\nthe run FAILED:\n\n```\n" + "\n".join(out["failures"]) + "\n```")
            continue
        body.append(table(name, out))
        examples.append(examples_md(name, out))
    section = ("learning-one-core", "Learning on the demo domains, one core (issue 15)") if args.one_core else (
        "learning", "Learning on the demo domains (issue 7)")
    write_section(*section, "\n\n".join(body),
                  command="python -m bench.bench_learning --domains " + " ".join(args.domains)
                  + (" --one-core" if args.one_core else ""))
    (ROOT / "docs" / "learning-examples.md").write_text("\n".join(examples) + "\n")
    print("\n\n".join(body))


if __name__ == "__main__":
    main()

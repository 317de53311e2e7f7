"""Training levers compared at a fixed number of steps: key-fact recall on held-out paraphrases.

One invocation trains one adapter with `train_lora` on a generated domain's train split
(`aion_assets/demo/domains.py`), answers the held-out paraphrases greedily (160 new tokens, as
the evaluation asset does) and appends one JSON line (variant, steps, tokens, tokens/s, load
average, key-fact recall) to ``--out``. Comparing levers at a fixed step count (not a fixed
time) keeps the comparison fair on a machine other people are loading; throughput is reported
beside it, with the 1-minute load average taken before and after training.

    python -m bench.bench_levers run --domain acme/support --steps 60 --variant cosine \
        --hp lr_scheduler=cosine warmup_steps=3 --out /tmp/levers.jsonl
    python -m bench.bench_levers report /tmp/levers.jsonl   # the "levers" section of docs/benchmarks.md

``--one-core`` pins the process to CPU 0 and uses one torch thread (a machine half as fast).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _cpu_bf16() -> str:
    from aion_assets.seal.training.train_args import detect_devices

    return "native bf16" if detect_devices().cpu_bf16 else "no native bf16 (fp32)"


#: A unit of 2-12 characters repeated at least six times in a row: greedy decoding stuck in a loop
#: ("version 3.4.1.6.6.6.6.6.6...") until the token budget ends, so the answer loses its sign-off.
LOOP = re.compile(r"(.{2,12}?)\1{5,}", re.DOTALL)


def looping(answer: str) -> bool:
    """Whether ANSWER holds a degenerate repetition (see `LOOP`)."""
    return LOOP.search(answer) is not None


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train one variant and score it; returns (and appends) the result line."""
    if args.one_core:
        os.sched_setaffinity(0, {args.cpu})
    import logging

    import torch

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    logging.getLogger("aion_assets.seal.training.train").setLevel(logging.INFO)
    torch.set_num_threads(1 if args.one_core else (args.threads or torch.get_num_threads()))
    from peft import PeftModel

    from aion_assets.core.settings import CONFIG_DIR
    from aion_assets.demo.domains import generate_domain
    from aion_assets.seal.config import HyperParameters, load_seal_config
    from aion_assets.seal.evaluation.generation import generate_answers
    from aion_assets.seal.evaluation.items import items_from_rows
    from aion_assets.seal.evaluation.metrics import extract_facts, fact_recall
    from aion_assets.seal.training.base_models import load_causal_lm, load_tokenizer, resolve_base_model
    from aion_assets.seal.training.train import train_lora

    tenant, domain = args.domain.split("/")
    base = resolve_base_model("aion-base", args.model_home)
    hp_dict = load_seal_config(CONFIG_DIR / "seal.yaml").hyperparameters_for(tenant, domain).model_dump()
    hp_dict.update({"max_steps": args.steps, "max_train_minutes": args.minutes})
    hp_dict.update({k: _value(v) for k, v in (kv.split("=", 1) for kv in args.hp)})
    hp = HyperParameters.model_validate(hp_dict)
    data = generate_domain(args.domain)
    train_rows, eval_rows = data.curated_rows(split="train"), data.curated_rows(split="eval")

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="aion-levers-") as tmp:
        result = train_lora(base.path, train_rows, None, hp, Path(tmp) / "adapter")
        load_after = os.getloadavg()[0]
        tokenizer = load_tokenizer(base.path)
        model = PeftModel.from_pretrained(load_causal_lm(base.path), str(result.adapter_dir))
        items = items_from_rows(eval_rows)
        started = time.monotonic()
        answers = generate_answers(model, tokenizer, [it.chat for it in items], max_new_tokens=160)
        gen_seconds = time.monotonic() - started
    facts = [it.facts if it.facts is not None else extract_facts(it.reference or "") for it in items]
    recalls = [fact_recall(a, f) for a, f in zip(answers, facts, strict=True)]
    scored = [r for r in recalls if r is not None]
    out = {
        "domain": args.domain,
        "variant": args.variant,
        "one_core": bool(args.one_core),
        "cpu": args.cpu if args.one_core else None,
        "threads": torch.get_num_threads(),
        "hp": {k: _value(v) for k, v in (kv.split("=", 1) for kv in args.hp)},
        "minutes": args.minutes,
        "steps": result.steps,
        "stopped_by": result.stopped_by,
        "tokens": result.tokens,
        "padded_tokens": result.extra.get("padded_tokens"),
        "train_seconds": round(result.train_seconds, 1),
        "tokens_per_s": round(result.tokens_per_s, 1),
        "steps_per_min": round(60 * result.steps / max(result.train_seconds, 1e-9), 2),
        "final_loss": result.loss_curve[-1][1] if result.loss_curve else None,
        "fact_recall": round(statistics.mean(scored), 4),
        "looping": round(sum(looping(a) for a in answers) / max(len(answers), 1), 4),
        "eval_items": len(scored),
        "generation_seconds": round(gen_seconds, 1),
        "load_avg_1m": [round(load_before, 2), round(load_after, 2)],
        "precision": result.precision,
        "extra": {k: v for k, v in result.extra.items() if k != "padded_tokens"},
    }
    with open(args.out, "a") as fh:
        fh.write(json.dumps(out) + "\n")
    if args.answers:
        with open(args.answers, "a") as fh:
            for it, fs, answer, recall in zip(items, facts, answers, recalls, strict=True):
                row = {"variant": args.variant, "domain": args.domain, "question": it.prompt,
                       "facts": list(fs), "answer": answer, "fact_recall": recall}
                fh.write(json.dumps(row) + "\n")
    print(json.dumps(out))
    return out


def padding_table(model_home: Path, steps: int = 200, batch_size: int = 8) -> str:
    """Padding and answer coverage of each batching, from the tokenized rows alone (no training, load-free)."""
    from collections import Counter

    from aion_assets.demo.domains import generate_domain
    from aion_assets.seal.training.base_models import load_tokenizer, resolve_base_model
    from aion_assets.seal.training.batching import TrainOrder, fit_max_seq_len, group_ids
    from aion_assets.seal.training.train_data import IGNORE_INDEX, encode_rows

    tokenizer = load_tokenizer(resolve_base_model("aion-base", model_home).path)
    lines = [
        f"Padding computed beyond the real tokens over the first {steps} batches of {batch_size}, and how often "
        "each distinct answer is visited in the first 40 steps (min-max over answers), from the tokenized "
        "train split (`python -m bench.bench_levers padding`):",
        "",
        "| domain | rows | distinct answers | token length p50 / p99 / max | fitted max_seq_len | shuffle | "
        "by_length | by_length + balance_answers |",
        "|---|---:|---:|---|---:|---|---|---|",
    ]
    for name in ("acme/support", "globex/billing", "velocia/service"):
        encoded = encode_rows(tokenizer, generate_domain(name).curated_rows(split="train"), 512)
        lengths = [len(e["input_ids"]) for e in encoded]
        groups = group_ids([tuple(t for t in e["labels"] if t != IGNORE_INDEX) for e in encoded])
        ordered = sorted(lengths)
        cells = []
        for kwargs in ({"by_length": False}, {}, {"groups": groups}):
            order = TrainOrder(lengths, batch_size, 1234, **kwargs)  # type: ignore[arg-type]
            passes = steps * batch_size // len(lengths) + 1
            idx = order.indices(passes)[: steps * batch_size]
            batches = [idx[i : i + batch_size] for i in range(0, len(idx), batch_size)]
            padded = sum(max(lengths[i] for i in b) * len(b) for b in batches)
            visits = Counter(groups[i] for i in idx[: 40 * batch_size])
            low = min(visits.get(g, 0) for g in set(groups))
            cells.append(f"+{padded / sum(lengths[i] for i in idx) - 1:.1%} padding; visits {low}-{max(visits.values())}")
        lines.append(
            f"| {name} | {len(lengths)} | {len(set(groups))} | {ordered[len(ordered) // 2]} / "
            f"{ordered[int(0.99 * (len(ordered) - 1))]} / {ordered[-1]} | {fit_max_seq_len(lengths, 512)} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)


def _share(value: float | None) -> str:
    """A share as a percentage, or "" for result lines written before it was measured."""
    return "" if value is None else f"{100 * value:.0f}%"


def report(args: argparse.Namespace) -> None:
    """Render the result lines as the "levers" section of docs/benchmarks.md."""
    from bench._report import write_section

    rows = [json.loads(line) for line in Path(args.results).read_text().splitlines() if line.strip()]
    lines = [
        f"CPU: {_cpu_bf16()}; training precision as `precision: auto` picks it. Each row is one training "
        "run at a fixed number of optimizer steps (time budget off), or, where the settings name one, in a fixed "
        "time budget, followed by greedy answers to the "
        "domain's held-out paraphrases (160 new tokens); key-fact recall is the evaluation's `fact_recall`. "
        "Throughput is wall time on a machine shared with other work: the load average (1 min, before / "
        "after training) is beside each figure.",
        "",
        "| domain | variant | settings | steps | tokens | tokens/s | steps/min | final loss | key-fact recall "
        "| answers in a loop | load avg |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        settings = ", ".join(f"{k}={v}" for k, v in r["hp"].items()) or "defaults"
        if r.get("minutes"):
            settings += f", {r['minutes']:g}-minute budget (steps as many as fit)"
        if r.get("one_core"):
            settings += f", one core (CPU {r.get('cpu', 0)}, 1 thread)"
        lines.append(
            f"| {r['domain']} | {r['variant']} | {settings} | {r['steps']} | {r['tokens']} | "
            f"{r['tokens_per_s']} | {r['steps_per_min']} | {r['final_loss']:.3f} | {r['fact_recall']:.3f} "
            f"({r['eval_items']} items) | {_share(r.get('looping'))} | {r['load_avg_1m'][0]} / {r['load_avg_1m'][1]} |"
        )
    lines += ["", padding_table(args.model_home)]
    if args.notes:
        lines += ["", Path(args.notes).read_text().strip()]
    write_section(
        args.section,
        args.title,
        "\n".join(lines),
        command="python -m bench.bench_levers run --domain D --steps N --variant V --hp ... ; "
        f"python -m bench.bench_levers report RESULTS --section {args.section}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run", help="train and score one variant")
    p.add_argument("--domain", default="acme/support")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--minutes", type=float, default=None, help="time budget (default: none, steps only)")
    p.add_argument("--variant", required=True)
    p.add_argument("--hp", nargs="*", default=[], help="hyperparameter overrides key=value (JSON values)")
    p.add_argument("--model-home", type=Path, default=ROOT / ".aion")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--one-core", action="store_true", help="pin to one CPU (--cpu) and torch.set_num_threads(1)")
    p.add_argument("--cpu", type=int, default=0, help="the CPU --one-core pins to (two variants side by side: 0 and 1)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--answers", type=Path, help="also append every held-out answer with its facts and recall (JSONL)")
    r = sub.add_parser("report", help="write the results into docs/benchmarks.md")
    r.add_argument("results", type=Path)
    r.add_argument("--notes", type=Path, help="markdown appended below the table")
    r.add_argument("--section", default="levers", help="the docs/benchmarks.md section it (re)writes")
    r.add_argument("--title", default="Training levers at a fixed number of steps (issue 15)")
    r.add_argument("--model-home", type=Path, default=ROOT / ".aion")
    pad = sub.add_parser("padding", help="print the padding table (tokenization only)")
    pad.add_argument("--model-home", type=Path, default=ROOT / ".aion")
    args = parser.parse_args()
    if args.cmd == "run":
        run(args)
    elif args.cmd == "report":
        report(args)
    else:
        print(padding_table(args.model_home))


if __name__ == "__main__":
    main()

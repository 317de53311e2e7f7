"""Where one training step's time goes: the product's `train_lora` under torch.profiler (issue 15).

Runs `train_lora` on a domain's curated train split with seal.yaml's hyperparameters for a few
optimizer steps; the profiler starts at the training loop (model loading, tokenization and the
first WARMUP steps excluded) and records ACTIVE steps. Every operator's self time is put in one
cell of a table, by phase and by kind:

- phase: **forward**, **backward** (run by autograd's engine) or **optimizer** (inside
  ``Optimizer.step``);
- kind: **LoRA matmuls** (a matrix product with a dimension equal to the LoRA rank), **attention**
  (scaled dot-product attention and its backward), **frozen-weight matmuls** (the base model's
  projections and the lm_head at response positions), and **the rest** (norms, activations,
  element-wise ops, copies, the loss).

The difference between the steps' wall time and the operators' time is Python, the data loader
and the Trainer's own bookkeeping ("outside operators"). The profiler adds its own cost to every
operator call, so tokens/s under the profiler is lower than in bench_train; the shares are what
the table is for.

    python -m bench.bench_profile [--domain acme/support] [--warmup 2] [--active 6] [--one-core] [--no-write]

Writes the "training-profile" section of docs/benchmarks.md (command, machine, the CPU's bf16
support, pinning) unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PHASES = ("forward", "backward", "optimizer")
KINDS = ("LoRA matmuls", "attention", "frozen-weight matmuls", "the rest")
_MATMULS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear", "aten::baddbmm")
#: Lower-case parts of attention kernels' names, forward (aten::_scaled_dot_product_flash_attention_for_cpu)
#: and backward (ScaledDotProductFlashAttentionForCpuBackward0).
_ATTENTION = ("scaled_dot_product", "scaleddotproduct", "flash_attention", "flashattention", "efficient_attention")


@dataclass(frozen=True)
class OpTime:
    """One operator call: its name, the names of its ancestors (nearest first), input shapes, self time (µs)."""

    name: str
    ancestors: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    self_us: float


def phase_of(op: OpTime) -> str:
    """forward, backward or optimizer, from the op's own name and its ancestors' (pure)."""
    names = (op.name, *op.ancestors)
    if any(n.startswith("Optimizer.") or "Optimizer.step" in n for n in names):
        return "optimizer"
    if any(n.startswith("autograd::engine::evaluate_function") or n.endswith("Backward0") for n in names):
        return "backward"
    return "forward"


def kind_of(op: OpTime, rank: int) -> str:
    """Which kind of work the op is (see the module's docstring) (pure).

    An attention kernel is attention wherever it is called from; a matrix product belongs to LoRA
    when one of its inputs has the LoRA rank as a dimension, else it multiplies a frozen weight.
    """
    names = (op.name, *op.ancestors)
    if any(any(a in n.lower() for a in _ATTENTION) for n in names):
        return "attention"
    if op.name in _MATMULS:
        dims = {d for shape in op.shapes for d in shape[-2:]}
        return "LoRA matmuls" if rank in dims else "frozen-weight matmuls"
    return "the rest"


def breakdown(ops: Iterable[OpTime], rank: int) -> dict[tuple[str, str], float]:
    """Self time in seconds per (phase, kind) (pure)."""
    cells: dict[tuple[str, str], float] = defaultdict(float)
    for op in ops:
        cells[(phase_of(op), kind_of(op, rank))] += op.self_us / 1e6
    return dict(cells)


def table_markdown(cells: Mapping[tuple[str, str], float], wall_s: float) -> str:
    """The breakdown as a markdown table: seconds and share of the steps' wall time per cell (pure)."""
    op_total = sum(cells.values())
    outside = max(wall_s - op_total, 0.0)

    def cell(seconds: float) -> str:
        return f"{seconds:.2f} s ({100 * seconds / wall_s:.0f}%)" if wall_s > 0 else f"{seconds:.2f} s"

    lines = ["| kind | " + " | ".join(PHASES) + " | all phases |", "|---|" + "---:|" * (len(PHASES) + 1)]
    for kind in KINDS:
        row = [cells.get((phase, kind), 0.0) for phase in PHASES]
        lines.append(f"| {kind} | " + " | ".join(cell(v) for v in row) + f" | **{cell(sum(row))}** |")
    totals = [sum(cells.get((phase, kind), 0.0) for kind in KINDS) for phase in PHASES]
    lines.append("| all operators | " + " | ".join(cell(v) for v in totals) + f" | **{cell(op_total)}** |")
    lines.append(f"| outside operators (Python, data, Trainer) | | | | {cell(outside)} |")
    return "\n".join(lines)


def top_ops(ops: Iterable[OpTime], rank: int, kind: str, n: int = 6) -> list[tuple[str, float]]:
    """The N operators with the most self time (seconds) among those of KIND (pure)."""
    totals: dict[str, float] = defaultdict(float)
    for op in ops:
        if kind_of(op, rank) == kind:
            totals[op.name] += op.self_us / 1e6
    return sorted(totals.items(), key=lambda kv: -kv[1])[:n]


def _ops_of(events: Sequence[Any]) -> list[OpTime]:
    out = []
    for ev in events:
        if ev.name.startswith("ProfilerStep"):
            continue  # the step's own marker: its self time is what ran outside operators
        ancestors, parent = [], ev.cpu_parent
        while parent is not None:
            ancestors.append(parent.name)
            parent = parent.cpu_parent
        shapes = tuple(tuple(int(d) for d in s) for s in (ev.input_shapes or []) if isinstance(s, (list, tuple)))
        out.append(OpTime(ev.name, tuple(ancestors), shapes, float(ev.self_cpu_time_total)))
    return out


def run(domain: str, warmup: int, active: int, model_home: Path) -> dict[str, Any]:
    """Train WARMUP + ACTIVE steps under the profiler; the breakdown of the ACTIVE ones and the run's figures."""
    import torch
    from torch.profiler import ProfilerActivity, profile, schedule

    from aion_assets.core.settings import get_settings
    from aion_assets.demo.domains import generate_domain
    from aion_assets.seal.config import load_seal_config
    from aion_assets.seal.training.base_models import resolve_base_model
    from aion_assets.seal.training.train import train_lora

    tenant, dom = domain.split("/")
    hp = load_seal_config(get_settings().seal_config).hyperparameters_for(tenant, dom)
    hp = hp.model_copy(update={"max_steps": warmup + active, "max_train_minutes": None})
    rows = generate_domain(domain).curated_rows(split="train")
    base = resolve_base_model("aion-base", model_home)
    prof = profile(
        activities=[ProfilerActivity.CPU], record_shapes=True,
        schedule=schedule(wait=0, warmup=warmup, active=active, repeat=1),
    )
    marks: dict[str, float] = {}

    def begin(_steps: int, _budget: float | None) -> None:
        prof.start()

    def step(n: int, _loss: float, _rate: float) -> None:
        if n == warmup:
            marks["start"] = time.perf_counter()
        if n == warmup + active:
            marks["end"] = time.perf_counter()
        prof.step()

    with tempfile.TemporaryDirectory(prefix="aion-profile-") as tmp:
        result = train_lora(base.path, rows, None, hp, Path(tmp) / "adapter", progress_begin=begin,
                            progress_callback=step)
    prof.stop()
    ops = _ops_of(list(prof.events()))
    wall = marks["end"] - marks["start"]
    return {
        "domain": domain,
        "warmup": warmup,
        "active": active,
        "wall_s": wall,
        "cells": breakdown(ops, hp.r),
        "top_rest": top_ops(ops, hp.r, "the rest"),
        "top_frozen": top_ops(ops, hp.r, "frozen-weight matmuls", 3),
        "precision": result.precision,
        "batch_size": hp.batch_size,
        "r": hp.r,
        "target_modules": list(hp.target_modules),
        "tokens_per_s_profiled": result.tokens_per_s,
        "threads": torch.get_num_threads(),
    }


def report_body(res: Mapping[str, Any], cpu: str, pinning: str) -> str:
    """The section's markdown (pure)."""
    cells = res["cells"]
    wall = res["wall_s"]
    share = {k: sum(cells.get((p, k), 0.0) for p in PHASES) / wall for k in KINDS} if wall > 0 else {}
    top = sorted(share.items(), key=lambda kv: -kv[1])
    return "\n".join([
        f"`train_lora` on `{res['domain']}` with seal.yaml's hyperparameters (batch {res['batch_size']}, LoRA "
        f"r={res['r']} on {', '.join(res['target_modules'])}, {res['precision']}), {pinning}. CPU: **{cpu}**. "
        f"{res['active']} optimizer steps profiled after {res['warmup']} warm-up steps: {wall:.1f} s of wall time "
        f"({wall / res['active']:.2f} s per step; {res['tokens_per_s_profiled']:.0f} tokens/s over the whole "
        "run, profiler included). Each cell is operators' self time over the profiled steps and its share of "
        "their wall time.",
        "",
        table_markdown(cells, wall),
        "",
        "Largest shares: " + ", ".join(f"{k} {100 * v:.0f}%" for k, v in top) + ".",
        "",
        "Operators with the most self time in \"the rest\": "
        + ", ".join(f"`{name}` {sec:.2f} s" for name, sec in res["top_rest"])
        + "; in the frozen-weight matmuls: " + ", ".join(f"`{name}` {sec:.2f} s" for name, sec in res["top_frozen"])
        + ".",
    ])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--domain", default="acme/support")
    parser.add_argument("--warmup", type=int, default=2, help="steps run before profiling")
    parser.add_argument("--active", type=int, default=6, help="steps profiled")
    parser.add_argument("--one-core", action="store_true", help="pin to CPU 0 with one torch thread first")
    parser.add_argument("--model-home", type=Path, default=ROOT / ".aion", help="cache of the converted base model")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if args.warmup < 1 or args.active < 1:
        parser.error("--warmup and --active must be at least 1")
    from bench._cpu import cpu_bf16_label, describe_pinning, pin_one_core, pinning_state
    from bench._report import write_section

    if args.one_core:
        pin_one_core(0)  # before anything imports torch
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    res = run(args.domain, args.warmup, args.active, args.model_home)
    body = report_body(res, cpu_bf16_label(), describe_pinning(pinning_state()))
    print(body)
    if args.no_write:
        return
    command = f"python -m bench.bench_profile --domain {args.domain} --warmup {args.warmup} --active {args.active}"
    command += " --one-core" if args.one_core else ""
    write_section("training-profile", "Where a training step's time goes (issue 15)", body, command=command)


if __name__ == "__main__":
    sys.exit(main())

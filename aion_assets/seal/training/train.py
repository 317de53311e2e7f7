"""LoRA training of a causal LM on curated SFT rows (PEFT + transformers Trainer + accelerate).

`train_lora` is plain Python, called by the `lora_adapter` asset and by the CLI below (which
``accelerate launch`` starts once per GPU). It writes a standard PEFT adapter folder
(``adapter_config.json`` + ``adapter_model.safetensors``) that PEFT, vLLM and LoRAX load as is.

Speed on CPU comes from bf16 autocast with fp32 master weights (on CPUs with native bf16), from
computing logits only at response positions (see `train_loss`; the Trainer subclass and its
step callback are in `trainer`), and from batching rows of similar length with a sequence limit
fitted to the data (`batching`). Linear and cosine schedules decay over the run's progress, steps
or time budget, whichever binds (`schedule`), so a run cut by the budget still ends annealed.
Training ends at ``max_steps``, after ``epochs``, or when ``max_train_minutes`` is spent,
whichever comes first; ``should_stop()`` is asked after every step and a cancelled run raises
`TrainingCancelledError` and leaves nothing at ``output_dir``.

Run ``python -m aion_assets.seal.training.train --help`` for the command line.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aion_assets.core.errors import AionError, ArtifactError, ConfigError
from aion_assets.core.settings import CONFIG_DIR
from aion_assets.seal.config import HyperParameters, load_seal_config
from aion_assets.seal.training.batching import TrainOrder, fit_max_seq_len, group_ids
from aion_assets.seal.training.schedule import BudgetProgress
from aion_assets.seal.training.train_args import (
    ACCELERATE_MULTI_GPU_CONFIG,
    DEEPSPEED_ZERO2_CONFIG,
    DeviceInfo,
    build_training_arguments,
    detect_devices,
    launch_command,
    resolve_precision,
    training_arguments_kwargs,
)
from aion_assets.seal.training.train_data import IGNORE_INDEX, Collator, encode_rows
from aion_assets.seal.training.trainer import (
    ListDataset,
    ProgressBegin,
    ProgressCallback,
    check_targets,
    make_trainer_classes,
    num_hidden_layers,
    response_eval_loss,
    zero_stage,
)

log = logging.getLogger(__name__)

__all__ = [
    "ACCELERATE_MULTI_GPU_CONFIG",
    "DEEPSPEED_ZERO2_CONFIG",
    "DeviceInfo",
    "TrainResult",
    "TrainingCancelledError",
    "build_training_arguments",
    "detect_devices",
    "launch_command",
    "train_lora",
    "training_arguments_kwargs",
]


class TrainingCancelledError(AionError):
    """``should_stop()`` asked the run to stop; nothing was written to the output folder."""


@dataclass
class TrainResult:
    """What a finished training run produced.

    Attributes:
        adapter_dir: the PEFT adapter folder (the ``output_dir`` given).
        loss_curve: ``(step, training loss)`` after each optimizer step.
        steps: optimizer steps taken.
        tokens: non-padding tokens processed (prompt and response) by this process.
        tokens_per_s: tokens / train_seconds.
        train_seconds: wall time of the training loop (model loading excluded).
        stopped_by: ``"max_steps"``, ``"epochs"`` or ``"time_budget"``.
        eval_loss: mean response-token loss on eval_rows after training (None without them).
        precision: ``"bf16"`` (autocast) or ``"fp32"``.
        n_train_examples: rows that had a response to learn from.
        extra: ``padded_tokens`` (tokens computed on, padding included), the fitted
            ``max_seq_len`` and the ``truncated_rows`` it cut, ``distinct_answers`` (fact sets),
            the batching, schedule and ``final_lr_factor`` (learning rate of the last step / peak), and
            the distributed set-up.
    """

    adapter_dir: Path
    loss_curve: list[tuple[int, float]]
    steps: int
    tokens: int
    tokens_per_s: float
    train_seconds: float
    stopped_by: str
    eval_loss: float | None
    precision: str
    n_train_examples: int
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        out = asdict(self)
        out["adapter_dir"] = str(self.adapter_dir)
        out["loss_curve"] = [[s, v] for s, v in self.loss_curve]
        return out




def adapted_layers(hp: HyperParameters, num_layers: int) -> list[int] | None:
    """Indices of the transformer blocks HP adapts in a model of NUM_LAYERS blocks (None: all of them).

    ``top_layers`` N keeps the N blocks nearest the output: gradients then flow back only through
    those, and the blocks below run forward only (no activations kept for backward).
    """
    if hp.top_layers is None or hp.top_layers >= num_layers:
        return None
    return list(range(num_layers - hp.top_layers, num_layers))


def lora_config(hp: HyperParameters, num_layers: int | None = None) -> Any:
    """The PEFT ``LoraConfig`` of HP (rank, alpha, dropout, targets, adapted blocks): what ``train_lora``
    trains, and what a benchmark gives a peer trainer so that both train the same adapter shape.

    NUM_LAYERS (the base model's ``num_hidden_layers``) is needed when HP sets ``top_layers``.
    """
    from peft import LoraConfig

    layers = None
    if hp.top_layers is not None:
        if num_layers is None:
            raise ConfigError("top_layers is set: the base model's number of layers is needed to pick them")
        layers = adapted_layers(hp, num_layers)
    return LoraConfig(
        r=hp.r,
        lora_alpha=hp.alpha,
        lora_dropout=hp.dropout,
        target_modules=list(hp.target_modules),
        layers_to_transform=layers,
        bias="none",
        task_type="CAUSAL_LM",
    )


def frozen_block_cache(
    model: Any, hp: HyperParameters, depth: int | None, world_size: int, precision: str, deepspeed: bool
) -> tuple[Any, str | None]:
    """The cache of the frozen blocks' output for this run (`frozen_cache`), or None and why not."""
    from aion_assets.seal.training.frozen_cache import FrozenCache, why_not_cached

    if hp.frozen_cache_mb == 0:
        return None, "frozen_cache_mb is 0"
    if world_size > 1:
        return None, f"{world_size} processes: the wrapped model's forward runs as is"
    if deepspeed:
        return None, "DeepSpeed runs the model through its engine"
    layers = adapted_layers(hp, depth) if depth is not None else None
    start = layers[0] if layers else None
    reason = why_not_cached(model, start)
    if reason is not None or start is None:
        return None, reason
    return FrozenCache(model, start, hp.frozen_cache_mb * 2**20, precision), None


def train_lora(
    base_model_path: Path,
    train_rows: Sequence[Mapping[str, Any]],
    eval_rows: Sequence[Mapping[str, Any]] | None,
    hp: HyperParameters,
    output_dir: Path,
    *,
    progress_callback: ProgressCallback | None = None,
    progress_begin: ProgressBegin | None = None,
    should_stop: Callable[[], bool] | None = None,
    devices: DeviceInfo | None = None,
    deepspeed_config: Path | dict[str, Any] | None = None,
    logits_only_at_response: bool = True,
    clock: Callable[[], float] | None = None,
) -> TrainResult:
    """Train a LoRA adapter on TRAIN_ROWS and write it as a PEFT folder at OUTPUT_DIR.

    Args:
        base_model_path: a Hugging Face causal-LM checkpoint folder (with its tokenizer).
        train_rows: dicts with ``messages`` (chat form) or ``prompt`` / ``response``.
        eval_rows: held-out rows for a final eval loss, or None.
        hp: hyperparameters (see `seal_config.HyperParameters`).
        output_dir: where the adapter goes; must not exist or be empty. It appears, complete,
            only when training succeeded (written in a sibling temp folder, then renamed).
        progress_callback: called after each step with ``(step, loss, tokens_per_s)``.
        progress_begin: called once as the loop starts with ``(planned steps, time budget in s or None)``
            (e.g. `progress.TrainingLog.begin`, which spaces its log lines by it).
        should_stop: asked after each step; returning True cancels the run.
        devices: the hardware; detected when None.
        deepspeed_config: force DeepSpeed with this config (default: ZeRO-2 with several GPUs).
        logits_only_at_response: compute the lm_head only at response positions (same loss,
            faster); False computes full logits (the reference path).
        clock: the time source of the budget and of the logged tokens/s (default
            ``time.monotonic``; tests pass a deterministic one).

    Returns:
        TrainResult with the loss curve, steps, tokens/s and train time.

    Raises:
        TrainingCancelledError: should_stop() returned True.
        ConfigError: bad rows or target modules.
        ArtifactError: output_dir exists and is not empty.
    """
    from aion_assets.seal.training.base_models import offline_env

    offline_env()
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed
    from transformers.trainer_callback import PrinterCallback
    from transformers.trainer_callback import ProgressCallback as HFProgress

    output_dir = Path(output_dir)
    if output_dir.exists() and any(output_dir.iterdir()):
        raise ArtifactError(f"{output_dir} already exists and is not empty; adapters are never overwritten")
    if should_stop is not None and should_stop():
        raise TrainingCancelledError("training was cancelled before it started")
    devices = devices or detect_devices()
    precision = resolve_precision(hp, devices)

    tokenizer = AutoTokenizer.from_pretrained(str(base_model_path))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    train_encoded = encode_rows(tokenizer, train_rows, hp.max_seq_len)
    lengths = [len(e["input_ids"]) for e in train_encoded]
    max_seq_len = fit_max_seq_len(lengths, hp.max_seq_len) if hp.fit_max_seq_len else hp.max_seq_len
    truncated = sum(1 for n in lengths if n > max_seq_len)  # (rows cut by the configured cap are not counted)
    if truncated:
        train_encoded = encode_rows(tokenizer, train_rows, max_seq_len)
    eval_encoded = encode_rows(tokenizer, eval_rows, hp.max_seq_len) if eval_rows else None
    # Rows whose answers tokenize identically are one fact set (one correction, many paraphrases).
    groups = group_ids([tuple(t for t in e["labels"] if t != IGNORE_INDEX) for e in train_encoded])
    order = TrainOrder(
        [len(e["input_ids"]) for e in train_encoded],
        hp.batch_size,
        hp.seed,
        groups=groups if hp.balance_answers else None,
        by_length=hp.batching == "by_length",
    )

    set_seed(hp.seed)
    model = AutoModelForCausalLM.from_pretrained(str(base_model_path), dtype=torch.float32)
    model.config.use_cache = False
    check_targets(model, hp.target_modules)
    depth = num_hidden_layers(model)
    peft_model = get_peft_model(model, lora_config(hp, depth))

    parent = output_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    work = parent / f".{output_dir.name}.work-{token}"
    staging = parent / f".{output_dir.name}.tmp-{token}"
    try:
        args = build_training_arguments(
            hp, devices, work, n_examples=len(train_encoded), deepspeed_config=deepspeed_config
        )
        budget_s = hp.max_train_minutes * 60 if hp.max_train_minutes is not None else None
        budget = BudgetProgress(steps=int(args.max_steps), budget_s=budget_s)
        frozen_cache, cache_off = frozen_block_cache(
            peft_model, hp, depth, int(args.world_size), precision, deepspeed=bool(args.deepspeed)
        )
        if frozen_cache is not None:
            log.info(
                "blocks 0-%d are frozen: each row's state entering block %d is cached (up to %d MB)",
                frozen_cache.start - 1, frozen_cache.start, hp.frozen_cache_mb,
            )
        lora_trainer_cls, control_cls = make_trainer_classes()
        trainer = lora_trainer_cls(
            model=peft_model,
            args=args,
            train_dataset=ListDataset(train_encoded),
            data_collator=Collator(pad_id),
            logits_only_at_response=logits_only_at_response,
            train_order=order,
            budget=budget,
            digit_weight=hp.fact_token_weight,
            frozen_cache=frozen_cache,
            lora_plus_ratio=hp.lora_plus_ratio,
            decay_share=hp.decay_share,
        )
        # The Trainer's own printers would write a dict per step to stdout; progress goes to
        # the callback and the training logger instead.
        trainer.remove_callback(PrinterCallback)
        trainer.remove_callback(HFProgress)
        control = control_cls(
            budget_s,
            should_stop,
            progress_callback,
            lambda: trainer.tokens_seen,
            progress_begin,
            budget,
            clock or time.monotonic,
        )
        trainer.add_callback(control)

        started = time.monotonic()
        trainer.train()
        train_seconds = time.monotonic() - started
        if control.cancelled:
            raise TrainingCancelledError(f"training was cancelled at step {trainer.state.global_step}")

        steps = int(trainer.state.global_step)
        if control.out_of_time:
            stopped_by = "time_budget"
        elif hp.max_steps is not None and steps >= hp.max_steps:
            stopped_by = "max_steps"
        else:
            stopped_by = "epochs"
        eval_loss = None
        if eval_encoded:
            eval_loss = response_eval_loss(
                trainer.model, eval_encoded, hp, precision, pad_id, args.device, logits_only_at_response
            )
        if trainer.is_world_process_zero():
            unwrapped = trainer.accelerator.unwrap_model(trainer.model)
            unwrapped.save_pretrained(str(staging), safe_serialization=True)
            if output_dir.exists():
                output_dir.rmdir()  # empty (checked above); rename needs the name free
            os.replace(staging, output_dir)
        tokens = trainer.tokens_seen
        return TrainResult(
            adapter_dir=output_dir,
            loss_curve=control.loss_curve,
            steps=steps,
            tokens=tokens,
            tokens_per_s=tokens / max(train_seconds, 1e-9),
            train_seconds=train_seconds,
            stopped_by=stopped_by,
            eval_loss=eval_loss,
            precision=precision,
            n_train_examples=len(train_encoded),
            extra={
                "world_size": int(args.world_size),
                "distributed_type": str(trainer.accelerator.distributed_type.value),
                "zero_stage": zero_stage(trainer),
                # Tokens the model computed on, padding included (tokens counts real ones only).
                "padded_tokens": int(trainer.padded_tokens),
                "max_seq_len": max_seq_len,
                "truncated_rows": truncated,
                "distinct_answers": len(set(groups)),
                "batching": hp.batching,
                "balance_answers": hp.balance_answers,
                "fact_token_weight": hp.fact_token_weight,
                "top_layers": hp.top_layers,
                "lora_plus_ratio": hp.lora_plus_ratio,
                "frozen_cache": frozen_cache.stats()
                if frozen_cache is not None
                else {"active": False, "disabled_because": cache_off},
                "lr_scheduler": hp.lr_scheduler,
                "decay_share": hp.decay_share,
                "final_lr_factor": round(control.last_lr / hp.learning_rate, 4)
                if control.last_lr is not None
                else None,
            },
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: train one adapter (``accelerate launch`` runs this once per GPU)."""
    parser = argparse.ArgumentParser(prog="python -m aion_assets.seal.training.train", description=main.__doc__)
    parser.add_argument("--base-model", type=Path, required=True, help="HF checkpoint folder")
    parser.add_argument("--train", type=Path, required=True, help="training rows (JSONL)")
    parser.add_argument("--eval", type=Path, help="held-out rows (JSONL)")
    parser.add_argument("--output-dir", type=Path, required=True, help="adapter folder to create")
    parser.add_argument("--seal-config", type=Path, default=CONFIG_DIR / "seal.yaml")
    parser.add_argument("--tenant", default="")
    parser.add_argument("--domain", default="")
    parser.add_argument(
        "--hyperparameters", type=Path, help="JSON file of hyperparameters (overrides the YAML)"
    )
    parser.add_argument("--result-json", type=Path, help="write the TrainResult here (rank 0)")
    opts = parser.parse_args(argv)

    if opts.hyperparameters:
        hp = HyperParameters.model_validate(json.loads(opts.hyperparameters.read_text()))
    else:
        hp = load_seal_config(opts.seal_config).hyperparameters_for(opts.tenant, opts.domain)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        result = train_lora(
            opts.base_model,
            _read_jsonl(opts.train),
            _read_jsonl(opts.eval) if opts.eval else None,
            hp,
            opts.output_dir,
        )
        if opts.result_json and int(os.environ.get("RANK", "0")) == 0:
            opts.result_json.write_text(json.dumps(result.as_dict(), indent=2))
    finally:
        _leave_process_group()
    return 0


def _leave_process_group() -> None:
    """Under ``accelerate launch``, wait for every rank (rank 0 saves the adapter while the others
    return at once) and leave the process group before the interpreter exits. A two-process CPU
    launch sometimes aborted one rank after training had finished ("terminate called without an
    active exception", SIGABRT); leaving together is the orderly exit torch asks for. Whether it
    removes that abort is not proven: it was rare and load-dependent."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()  # rank 0 may still be saving the adapter: leave together
        dist.destroy_process_group()


if __name__ == "__main__":
    raise SystemExit(main())

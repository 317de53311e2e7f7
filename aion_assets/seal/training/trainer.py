"""The Trainer that `train_lora` drives: response-only loss, row order, budget-aware learning rate,
time budget, cancellation, progress, eval loss.

Built lazily (`make_trainer_classes`), because importing transformers is slow. All ranks of a
distributed run stop at the same step (`any_rank`), or they would hang in the next collective.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from aion_assets.core.errors import ConfigError
from aion_assets.seal.config import HyperParameters
from aion_assets.seal.training.batching import TrainOrder
from aion_assets.seal.training.schedule import BudgetProgress, lr_factor

if TYPE_CHECKING:
    from aion_assets.seal.training.frozen_cache import FrozenCache

# The name the training log had before this module was split out of train.py: log settings keep working.
log = logging.getLogger("aion_assets.seal.training.train")

ProgressCallback = Callable[[int, float, float], None]
#: Called once when the loop starts with (planned optimizer steps, time budget in seconds or None).
ProgressBegin = Callable[[int, float | None], None]


class ListDataset:
    """A list of encoded rows as a map-style dataset."""

    def __init__(self, rows: list[dict[str, list[int]]]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        # "row" names the row in a batch, for the frozen blocks' cache (`frozen_cache`).
        return {**self.rows[index], "row": index}


def any_rank(flag: bool) -> bool:
    """True if FLAG is true on any process: all ranks must stop at the same step or they hang."""
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return flag
    device = (
        torch.device("cuda", torch.cuda.current_device())
        if torch.cuda.is_available()
        else torch.device("cpu")
    )
    value = torch.tensor([1 if flag else 0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def max_over_ranks(value: float) -> float:
    """The largest VALUE over all processes (the value itself without a distributed run)."""
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return value
    device = (
        torch.device("cuda", torch.cuda.current_device())
        if torch.cuda.is_available()
        else torch.device("cpu")
    )
    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return float(tensor.item())


def make_trainer_classes() -> tuple[type, type]:
    """Build the Trainer subclass and callback lazily: importing transformers is slow."""
    from peft import PeftModel
    from transformers import PreTrainedModel, Trainer, TrainerCallback

    from aion_assets.seal.training.train_loss import loss_from_hidden, response_loss

    class LoraTrainer(Trainer):
        # compute_loss returns the mean over one micro-batch; the Trainer divides by grad_accum.
        loss_is_scaled_for_ga = False

        def __init__(
            self,
            *args: Any,
            logits_only_at_response: bool = True,
            train_order: TrainOrder | None = None,
            budget: BudgetProgress | None = None,
            digit_weight: float = 1.0,
            frozen_cache: FrozenCache | None = None,
            lora_plus_ratio: float = 1.0,
            decay_share: float = 1.0,
            **kwargs: Any,
        ) -> None:
            super().__init__(*args, **kwargs)
            self.decay_share = decay_share
            self.lora_plus_ratio = lora_plus_ratio
            self.frozen_cache = frozen_cache
            self.digit_weight = digit_weight
            self.logits_only_at_response = logits_only_at_response
            self.train_order = train_order
            self.budget = budget
            self.tokens_seen = 0
            self.padded_tokens = 0

        def _get_train_sampler(self, train_dataset: Any = None) -> Any:
            return self.train_order if self.train_order is not None else super()._get_train_sampler(train_dataset)

        def create_optimizer(self, model: Any = None) -> Any:
            """AdamW; with a LoRA+ ratio above 1, the B matrices in their own group at ratio x the learning rate."""
            if self.lora_plus_ratio == 1.0 or self.optimizer is not None:
                return super().create_optimizer(model)
            import torch
            from peft.optimizers import create_loraplus_optimizer

            target: Any = self.model if model is None else model
            self.optimizer = create_loraplus_optimizer(
                target,
                torch.optim.AdamW,
                lr=self.args.learning_rate,
                loraplus_lr_ratio=self.lora_plus_ratio,
                loraplus_weight_decay=self.args.weight_decay,
            )
            return self.optimizer

        def create_scheduler(self, num_training_steps: int, optimizer: Any = None) -> Any:
            """The schedule of `schedule.lr_factor`, decaying over steps or the time budget, whichever binds."""
            if self.budget is None:
                return super().create_scheduler(num_training_steps, optimizer)
            if self.lr_scheduler is None:
                from torch.optim.lr_scheduler import LambdaLR

                budget, kind, warmup = self.budget, self.args.lr_scheduler_type, self.args.warmup_steps
                kind, share = getattr(kind, "value", kind), self.decay_share
                target: Any = optimizer if optimizer is not None else self.optimizer
                self.lr_scheduler = LambdaLR(
                    target,
                    lambda step: lr_factor(
                        kind, step, warmup_steps=int(warmup), progress=budget.progress(step), decay_share=share
                    ),
                )
                self._created_lr_scheduler = True
            return self.lr_scheduler

        def compute_loss(
            self,
            model: Any,
            inputs: dict[str, Any],
            return_outputs: bool = False,
            num_items_in_batch: Any = None,
        ) -> Any:
            keys = ("input_ids", "attention_mask", "labels", "digits")
            batch: dict[str, Any] = {k: inputs[k] for k in keys if k in inputs}
            if model.training:
                self.tokens_seen += int(batch["attention_mask"].sum())
                self.padded_tokens += int(batch["attention_mask"].numel())
            # accelerate applies bf16 autocast by wrapping model.forward; the gathered-logits path
            # calls the body and head directly, so it needs the autocast context here.
            with self.accelerator.autocast():
                cached = self._cached_loss(model, batch, inputs.get("rows"))
                if cached is not None:
                    return (cached, None) if return_outputs else cached
                loss = response_loss(
                    model,
                    batch,
                    logits_only_at_response=self.logits_only_at_response,
                    digit_weight=self.digit_weight,
                )
            return (loss, None) if return_outputs else loss

        def _cached_loss(self, model: Any, batch: dict[str, Any], rows: Any) -> Any:
            """The loss with the frozen blocks read from the cache, or None where the cache does not apply
            (evaluation, no cache, a wrapped model, a first batch that failed verification)."""
            cache = self.frozen_cache
            if cache is None or rows is None or not model.training or not cache.active:
                return None
            if not isinstance(model, (PeftModel, PreTrainedModel)):
                return None  # DDP / DeepSpeed: their forward must run
            if cache.verified is None and not cache.verify(batch["input_ids"], batch["attention_mask"]):
                log.warning("frozen-block cache off: %s", cache.disabled_because)
                return None
            hidden = cache.last_hidden(rows.tolist(), batch["input_ids"], batch["attention_mask"])
            return loss_from_hidden(model, hidden, batch, self.digit_weight)

    class Control(TrainerCallback):
        """Time budget, cancellation and progress, checked after every optimizer step."""

        def __init__(
            self,
            budget_s: float | None,
            should_stop: Callable[[], bool] | None,
            progress: ProgressCallback | None,
            tokens: Callable[[], int],
            begin: ProgressBegin | None = None,
            budget: BudgetProgress | None = None,
            clock: Callable[[], float] = time.monotonic,
        ) -> None:
            self.clock = clock
            self.budget_s = budget_s
            self.budget = budget
            self.should_stop = should_stop
            self.progress = progress
            self.begin = begin
            self.tokens = tokens
            self.started = self.clock()
            self.cancelled = False
            self.out_of_time = False
            self.loss_curve: list[tuple[int, float]] = []
            #: Learning rate of the last step taken (the schedule's end, for the result).
            self.last_lr: float | None = None

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            optimizer = kwargs.get("optimizer")
            if optimizer is not None and optimizer.param_groups:
                self.last_lr = float(optimizer.param_groups[0]["lr"])

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.started = self.clock()
            if self.begin is not None:
                self.begin(int(state.max_steps), self.budget_s)

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            cancel = bool(self.should_stop and self.should_stop())
            share = (self.clock() - self.started) / self.budget_s if self.budget_s else 0.0
            # Agreed over ranks: the next step's learning rate and the stop depend on it.
            share = max_over_ranks(share)
            if self.budget is not None:
                self.budget.measured(int(state.global_step), share)
            late = self.budget_s is not None and share >= 1.0
            cancel = any_rank(cancel)
            self.cancelled |= cancel
            self.out_of_time |= late and not cancel
            if cancel or late:
                control.should_training_stop = True

        def on_log(
            self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kw: Any
        ) -> None:
            if not logs or "loss" not in logs:
                return
            step, loss = int(state.global_step), float(logs["loss"])
            self.loss_curve.append((step, loss))
            elapsed = max(self.clock() - self.started, 1e-9)
            rate = self.tokens() / elapsed
            if self.progress is not None:
                self.progress(step, loss, rate)  # the caller decides which steps reach its log
            else:
                log.info("step %d loss %.4f %.0f tokens/s", step, loss, rate)

    return LoraTrainer, Control


def zero_stage(trainer: Any) -> int | None:
    """The DeepSpeed ZeRO stage TRAINER runs with, or None without DeepSpeed."""
    plugin = getattr(trainer.accelerator.state, "deepspeed_plugin", None)
    return int(plugin.zero_stage) if plugin is not None else None


def check_targets(model: Any, targets: Sequence[str]) -> None:
    """Raise ConfigError naming the LoRA TARGETS that are no module of MODEL (and the linear layers it has)."""
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    missing = [t for t in targets if t not in names]
    if missing:
        raise ConfigError(
            f"target_modules {missing} are not modules of this base model; "
            f"linear layers it has: {sorted(n for n in names if n.endswith('proj'))}"
        )


def num_hidden_layers(model: Any) -> int | None:
    """The transformer blocks of MODEL according to its config (None when the config does not say)."""
    config = getattr(model, "config", None)
    n = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", None)
    return int(n) if isinstance(n, int) else None


def response_eval_loss(
    model: Any,
    encoded: list[dict[str, list[int]]],
    hp: HyperParameters,
    precision: str,
    pad_id: int,
    device: Any,
    logits_only: bool,
) -> float:
    """Mean response-token loss of MODEL on the ENCODED rows (no gradients; bf16 autocast when PRECISION says so)."""
    import torch

    from aion_assets.seal.training.train_data import collate
    from aion_assets.seal.training.train_loss import response_loss

    model.eval()
    total, count = 0.0, 0
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        for i in range(0, len(encoded), hp.batch_size):
            batch = {k: v.to(device) for k, v in collate(encoded[i : i + hp.batch_size], pad_id).items()}
            n = int((batch["labels"][:, 1:] != -100).sum())
            total += float(response_loss(model, batch, logits_only_at_response=logits_only)) * n
            count += n
    return total / max(count, 1)

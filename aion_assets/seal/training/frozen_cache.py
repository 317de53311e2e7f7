"""The frozen blocks below the adapter, computed once per row: a cache of the state they hand up.

With ``top_layers`` the LoRA weights sit on the N blocks nearest the output. The blocks below hold
no trainable weight and no dropout, and each row is its own right-padded sequence under causal
attention, so the hidden state entering the lowest adapted block depends on the row alone: it is
the same at every visit of that row. The first visit computes it (forward only, as before); every
later visit reads it and runs the adapted blocks only. On SmolLM2-135M with ``top_layers: 10`` the
20 frozen blocks are about half of a CPU step's work, and a minute-bounded run visits each row
several times (issue 15).

The loss and the gradients are those of the full forward up to floating-point rounding: the first
batch is checked against the full forward (`FrozenCache.verify`), and a model whose states differ
(an architecture that transforms its input embeddings, a transformers version whose forward
changed) trains without the cache, with the reason in the result. Rows are stored until the
memory cap (``frozen_cache_mb``) is reached; the rows beyond it are computed at every visit.

Only the bare model path uses it (one process: CPU or one GPU); under DDP or DeepSpeed the
wrapper's forward runs as is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn

from aion_assets.seal.training.train_loss import causal_lm

#: Architectures whose decoder feeds ``inputs_embeds`` to the first block unchanged (no scaling),
#: with the blocks in ``model.layers``: running a slice of the blocks on a cached state is their
#: own forward on a shorter stack.
SUPPORTED_MODEL_TYPES = frozenset({"llama", "mistral", "qwen2", "qwen3", "smollm3"})

#: Largest difference allowed between the split and the full forward's last hidden state, relative
#: to its largest magnitude, by training precision (rounding of other batch shapes: fp32 ~1e-6,
#: bf16 autocast ~1e-2; a structural difference, such as a scaled embedding, is of order 1).
VERIFY_TOLERANCE = {"fp32": 1e-4, "bf16": 5e-2}


class _Captured(Exception):
    """Raised by the hook on the lowest adapted block once its input is captured: the rest is not needed."""


def why_not_cached(model: nn.Module, start: int | None) -> str | None:
    """Why MODEL cannot train with a cache below block START (None when it can)."""
    if start is None or start <= 0:
        return "every block is adapted (top_layers unset or at least the model's depth)"
    lm = causal_lm(model)
    model_type = getattr(getattr(lm, "config", None), "model_type", None)
    if model_type not in SUPPORTED_MODEL_TYPES:
        return f"model type {model_type!r} is not one whose blocks can be run from a cached state"
    body = getattr(lm, "base_model", None)
    layers = getattr(body, "layers", None)
    if body is None or body is lm or not isinstance(layers, nn.ModuleList) or len(layers) <= start:
        return "the model has no block list to split"
    for name, param in body.named_parameters():
        index = _block_index(name)
        if param.requires_grad and (index is None or index < start):
            return f"{name} is trainable below the adapted blocks"
    return None


def _block_index(name: str) -> int | None:
    """The block index in a parameter name ``layers.<i>.…`` (None outside the blocks)."""
    parts = name.split(".")
    for i, part in enumerate(parts[:-1]):
        if part == "layers" and parts[i + 1].isdigit():
            return int(parts[i + 1])
    return None


class FrozenCache:
    """Hidden states entering block START, per training row, computed on the first visit.

    Args:
        model: the PeftModel (or causal LM) being trained.
        start: the lowest adapted block (``num_hidden_layers - top_layers``).
        max_bytes: stop storing new rows beyond this much memory (0: store nothing).
        precision: the training precision (``fp32`` or ``bf16``), which sets the verification's tolerance.
    """

    def __init__(self, model: nn.Module, start: int, max_bytes: int, precision: str = "fp32") -> None:
        lm = causal_lm(model)
        self.body = lm.base_model
        self.start = start
        self.max_bytes = max_bytes
        self.tolerance = VERIFY_TOLERANCE.get(precision, VERIFY_TOLERANCE["bf16"])
        self.states: dict[int, torch.Tensor] = {}
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self.verified: bool | None = None
        self.disabled_because: str | None = None

    @property
    def active(self) -> bool:
        return self.disabled_because is None

    def stats(self) -> dict[str, Any]:
        """What the cache did, for the training result and the manifest."""
        return {
            "start_block": self.start,
            "active": self.active,
            "disabled_because": self.disabled_because,
            "rows_cached": len(self.states),
            "mb": round(self.bytes / 2**20, 1),
            "row_visits_from_cache": self.hits,
            "row_visits_computed": self.misses,
        }

    def below(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The hidden state entering block START for a batch, through the frozen blocks (no gradient)."""
        captured: list[torch.Tensor] = []

        def hook(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            captured.append(args[0] if args else kwargs["hidden_states"])
            raise _Captured

        handle = self.body.layers[self.start].register_forward_pre_hook(hook, with_kwargs=True)
        try:
            with torch.no_grad(), contextlib.suppress(_Captured):
                self.body(input_ids=input_ids, attention_mask=attention_mask)
        finally:
            handle.remove()
        if not captured:
            raise RuntimeError(f"block {self.start} was never reached by the forward")
        return captured[0].detach()

    @contextlib.contextmanager
    def _top_blocks(self) -> Iterator[None]:
        """The body with only the blocks from START on, for the duration of the context."""
        layers = self.body.layers
        self.body.layers = nn.ModuleList(list(layers)[self.start :])
        try:
            yield
        finally:
            self.body.layers = layers

    def above(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The body's last hidden state (final norm applied) from HIDDEN entering block START."""
        with self._top_blocks():
            out = self.body(inputs_embeds=hidden, attention_mask=attention_mask)
        return out.last_hidden_state

    def entering(self, rows: Sequence[int], input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The batch's hidden states entering block START: cached rows read, the others computed (and stored
        while the cap allows). Padding positions are zeros: real tokens never attend to them."""
        lengths = attention_mask.sum(dim=1).tolist()
        missing = [i for i, row in enumerate(rows) if row not in self.states]
        fresh: dict[int, torch.Tensor] = {}
        if missing:
            width = max(int(lengths[i]) for i in missing)
            sel = torch.tensor(missing, device=input_ids.device)
            computed = self.below(input_ids[sel, :width], attention_mask[sel, :width])
            for j, i in enumerate(missing):
                state = computed[j, : int(lengths[i])].clone()
                fresh[i] = state
                if self.bytes + state.numel() * state.element_size() <= self.max_bytes:
                    self.states[int(rows[i])] = state
                    self.bytes += state.numel() * state.element_size()
        self.misses += len(missing)
        self.hits += len(rows) - len(missing)
        parts = [fresh[i] if i in fresh else self.states[int(row)] for i, row in enumerate(rows)]
        batch, width = input_ids.shape
        hidden = parts[0].new_zeros((batch, width, parts[0].shape[-1]))
        for i, state in enumerate(parts):
            hidden[i, : state.shape[0]] = state.to(hidden.dtype)
        return hidden

    def last_hidden(self, rows: Sequence[int], input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The body's last hidden state for a training batch, the frozen blocks read from the cache."""
        return self.above(self.entering(rows, input_ids, attention_mask), attention_mask)

    def verify(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> bool:
        """Compare the split forward with the full one on a batch (no gradient); disable the cache when
        they differ. Called once, on the first training batch."""
        training = self.body.training
        self.body.eval()  # LoRA dropout in the adapted blocks would draw other masks in the two passes
        try:
            with torch.no_grad():
                full = self.body(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
                split = self.above(self.below(input_ids, attention_mask), attention_mask)
        finally:
            self.body.train(training)
        real = attention_mask.bool()
        scale = float(full[real].abs().max()) or 1.0
        error = float((full[real] - split[real]).abs().max()) / scale
        tolerance = self.tolerance
        self.verified = error <= tolerance
        if not self.verified:
            self.disabled_because = (
                f"the split forward differs from the full one by {error:.2e} of the largest state "
                f"(tolerance {tolerance:.0e})"
            )
        return self.verified

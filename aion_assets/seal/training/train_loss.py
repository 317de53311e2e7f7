"""Causal-LM loss on the response tokens only, computing logits only where they are needed.

The vocabulary projection (lm_head) of a small model is a large share of its compute: SmolLM2
has a 49k vocabulary over a 576-wide hidden state. Since the prompt is masked, logits at prompt
positions are thrown away; computing the lm_head only at labelled positions raised CPU
training throughput from ~215 to 240-290 tokens/s (issue 7). All three functions return the
same value (the mean cross-entropy over response tokens) up to floating-point rounding.

With a ``digit_weight`` above 1 and a ``digits`` tensor in the batch (`train_data.digit_flags`), the
mean is weighted: a response token holding a digit counts DIGIT_WEIGHT times, the others once. The
numbers of an answer (prices, hours, codes, versions) are few of its tokens and most of its facts.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from aion_assets.seal.training.train_data import IGNORE_INDEX


def causal_lm(model: nn.Module) -> Any:
    """The transformers causal LM inside a PeftModel (or the model itself)."""
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


def supports_gathered_logits(model: nn.Module) -> bool:
    """Whether the model is a plain body + lm_head (no logit scaling/soft-capping after the head)."""
    lm = causal_lm(model)
    cfg = getattr(lm, "config", None)
    if cfg is None or getattr(cfg, "final_logit_softcapping", None) or getattr(cfg, "logit_scale", None):
        return False
    body = getattr(lm, "base_model", None)
    return body is not None and body is not lm and lm.get_output_embeddings() is not None


def _mean(ce: torch.Tensor, digits: torch.Tensor | None, digit_weight: float) -> torch.Tensor:
    """Mean of the per-token losses CE, digit tokens weighted DIGIT_WEIGHT times when DIGITS is given."""
    if digits is None or digit_weight == 1.0:
        return ce.mean()
    weights = 1.0 + (digit_weight - 1.0) * digits.to(ce.dtype)
    return (ce * weights).sum() / weights.sum()


def full_logits_loss(
    model: nn.Module, batch: dict[str, torch.Tensor], digit_weight: float = 1.0
) -> torch.Tensor:
    """Reference: compute logits everywhere, then the mean CE over labelled (response) positions."""
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    logits = out.logits[:, :-1, :]
    labels = batch["labels"][:, 1:]
    mask = labels != IGNORE_INDEX
    ce = F.cross_entropy(logits[mask].float(), labels[mask], reduction="none")
    digits = batch["digits"][:, 1:][mask] if "digits" in batch else None
    return _mean(ce, digits, digit_weight)


def gathered_logits_loss(
    model: nn.Module, batch: dict[str, torch.Tensor], digit_weight: float = 1.0
) -> torch.Tensor:
    """Run the model's body, then the lm_head only at positions whose next token is labelled.

    Calls the body and head modules directly, so use it on an unwrapped model (PeftModel or a
    causal LM); under DDP / DeepSpeed wrappers use `kept_logits_loss`, which goes through the
    wrapper's forward.
    """
    lm = causal_lm(model)
    hidden = lm.base_model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
    ).last_hidden_state
    return loss_from_hidden(model, hidden, batch, digit_weight)


def loss_from_hidden(
    model: nn.Module, hidden: torch.Tensor, batch: dict[str, torch.Tensor], digit_weight: float = 1.0
) -> torch.Tensor:
    """The response loss from the body's last hidden state HIDDEN: the lm_head at labelled positions only
    (`gathered_logits_loss`'s second half; `frozen_cache` computes HIDDEN its own way)."""
    lm = causal_lm(model)
    labels = batch["labels"][:, 1:]
    mask = labels != IGNORE_INDEX
    picked = hidden[:, :-1, :][mask]
    logits = lm.get_output_embeddings()(picked)
    ce = F.cross_entropy(logits.float(), labels[mask], reduction="none")
    digits = batch["digits"][:, 1:][mask] if "digits" in batch else None
    return _mean(ce, digits, digit_weight)


def kept_logits_loss(
    model: nn.Module, batch: dict[str, torch.Tensor], digit_weight: float = 1.0
) -> torch.Tensor:
    """Through the (possibly wrapped) model's forward, with ``logits_to_keep`` = labelled columns.

    Keeps the union over the batch of positions with a label, so it saves less than
    `gathered_logits_loss` but works under any wrapper that forwards keyword arguments.
    """
    labels = batch["labels"][:, 1:]
    mask = labels != IGNORE_INDEX
    columns = mask.any(dim=0).nonzero().flatten()
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], logits_to_keep=columns)
    logits = out.logits  # [batch, len(columns), vocab]
    sub_labels = labels[:, columns]
    sub_mask = sub_labels != IGNORE_INDEX
    ce = F.cross_entropy(logits[sub_mask].float(), sub_labels[sub_mask], reduction="none")
    digits = batch["digits"][:, 1:][:, columns][sub_mask] if "digits" in batch else None
    return _mean(ce, digits, digit_weight)


def response_loss(
    model: nn.Module,
    batch: dict[str, torch.Tensor],
    *,
    logits_only_at_response: bool = True,
    digit_weight: float = 1.0,
) -> torch.Tensor:
    """The mean cross-entropy over response tokens (digit tokens weighted DIGIT_WEIGHT times), by the
    fastest path the model allows."""
    if not logits_only_at_response:
        return full_logits_loss(model, batch, digit_weight)
    from peft import PeftModel
    from transformers import PreTrainedModel

    # Wrappers (DDP, DeepSpeedEngine) must see the forward call; only bare models are bypassed.
    is_bare = isinstance(model, (PeftModel, PreTrainedModel))
    if is_bare and supports_gathered_logits(model):
        return gathered_logits_loss(model, batch, digit_weight)
    return kept_logits_loss(model, batch, digit_weight)

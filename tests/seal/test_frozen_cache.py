"""Protects the frozen blocks' cache (`training/frozen_cache.py`): with LoRA on the top blocks only, a row's
state entering the lowest adapted block is computed once and read at later visits, and the loss, the
gradients and a whole training run are those of the full forward; a model the split does not fit is
caught by the first batch's check and trains without it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from aion_assets.seal.config import HyperParameters
from aion_assets.seal.training.frozen_cache import FrozenCache, why_not_cached
from aion_assets.seal.training.train import train_lora
from aion_assets.seal.training.train_args import DeviceInfo
from aion_assets.seal.training.train_data import collate, encode_rows
from aion_assets.seal.training.train_loss import gathered_logits_loss, loss_from_hidden

CPU = DeviceInfo(n_gpus=0, cpu_bf16=False)


def _top_block_model(tiny_llama: Path) -> Any:
    """The tiny Llama (blocks 0 and 1) with LoRA on block 1 only, its B matrices non-zero."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(str(tiny_llama), dtype=torch.float32),
        LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"], layers_to_transform=[1]),
    )
    for name, param in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.3)
    return model


def _batch(tiny_llama: Path, rows: list[dict[str, Any]], ids: list[int]) -> dict[str, torch.Tensor]:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_llama))
    encoded = encode_rows(tok, [rows[i] for i in ids], 512)
    return collate([{**e, "row": i} for e, i in zip(encoded, ids, strict=True)], tok.pad_token_id)


def _grads(model: Any) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.requires_grad and p.grad is not None])


def test_cached_loss_and_gradients_are_the_full_forwards(
    tiny_llama: Path, sft_rows: list[dict[str, Any]]
) -> None:
    model = _top_block_model(tiny_llama)
    assert why_not_cached(model, 1) is None
    cache = FrozenCache(model, start=1, max_bytes=2**30)
    first = _batch(tiny_llama, sft_rows, [0, 1, 2, 3])
    # Rows 1 and 3 again, beside new ones, in a batch of another width: read from the cache.
    second = _batch(tiny_llama, sft_rows, [5, 3, 1, 6])
    assert cache.verify(first["input_ids"], first["attention_mask"])
    for batch, computed in ((first, 4), (second, 2)):
        model.zero_grad()
        reference = gathered_logits_loss(model, batch)
        reference.backward()
        expected = _grads(model)
        model.zero_grad()
        misses = cache.misses
        hidden = cache.last_hidden(batch["rows"].tolist(), batch["input_ids"], batch["attention_mask"])
        loss = loss_from_hidden(model, hidden, batch)
        loss.backward()
        assert cache.misses - misses == computed
        assert float(loss) == pytest.approx(float(reference), rel=1e-5)
        assert expected.abs().sum() > 0
        assert torch.allclose(_grads(model), expected, atol=1e-6, rtol=1e-4)
    stats = cache.stats()
    assert stats["rows_cached"] == 6 and stats["row_visits_from_cache"] == 2 and stats["active"]
    # Only the adapted block's LoRA weights have gradients; nothing below it was recorded.
    names = [n for n, p in model.named_parameters() if p.grad is not None]
    assert names and all(".layers.1." in n for n in names)


def test_a_full_cache_stores_nothing_more_and_stays_exact(
    tiny_llama: Path, sft_rows: list[dict[str, Any]]
) -> None:
    model = _top_block_model(tiny_llama)
    cache = FrozenCache(model, start=1, max_bytes=0)
    batch = _batch(tiny_llama, sft_rows, [0, 1, 2])
    with torch.no_grad():
        for _ in range(2):
            hidden = cache.last_hidden(batch["rows"].tolist(), batch["input_ids"], batch["attention_mask"])
            assert float(loss_from_hidden(model, hidden, batch)) == pytest.approx(
                float(gathered_logits_loss(model, batch)), rel=1e-5
            )
    assert cache.stats()["rows_cached"] == 0 and cache.misses == 6 and cache.hits == 0


def test_a_model_that_scales_its_input_is_caught_by_the_check(
    tiny_llama: Path, sft_rows: list[dict[str, Any]]
) -> None:
    # Like Gemma: the decoder scales whatever embeddings it is given, so a cached state fed back as
    # inputs_embeds would be scaled twice.
    model = _top_block_model(tiny_llama)
    body = model.get_base_model().model

    def scale(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        ids = kwargs.pop("input_ids", None)
        embeds = kwargs.pop("inputs_embeds", None)
        if embeds is None:
            embeds = module.embed_tokens(ids)
        return args, {**kwargs, "inputs_embeds": embeds * 3.0}

    body.register_forward_pre_hook(scale, with_kwargs=True)
    cache = FrozenCache(model, start=1, max_bytes=2**30)
    batch = _batch(tiny_llama, sft_rows, [0, 1, 2])
    assert not cache.verify(batch["input_ids"], batch["attention_mask"])
    assert not cache.active and "differs from the full one" in str(cache.disabled_because)


def test_what_cannot_be_cached_is_named(tiny_llama: Path) -> None:
    model = _top_block_model(tiny_llama)
    assert "every block is adapted" in str(why_not_cached(model, None))
    assert "every block is adapted" in str(why_not_cached(model, 0))
    assert "no block list" in str(why_not_cached(model, 5))
    base = model.get_base_model()
    base.model.layers[0].mlp.up_proj.weight.requires_grad_(True)
    assert "layers.0.mlp.up_proj.weight is trainable below" in str(why_not_cached(model, 1))
    base.model.layers[0].mlp.up_proj.weight.requires_grad_(False)
    base.config.model_type = "gemma"
    assert "'gemma' is not one whose blocks" in str(why_not_cached(model, 1))


def _hp(**overrides: Any) -> HyperParameters:
    base = {"max_steps": 12, "batch_size": 4, "learning_rate": 2e-2, "precision": "fp32", "top_layers": 1}
    return HyperParameters(**{**base, **overrides})


def test_training_with_the_cache_follows_the_same_losses(
    tiny_llama: Path, sft_rows: list[dict[str, Any]], tmp_path: Path
) -> None:
    cached = train_lora(tiny_llama, sft_rows, None, _hp(), tmp_path / "cached", devices=CPU)
    plain = train_lora(tiny_llama, sft_rows, None, _hp(frozen_cache_mb=0), tmp_path / "plain", devices=CPU)
    stats = cached.extra["frozen_cache"]
    assert stats["active"] and stats["start_block"] == 1, stats
    # 12 steps of 4 over the rows: every row computed once, the later visits read.
    assert stats["rows_cached"] == cached.n_train_examples == stats["row_visits_computed"]
    assert stats["row_visits_from_cache"] == 12 * 4 - cached.n_train_examples > 0
    assert plain.extra["frozen_cache"] == {"active": False, "disabled_because": "frozen_cache_mb is 0"}
    assert [s for s, _ in cached.loss_curve] == [s for s, _ in plain.loss_curve]
    for (_, a), (_, b) in zip(cached.loss_curve, plain.loss_curve, strict=True):
        assert a == pytest.approx(b, rel=1e-4)
    assert cached.loss_curve[-1][1] < cached.loss_curve[0][1] - 0.3
    every = train_lora(tiny_llama, sft_rows, None, _hp(top_layers=None), tmp_path / "every", devices=CPU)
    assert "every block is adapted" in every.extra["frozen_cache"]["disabled_because"]


@pytest.mark.parametrize("overrides", [{"dropout": 0.2}, {"precision": "bf16"}])
def test_lora_dropout_and_bf16_autocast_keep_the_cache(
    tiny_llama: Path, sft_rows: list[dict[str, Any]], tmp_path: Path, overrides: dict[str, Any]
) -> None:
    # Dropout draws masks in the adapted blocks only; bf16 autocast rounds both passes alike. The
    # first batch's check passes with both, so the cache serves the later visits.
    result = train_lora(tiny_llama, sft_rows, None, _hp(**overrides), tmp_path / "run", devices=CPU)
    stats = result.extra["frozen_cache"]
    assert stats["active"] and stats["row_visits_from_cache"] > 0, stats
    assert result.loss_curve[-1][1] < result.loss_curve[0][1]

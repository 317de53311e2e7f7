"""Protects LoRA training on a tiny random Llama: the prompt is masked, the fast loss equals the
reference loss, training learns, the adapter round-trips, the time budget / epochs / max_steps
bound a run, and cancellation leaves nothing that looks like an adapter."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.nn import functional as F

from aion_assets.core.errors import ArtifactError, ConfigError
from aion_assets.seal.config import HyperParameters
from aion_assets.seal.training.train import TrainingCancelledError, train_lora
from aion_assets.seal.training.train_args import DeviceInfo
from aion_assets.seal.training.train_data import (
    IGNORE_INDEX,
    collate,
    encode_row,
    encode_rows,
    prompt_text,
    row_messages,
)
from aion_assets.seal.training.train_loss import (
    full_logits_loss,
    gathered_logits_loss,
    kept_logits_loss,
    response_loss,
)

CPU = DeviceInfo(n_gpus=0, cpu_bf16=False)


def _tokenizer(path: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))


def _hp(**overrides: Any) -> HyperParameters:
    base = {"max_steps": 20, "batch_size": 4, "learning_rate": 2e-2, "precision": "fp32", "dropout": 0.0}
    return HyperParameters(**{**base, **overrides})


def _leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if p.name.startswith(".")]


def test_prompt_tokens_are_masked(tiny_llama: Path, sft_rows: list[dict[str, Any]]) -> None:
    tok = _tokenizer(tiny_llama)
    row = sft_rows[0]
    enc = encode_row(tok, row, max_seq_len=512)
    assert enc is not None
    prompt_ids = tok(prompt_text(tok, row_messages(row)), add_special_tokens=False)["input_ids"]
    n = len(prompt_ids)
    assert enc["input_ids"][:n] == prompt_ids
    assert enc["labels"][:n] == [IGNORE_INDEX] * n
    assert enc["labels"][n:] == enc["input_ids"][n:]
    assert tok.decode(enc["labels"][n:]) == row["response"] + tok.eos_token


def test_prompt_response_form_without_messages(tiny_llama: Path) -> None:
    tok = _tokenizer(tiny_llama)
    enc = encode_row(tok, {"prompt": "When is support open?", "response": "Monday to Friday."}, 512)
    assert enc is not None
    learned = [t for t in enc["labels"] if t != IGNORE_INDEX]
    assert tok.decode(learned) == "Monday to Friday." + tok.eos_token
    with pytest.raises(ConfigError, match="neither"):
        encode_row(tok, {"text": "x"}, 512)


def test_truncation_keeps_the_response(tiny_llama: Path, sft_rows: list[dict[str, Any]]) -> None:
    tok = _tokenizer(tiny_llama)
    full = encode_row(tok, sft_rows[2], 512)
    cut = encode_row(tok, sft_rows[2], 24)
    assert full is not None and cut is not None
    assert len(cut["input_ids"]) == 24
    n_resp_full = sum(t != IGNORE_INDEX for t in full["labels"])
    n_resp_cut = sum(t != IGNORE_INDEX for t in cut["labels"])
    assert n_resp_cut == min(n_resp_full, 24 - 12) or n_resp_cut == n_resp_full
    assert cut["input_ids"][-n_resp_cut:] == full["input_ids"][-n_resp_full:][:n_resp_cut]


def _batch(tiny_llama: Path, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    tok = _tokenizer(tiny_llama)
    return collate(encode_rows(tok, rows, 512), tok.pad_token_id)


def _manual_loss(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    # Token by token: -log p(token | prefix) over response tokens only, averaged.
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    logp = F.log_softmax(logits.double(), dim=-1)
    terms = []
    for b in range(batch["input_ids"].shape[0]):
        for t in range(1, batch["input_ids"].shape[1]):
            label = int(batch["labels"][b, t])
            if label != IGNORE_INDEX:
                terms.append(-logp[b, t - 1, label])
    return torch.stack(terms).mean()


def test_loss_is_the_mean_over_response_tokens_on_every_path(
    tiny_llama: Path, sft_rows: list[dict[str, Any]]
) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_llama), dtype=torch.float32)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "down_proj"]))
    # Non-zero LoRA B so that the adapter takes part in the comparison.
    for name, param in peft_model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.5)
    peft_model.eval()
    batch = _batch(tiny_llama, sft_rows[:5])
    assert (batch["labels"] == IGNORE_INDEX).sum() > (batch["labels"] != IGNORE_INDEX).sum() / 2
    with torch.no_grad():
        manual = float(_manual_loss(peft_model, batch))
        for fn in (full_logits_loss, gathered_logits_loss, kept_logits_loss, response_loss):
            assert float(fn(peft_model, batch)) == pytest.approx(manual, rel=1e-5), fn.__name__
        masked_more = dict(batch, labels=torch.full_like(batch["labels"], IGNORE_INDEX))
        masked_more["labels"][:, -3:] = batch["input_ids"][:, -3:]
        assert float(response_loss(peft_model, masked_more)) != pytest.approx(manual, rel=1e-3)


def test_digit_tokens_weigh_more_on_every_path(tiny_llama: Path, sft_rows: list[dict[str, Any]]) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    tok = _tokenizer(tiny_llama)
    rows = [r for r in sft_rows if any(ch.isdigit() for ch in r["response"])][:4]
    assert rows
    encoded = encode_rows(tok, rows, 512)
    for enc in encoded:
        pieces = tok.convert_ids_to_tokens(enc["input_ids"])
        assert any(enc["digits"])
        for piece, flag, label in zip(pieces, enc["digits"], enc["labels"], strict=True):
            assert flag == (label != IGNORE_INDEX and any(ch.isdigit() for ch in piece)), piece
    batch = collate(encoded, tok.pad_token_id)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(str(tiny_llama), dtype=torch.float32),
        LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj"]),
    ).eval()
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
        labels, digits = batch["labels"][:, 1:], batch["digits"][:, 1:]
        mask = labels != IGNORE_INDEX
        ce = F.cross_entropy(logits[mask].double(), labels[mask], reduction="none")
        weights = 1 + 3.0 * digits[mask].double()
        manual = float((ce * weights).sum() / weights.sum())
        assert manual != pytest.approx(float(ce.mean()), rel=1e-3)
        for fn in (full_logits_loss, gathered_logits_loss, kept_logits_loss):
            assert float(fn(model, batch, 4.0)) == pytest.approx(manual, rel=1e-5), fn.__name__
            assert float(fn(model, batch, 1.0)) == pytest.approx(float(ce.mean()), rel=1e-5), fn.__name__
        assert float(response_loss(model, batch, digit_weight=4.0)) == pytest.approx(manual, rel=1e-5)


def test_gathered_logits_have_gradients_like_full_logits(
    tiny_llama: Path, sft_rows: list[dict[str, Any]]
) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(str(tiny_llama), dtype=torch.float32),
        LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["v_proj", "up_proj"]),
    )
    batch = _batch(tiny_llama, sft_rows[:4])
    grads = []
    for fn in (full_logits_loss, gathered_logits_loss):
        model.zero_grad()
        fn(model, batch).backward()
        grads.append(torch.cat([p.grad.flatten() for n, p in model.named_parameters() if p.requires_grad]))
    assert grads[0].abs().sum() > 0
    assert torch.allclose(grads[0], grads[1], atol=1e-6, rtol=1e-4)


def test_training_learns_and_writes_a_peft_adapter(
    tiny_llama: Path, sft_rows: list[dict[str, Any]], tmp_path: Path
) -> None:
    progress: list[tuple[int, float, float]] = []
    out = tmp_path / "adapters" / "a1"
    result = train_lora(
        tiny_llama,
        sft_rows,
        sft_rows[:4],
        _hp(max_steps=40),
        out,
        progress_callback=lambda *a: progress.append(a),
        devices=CPU,
    )
    assert result.adapter_dir == out
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {p.name for p in out.iterdir()}
    assert json.loads((out / "adapter_config.json").read_text())["r"] == 16
    assert result.steps == 40 and result.stopped_by == "max_steps"
    assert [s for s, _ in result.loss_curve] == list(range(1, 41))
    first, last = result.loss_curve[0][1], sum(v for _, v in result.loss_curve[-5:]) / 5
    assert last < first - 0.5, result.loss_curve
    assert result.eval_loss is not None and result.eval_loss < first
    assert result.tokens > 0 and result.tokens_per_s > 0 and result.train_seconds > 0
    assert [p[0] for p in progress] == list(range(1, 41)) and all(p[2] > 0 for p in progress)
    assert _leftovers(out.parent) == []

    # The saved adapter, loaded unchanged by PEFT, gives exactly the eval loss training reported.
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(str(tiny_llama), dtype=torch.float32)
    reloaded = PeftModel.from_pretrained(base, str(out)).eval()
    batch = _batch(tiny_llama, sft_rows[:4])
    with torch.no_grad():
        assert float(response_loss(reloaded, batch)) == pytest.approx(result.eval_loss, rel=1e-5)
        plain = AutoModelForCausalLM.from_pretrained(str(tiny_llama), dtype=torch.float32).eval()
        assert float(response_loss(plain, batch)) > result.eval_loss + 0.3


def test_bf16_autocast_training_learns(
    tiny_llama: Path, sft_rows: list[dict[str, Any]], tmp_path: Path
) -> None:
    result = train_lora(
        tiny_llama, sft_rows, None, _hp(max_steps=30, precision="bf16"), tmp_path / "a", devices=CPU
    )
    assert result.precision == "bf16"
    assert sum(v for _, v in result.loss_curve[-5:]) / 5 < result.loss_curve[0][1] - 0.3
    # Same seed and data in fp32: a different first loss proves bf16 autocast really ran (the
    # gathered-logits path bypasses model.forward, where accelerate installs autocast).
    fp32 = train_lora(tiny_llama, sft_rows, None, _hp(max_steps=1), tmp_path / "b", devices=CPU)
    assert fp32.precision == "fp32"
    assert abs(fp32.loss_curve[0][1] - result.loss_curve[0][1]) > 1e-5


def test_epochs_bound_the_run(tiny_llama: Path, sft_rows: list[dict[str, Any]], tmp_path: Path) -> None:
    result = train_lora(
        tiny_llama, sft_rows, None, _hp(epochs=2, max_steps=None), tmp_path / "a", devices=CPU
    )
    assert (result.steps, result.stopped_by) == (4, "epochs")  # 8 rows / batch 4 * 2 epochs
    result = train_lora(tiny_llama, sft_rows, None, _hp(epochs=2, max_steps=3), tmp_path / "b", devices=CPU)
    assert (result.steps, result.stopped_by) == (3, "max_steps")


def test_time_budget_stops_the_run(tiny_llama: Path, sft_rows: list[dict[str, Any]], tmp_path: Path) -> None:
    hp = _hp(max_steps=100_000, max_train_minutes=1e-6)
    result = train_lora(tiny_llama, sft_rows, None, hp, tmp_path / "a", devices=CPU)
    assert result.stopped_by == "time_budget"
    assert result.steps == 1  # the budget is checked after every step
    assert (tmp_path / "a" / "adapter_model.safetensors").is_file()


def test_time_budget_ends_annealed(tiny_llama: Path, sft_rows: list[dict[str, Any]], tmp_path: Path) -> None:
    # The step bound is far away: a schedule over max_steps would still be near its peak when
    # the budget stops the run; the budget-aware one has decayed by then.
    # A clock that advances one second per reading (a few readings per step), so the budget
    # binds after the same number of steps on any machine, however loaded.
    ticks = itertools.count()
    hp = _hp(max_steps=100_000, max_train_minutes=0.5, lr_scheduler="cosine", warmup_steps=2)
    result = train_lora(
        tiny_llama, sft_rows, None, hp, tmp_path / "a", devices=CPU, clock=lambda: float(next(ticks))
    )
    assert result.stopped_by == "time_budget"
    assert result.steps >= 8, result.steps
    assert result.extra["final_lr_factor"] < 0.1, (result.steps, result.extra)
    constant = train_lora(
        tiny_llama, sft_rows, None, hp.model_copy(update={"lr_scheduler": "constant"}), tmp_path / "b",
        devices=CPU, clock=lambda: float(next(ticks)),
    )
    assert constant.extra["final_lr_factor"] == 1.0


def test_decay_share_keeps_the_peak_until_the_last_part_of_the_run(
    tiny_llama: Path, sft_rows: list[dict[str, Any]], tmp_path: Path
) -> None:
    # 10 steps bounded by max_steps: step 9 (0-based) is at 90% of the run. Decaying over the whole
    # run it gets 1 - 0.9 = 0.1 of the peak; over the last 30% only, 1 - (0.9 - 0.7) / 0.3 = 1/3.
    hp = _hp(max_steps=10, max_train_minutes=None, lr_scheduler="linear", decay_share=0.3)
    late = train_lora(tiny_llama, sft_rows, None, hp, tmp_path / "a", devices=CPU)
    assert late.steps == 10 and late.extra["decay_share"] == 0.3
    assert late.extra["final_lr_factor"] == pytest.approx(1 / 3, abs=1e-3)
    whole = train_lora(
        tiny_llama, sft_rows, None, hp.model_copy(update={"decay_share": 1.0}), tmp_path / "b", devices=CPU
    )
    assert whole.extra["final_lr_factor"] == pytest.approx(0.1, abs=1e-3)


def test_result_records_tokens_batching_and_fact_sets(
    tiny_llama: Path, sft_rows: list[dict[str, Any]], tmp_path: Path
) -> None:
    # Three paraphrases of one question share an answer: they are one fact set.
    questions = ("Z1 price?", "Cost of Z1?", "How much is Z1?")
    same = [{"prompt": p, "response": "The Z1 costs 120 euros."} for p in questions]
    rows = sft_rows + same
    hp = _hp(max_steps=6, balance_answers=True, lr_scheduler="linear")
    result = train_lora(tiny_llama, rows, None, hp, tmp_path / "a", devices=CPU)
    extra = result.extra
    assert extra["distinct_answers"] == len({r["response"] for r in sft_rows} | {"The Z1 costs 120 euros."})
    assert extra["padded_tokens"] >= result.tokens > 0
    assert extra["max_seq_len"] <= hp.max_seq_len and extra["truncated_rows"] >= 0
    assert extra["batching"] == "by_length" and extra["balance_answers"] is True
    assert 0 < extra["final_lr_factor"] < 0.3  # linear decay over 6 steps: the last runs at 1/6 of the peak


def test_top_layers_adapts_only_the_blocks_nearest_the_output(
    tiny_llama: Path, sft_rows: list[dict[str, Any]], tmp_path: Path
) -> None:
    from safetensors.torch import load_file

    from aion_assets.seal.training.train import adapted_layers, lora_config

    out = tmp_path / "top"
    result = train_lora(tiny_llama, sft_rows, sft_rows[:4], _hp(max_steps=30, top_layers=1), out, devices=CPU)
    names = list(load_file(str(out / "adapter_model.safetensors")))
    assert names and all(".layers.1." in n for n in names), names  # the tiny model has blocks 0 and 1
    assert json.loads((out / "adapter_config.json").read_text())["layers_to_transform"] == [1]
    assert result.extra["top_layers"] == 1
    first, last = result.loss_curve[0][1], sum(v for _, v in result.loss_curve[-5:]) / 5
    assert last < first - 0.3, result.loss_curve

    # N at or above the model's depth adapts every block; the depth is needed to pick them.
    assert adapted_layers(_hp(top_layers=30), 30) is None and adapted_layers(_hp(), 30) is None
    assert adapted_layers(_hp(top_layers=12), 30) == list(range(18, 30))
    with pytest.raises(ConfigError, match="number of layers"):
        lora_config(_hp(top_layers=2))


def test_cancellation_leaves_nothing(
    tiny_llama: Path, sft_rows: list[dict[str, Any]], tmp_path: Path
) -> None:
    calls = []

    def should_stop() -> bool:
        calls.append(1)
        return len(calls) > 3

    out = tmp_path / "adapters" / "cancelled"
    with pytest.raises(TrainingCancelledError, match="step 3"):
        train_lora(tiny_llama, sft_rows, None, _hp(max_steps=50), out, should_stop=should_stop, devices=CPU)
    assert not out.exists()
    assert _leftovers(out.parent) == []
    with pytest.raises(TrainingCancelledError, match="before it started"):
        train_lora(tiny_llama, sft_rows, None, _hp(), out, should_stop=lambda: True, devices=CPU)


def test_refuses_to_overwrite_and_bad_targets(
    tiny_llama: Path, sft_rows: list[dict[str, Any]], tmp_path: Path
) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "adapter_config.json").write_text("{}")
    with pytest.raises(ArtifactError, match="not empty"):
        train_lora(tiny_llama, sft_rows, None, _hp(), taken, devices=CPU)
    with pytest.raises(ConfigError, match="c_attn"):
        train_lora(tiny_llama, sft_rows, None, _hp(target_modules=("c_attn",)), tmp_path / "x", devices=CPU)
    with pytest.raises(ConfigError, match="none of the"):
        train_lora(tiny_llama, [], None, _hp(), tmp_path / "y", devices=CPU)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_lora_plus_moves_the_b_matrices_ratio_times_faster(
    tiny_llama: Path, sft_rows: list[dict[str, Any]], tmp_path: Path
) -> None:
    from safetensors.torch import load_file

    # B starts at zero and A gets no gradient on the first step; Adam's first update is about the
    # learning rate per element, so after one step |B| is the learning rate of B's group.
    sizes = {}
    for ratio in (1.0, 16.0):
        out = tmp_path / f"r{ratio}"
        hp = _hp(max_steps=1, learning_rate=1e-3, lora_plus_ratio=ratio)
        result = train_lora(tiny_llama, sft_rows, None, hp, out, devices=CPU)
        assert result.extra["lora_plus_ratio"] == ratio
        weights = load_file(str(out / "adapter_model.safetensors"))
        b = torch.cat([w.flatten() for n, w in weights.items() if "lora_B" in n])
        sizes[ratio] = float(b.abs().mean())
    assert sizes[1.0] == pytest.approx(1e-3, rel=0.2)
    assert sizes[16.0] / sizes[1.0] == pytest.approx(16.0, rel=0.05)

"""Protects bench/bench_trl.py (issue 15's time-to-quality comparison): its checkpoint schedule and clock,
the table, the goal line and the plot it writes, and - with the tiny test model, in seconds - that the
TRL path really trains with a wall-clock budget, saves an adapter per checkpoint time and that every
checkpoint is evaluated by the product's evaluation code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.bench_trl import (
    Checkpoint,
    CheckpointClock,
    checkpoint_schedule,
    goal_line,
    plot_png,
    table_markdown,
    trl_config_kwargs,
    trl_rows,
)


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.seal.conftest import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.mark.parametrize(
    ("minutes", "seconds"),
    [([1, 2, 4, 8], [60, 120, 240, 480]), ([8, 1, 2, 2], [60, 120, 480]), ([0.25, 0.5], [15, 30])],
)
def test_schedule_is_ascending_distinct_seconds(minutes: list[float], seconds: list[float]) -> None:
    assert checkpoint_schedule(minutes) == seconds


@pytest.mark.parametrize("minutes", [[], [0], [1, -2]])
def test_schedule_refuses_empty_or_non_positive_times(minutes: list[float]) -> None:
    with pytest.raises(ValueError):
        checkpoint_schedule(minutes)


def test_clock_returns_each_time_once_and_groups_times_a_long_step_passed() -> None:
    clock = CheckpointClock([60, 120, 240, 480])
    assert clock.due(59.9) == []
    assert clock.due(60.0) == [60]
    assert clock.due(100) == []
    assert clock.due(250) == [120, 240]  # one slow step passed two checkpoint times
    assert clock.pending() == [480]
    assert clock.due(1000) == [480]
    assert clock.due(2000) == [] and clock.pending() == []


def _ckpts() -> list[Checkpoint]:
    out = []
    for trainer, recalls in (("product", [0.30, 0.45, 0.55, 0.60]), ("trl", [0.05, 0.10, 0.20, 0.40])):
        for t, r in zip([60, 120, 240, 480], recalls, strict=True):
            out.append(Checkpoint(trainer, t, t + 1.5, int(t / 6), f"/x/{trainer}-{t}", metrics={"fact_recall": r,
                                                                                            "rougeL_body": r / 2}))
    out[-1].final = True
    return out


def test_table_has_a_row_per_time_and_both_trainers_side_by_side() -> None:
    text = table_markdown(_ckpts(), {"fact_recall": 0.02, "rougeL_body": 0.1})
    rows = text.splitlines()
    assert rows[2].startswith("| 0 (base model) | 0.020 | 0.100 |")
    assert rows[3] == "| 1 min | 0.300 | 0.150 | step 10, 62 s | 0.050 | 0.025 | step 10, 62 s |"
    assert rows[-1].startswith("| 8 min | 0.600 |") and "(ended early: final adapter)" in rows[-1]
    assert len(rows) == 3 + 4


def test_goal_line_compares_with_trl_at_the_last_time() -> None:
    assert "met: 0.450 after 2 min" in goal_line(_ckpts())  # TRL's 8-min recall is 0.40
    slow = _ckpts()
    for c in slow:
        if c.trainer == "product":
            c.metrics = {"fact_recall": 0.1}
    assert "not met at any checkpoint up to 4 min" in goal_line(slow)


def test_plot_is_a_png(tmp_path: Path) -> None:
    path = plot_png(_ckpts(), 0.02, tmp_path / "img" / "ttq.png", "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 5_000


def test_trl_rows_are_conversational_prompt_completion() -> None:
    rows: list[dict[str, Any]] = [
        {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"},
                      {"role": "assistant", "content": "A"}]},
        {"prompt": "Q2", "response": "A2"},
    ]
    assert trl_rows(rows) == [
        {"prompt": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}],
         "completion": [{"role": "assistant", "content": "A"}]},
        {"prompt": [{"role": "user", "content": "Q2"}], "completion": [{"role": "assistant", "content": "A2"}]},
    ]


def test_trl_keeps_its_defaults_but_lora_lr_loss_and_precision(tmp_path: Path) -> None:
    from trl import SFTConfig

    from aion_assets.seal.config import HyperParameters

    kwargs = trl_config_kwargs(HyperParameters(), tmp_path, native_bf16=False)
    args = SFTConfig(**kwargs)
    defaults = SFTConfig(output_dir=str(tmp_path), bf16=False)  # bare defaults refuse a CPU-only machine
    assert args.completion_only_loss is True and args.bf16 is False and args.learning_rate == 2e-4
    for name in ("per_device_train_batch_size", "num_train_epochs", "lr_scheduler_type", "gradient_checkpointing",
                 "max_length", "warmup_steps", "weight_decay", "packing"):
        assert getattr(args, name) == getattr(defaults, name), name


def test_trl_path_trains_saves_and_evaluates_checkpoints(tiny_llama: Path, tmp_path: Path) -> None:
    """The real TRL trainer on the tiny model for ~6 s: a checkpoint per time, each scored."""
    from aion_assets.seal.config import HyperParameters
    from aion_assets.seal.style import HouseStyle
    from bench.bench_trl import evaluate_checkpoints, train_trl
    from tests.seal.conftest import FACTS, SYSTEM

    rows = [{"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": q},
                          {"role": "assistant", "content": a}]} for q, a in FACTS]
    hp = HyperParameters(r=4, alpha=8, target_modules=("q_proj", "v_proj"), max_seq_len=96, precision="fp32")
    schedule = [2.0, 4.0, 6.0]
    checkpoints, info = train_trl(tiny_llama, rows, hp, schedule, tmp_path, native_bf16=False,
                                  overrides={"num_train_epochs": 10_000, "per_device_train_batch_size": 4})
    assert [c.target_s for c in checkpoints] == schedule
    assert info["stopped_by"] == "time_budget" and info["steps"] >= 3
    assert all(not c.final for c in checkpoints[:-1])
    for c in checkpoints:
        assert (Path(c.path) / "adapter_config.json").is_file() and c.elapsed_s >= c.target_s
    steps = [c.step for c in checkpoints]
    assert steps == sorted(steps) and steps[0] < steps[-1]
    baseline = evaluate_checkpoints(tiny_llama, checkpoints, rows[:3], HouseStyle(), max_new_tokens=8)
    assert baseline.get("rougeL_body") is not None
    for c in checkpoints:
        assert c.metrics.get("rougeL_body") is not None

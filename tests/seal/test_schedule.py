"""Protects the learning-rate schedule (issue 15): warm-up, then a decay that reaches ~0 when the
run ends, whether max_steps or the time budget ends it.

Pure functions here; `test_train.py::test_time_budget_ends_annealed` checks it inside a real run.
"""

from __future__ import annotations

import math

import pytest

from aion_assets.seal.training.schedule import BudgetProgress, lr_factor


@pytest.mark.parametrize(
    ("kind", "step", "progress", "expected"),
    [
        ("constant", 0, 0.0, 1.0),
        ("constant", 5, 0.9, 1.0),
        ("constant_with_warmup", 0, 0.0, 1 / 4),
        ("constant_with_warmup", 3, 0.5, 1.0),
        ("linear", 0, 0.0, 1 / 4),
        ("linear", 10, 0.25, 0.75),
        ("linear", 10, 1.0, 0.0),
        ("cosine", 10, 0.5, 0.5),
        ("cosine", 10, 1.0, 0.0),
        ("cosine", 10, 1.7, 0.0),  # progress is clipped
    ],
)
def test_lr_factor(kind: str, step: int, progress: float, expected: float) -> None:
    assert lr_factor(kind, step, warmup_steps=3, progress=progress) == pytest.approx(expected)


def test_first_warmup_step_already_learns() -> None:
    assert lr_factor("cosine", 0, warmup_steps=5, progress=0.0) > 0


def test_unknown_schedule_is_refused() -> None:
    with pytest.raises(ValueError, match="lr_scheduler"):
        lr_factor("exponential", 0, warmup_steps=0, progress=0.0)


def _progress(steps: int, budget_s: float | None, done: int, share: float) -> BudgetProgress:
    p = BudgetProgress(steps=steps, budget_s=budget_s)
    p.measured(done, share)
    return p


def test_progress_follows_whichever_bound_binds() -> None:
    steps_bound = _progress(100, 600.0, done=49, share=0.1)
    assert steps_bound.progress(50) == pytest.approx(0.5)
    # A slow machine: 19 steps took 76% of the budget, so step 20 (0-based) ends at 4% per step * 21.
    time_bound = _progress(200, 60.0, done=19, share=0.76)
    assert time_bound.progress(20) == pytest.approx(0.84)
    no_budget = _progress(10, None, done=4, share=5.0)
    assert no_budget.progress(5) == pytest.approx(0.5)
    # The step the budget will cut runs at a rate near zero on a cosine schedule.
    last = _progress(200, 60.0, done=23, share=0.96).progress(24)
    assert math.isclose(lr_factor("cosine", 24, warmup_steps=3, progress=last), 0.0, abs_tol=1e-9)


def test_progress_never_goes_back() -> None:
    p = _progress(1000, 60.0, done=1, share=0.2)  # a slow first step (loading, warm-up)
    early = p.progress(1)
    p.measured(10, 0.3)  # later steps are faster: the projection drops, the progress does not
    assert p.progress(10) >= early


@pytest.mark.parametrize(
    ("kind", "progress", "expected"),
    [
        ("linear", 0.0, 1.0),
        ("linear", 0.7, 1.0),  # the stable part: the peak until the last 30% of the run
        ("linear", 0.85, 0.5),
        ("linear", 1.0, 0.0),
        ("cosine", 0.5, 1.0),
        ("cosine", 0.85, 0.5),
        ("cosine", 1.0, 0.0),
    ],
)
def test_decay_over_the_last_share_only(kind: str, progress: float, expected: float) -> None:
    assert lr_factor(kind, 50, warmup_steps=0, progress=progress, decay_share=0.3) == pytest.approx(expected)


def test_decay_share_one_is_the_whole_run_and_warmup_still_comes_first() -> None:
    for p in (0.0, 0.3, 0.9):
        assert lr_factor("linear", 50, warmup_steps=0, progress=p, decay_share=1.0) == pytest.approx(1.0 - p)
    assert lr_factor("linear", 0, warmup_steps=3, progress=0.0, decay_share=0.3) == pytest.approx(1 / 4)
    assert lr_factor("constant", 50, warmup_steps=0, progress=0.99, decay_share=0.3) == 1.0


@pytest.mark.parametrize("share", [0.0, -0.1, 1.5])
def test_decay_share_outside_its_range_is_refused(share: float) -> None:
    with pytest.raises(ValueError, match="decay_share"):
        lr_factor("linear", 0, warmup_steps=0, progress=0.5, decay_share=share)

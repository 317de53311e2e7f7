"""A learning-rate schedule that ends annealed whichever bound ends the run: steps or time.

Transformers' schedules decay over ``max_steps``. When the time budget binds first (a slower
or busier machine), such a run stops in the middle of its decay, at a high learning rate. Here
the decay follows the run's *progress*: the larger of the share of steps done and the share of
the time budget spent. On a fast machine that is the step count; on a slow one the elapsed
time, which amounts to re-estimating the number of steps the budget allows after every step
(from the measured step time) and decaying towards it. Either way the last step runs at a
learning rate near zero.

`lr_factor` is pure (tested without torch); `BudgetProgress` holds the time share that the
training callback agrees on across ranks after each step (so every rank uses the same rate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Schedules that decay; "constant" and "constant_with_warmup" do not.
DECAYING = ("linear", "cosine")


def lr_factor(kind: str, step: int, *, warmup_steps: int, progress: float, decay_share: float = 1.0) -> float:
    """The multiplier of the peak learning rate for optimizer step STEP (0-based).

    Args:
        kind: ``constant``, ``constant_with_warmup``, ``linear`` or ``cosine``.
        step: optimizer steps already taken.
        warmup_steps: linear warm-up: step s < W runs at (s + 1) / (W + 1) of the peak, so the
            first step already learns. ``constant`` ignores it, as transformers does.
        progress: share of the run done, in [0, 1] (see `BudgetProgress.progress`).
        decay_share: ``linear`` and ``cosine`` hold the peak until the last DECAY_SHARE of the run
            and decay over that part only (1.0: over the whole run; 0.3: warmup-stable-decay, the
            peak for the first 70%).

    Raises:
        ValueError: unknown KIND, or DECAY_SHARE outside (0, 1].
    """
    if kind not in ("constant", "constant_with_warmup", *DECAYING):
        raise ValueError(f"unknown lr_scheduler {kind!r}")
    if not 0.0 < decay_share <= 1.0:
        raise ValueError(f"decay_share must be in (0, 1], got {decay_share}")
    if kind == "constant":
        return 1.0
    if step < warmup_steps:
        return (step + 1) / (warmup_steps + 1)
    if kind == "constant_with_warmup":
        return 1.0
    p = (min(max(progress, 0.0), 1.0) - (1.0 - decay_share)) / decay_share
    if p <= 0.0:
        return 1.0
    return 1.0 - p if kind == "linear" else 0.5 * (1.0 + math.cos(math.pi * p))


@dataclass
class BudgetProgress:
    """Progress of a run bounded by STEPS optimizer steps and (optionally) BUDGET_S seconds.

    The training callback calls `measured` after each step with the share of the budget spent
    (the maximum over ranks). The scheduler computes the rate of step S before step S-1's
    callback has run, so the time share is projected from the mean step time so far to the
    end of step S: the last step the budget allows then runs near the end of the decay.
    """

    steps: int
    budget_s: float | None = None
    time_share: float = 0.0
    measured_steps: int = 0
    reached: float = 0.0

    def measured(self, steps_done: int, time_share: float) -> None:
        """Record that STEPS_DONE optimizer steps took TIME_SHARE of the budget."""
        self.measured_steps, self.time_share = steps_done, time_share

    def progress(self, step: int) -> float:
        """Share of the run done by the end of step STEP (0-based): steps or projected time, the larger.

        Never decreases (a faster stretch after slow first steps does not raise the rate again).
        """
        share = step / self.steps if self.steps > 0 else 1.0
        if self.budget_s is not None and self.measured_steps > 0:
            share = max(share, self.time_share * (step + 1) / self.measured_steps)
        self.reached = max(self.reached, min(1.0, share))
        return self.reached

"""The paired percentile bootstrap that compares two models' per-example scores (torch-free: numpy only)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class BootstrapCI:
    """Candidate-minus-baseline difference of a mean, with a percentile bootstrap interval.

    ``relative`` is diff / baseline mean (None when the baseline mean is 0), with its own
    interval from the same resamples (ratio of resampled means minus 1).
    """

    metric: str
    n: int
    candidate_mean: float
    baseline_mean: float
    diff: float
    low: float
    high: float
    relative: float | None = None
    relative_low: float | None = None
    relative_high: float | None = None
    confidence: float = 0.95
    n_resamples: int = 1000
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def excludes_zero(self) -> bool:
        """The interval lies entirely above or entirely below zero."""
        return self.low > 0 or self.high < 0

    def to_dict(self) -> dict[str, Any]:
        """Plain form for reports and metadata."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "extra"} | self.extra


def paired_bootstrap(
    candidate: Sequence[float],
    baseline: Sequence[float],
    metric: str = "",
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> BootstrapCI:
    """Paired percentile bootstrap of mean(candidate) - mean(baseline).

    Examples are resampled with replacement as pairs, so per-example difficulty cancels out.
    Identical inputs give the interval [0, 0]; the same seed gives the same interval.

    Raises:
        ValueError: the two sequences differ in length or are empty.
    """
    c, b = np.asarray(candidate, dtype=float), np.asarray(baseline, dtype=float)
    if c.shape != b.shape or c.ndim != 1:
        raise ValueError(
            f"paired bootstrap needs two equal-length 1-D sequences, got {c.shape} and {b.shape}"
        )
    if c.size == 0:
        raise ValueError(f"paired bootstrap of {metric or 'a metric'} over no examples")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, c.size, size=(n_resamples, c.size))
    c_means, b_means = c[idx].mean(axis=1), b[idx].mean(axis=1)
    diffs = c_means - b_means
    q = [(1 - confidence) / 2 * 100, (1 + confidence) / 2 * 100]
    low, high = (float(v) for v in np.percentile(diffs, q))
    c_mean, b_mean = float(c.mean()), float(b.mean())
    rel = rel_low = rel_high = None
    if b_mean > 0:
        rel = c_mean / b_mean - 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = c_means / b_means - 1.0
        ratios = ratios[np.isfinite(ratios)]
        if ratios.size:
            rel_low, rel_high = (float(v) for v in np.percentile(ratios, q))
    return BootstrapCI(
        metric=metric,
        n=int(c.size),
        candidate_mean=c_mean,
        baseline_mean=b_mean,
        diff=c_mean - b_mean,
        low=low,
        high=high,
        relative=rel,
        relative_low=rel_low,
        relative_high=rel_high,
        confidence=confidence,
        n_resamples=n_resamples,
    )

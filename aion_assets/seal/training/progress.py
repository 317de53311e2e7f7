"""Training and evaluation progress: what the Dagster run logs, what a progress bar shows, the loss-curve plot.

Two audiences, two rates:

* the run's log (``context.log``, kept forever in the event log) gets a line every N steps, N chosen
  so that a run writes about :data:`TARGET_LINES` lines whatever its length (:class:`TrainingLog`);
* a display in the same process (the CLI's progress bar, see :mod:`aion_assets.runs`) gets every
  step as a structured :class:`ProgressEvent`: :func:`report` logs it on the :data:`PROGRESS_LOGGER`
  logger, and the display attaches a handler with :func:`listening`. The logger does not propagate,
  so in a run worker with nobody listening a step costs one disabled-logger call and never reaches
  the root logger's handlers.

The loss curve becomes asset metadata as an inline SVG in markdown (:func:`loss_curve_markdown`):
no plotting dependency, and the Dagster UI renders ``data:`` images in markdown metadata.
"""

from __future__ import annotations

import base64
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape

from aion_assets.seal.training.train_args import UNBOUNDED_STEPS as UNBOUNDED

#: Logger that carries :class:`ProgressEvent` records from the code doing the work to a display.
PROGRESS_LOGGER = "aion.progress"
#: Attribute of a log record holding its :class:`ProgressEvent`.
RECORD_ATTR = "aion_progress"
#: Lines a training run writes to its Dagster log, about (at most twice this, see `TrainingLog`).
TARGET_LINES = 25

_logger = logging.getLogger(PROGRESS_LOGGER)
_logger.propagate = False  # per-step records are for attached displays only


@dataclass(frozen=True)
class ProgressEvent:
    """One update of a long task.

    Attributes:
        task: what is progressing, e.g. ``"training"`` or ``"candidate answers"``; a display keeps
            one bar per task.
        done: units done so far (optimizer steps, answers).
        total: units planned, or None when unknown (a run bounded only by time).
        fields: figures to show beside the bar, e.g. ``{"loss": 1.23, "tokens/s": 250.0}``.
        final: the task ended (possibly before ``total``: time budget, cancellation).
    """

    task: str
    done: int
    total: int | None = None
    fields: Mapping[str, float | str] = field(default_factory=dict)
    final: bool = False


def report(
    task: str,
    done: int,
    total: int | None,
    fields: Mapping[str, float | str] | None = None,
    *,
    final: bool = False,
) -> None:
    """Publish a :class:`ProgressEvent` to whatever display listens (nothing happens without one).

    The event is final when FINAL is set or DONE reached TOTAL.
    """
    if not _logger.isEnabledFor(logging.INFO):
        return
    event = ProgressEvent(task, done, total, dict(fields or {}), final or (total is not None and done >= total))
    _logger.info("%s %d/%s", task, done, total if total is not None else "?", extra={RECORD_ATTR: event})


def event_of(record: logging.LogRecord) -> ProgressEvent | None:
    """The :class:`ProgressEvent` a log record carries, or None."""
    event = getattr(record, RECORD_ATTR, None)
    return event if isinstance(event, ProgressEvent) else None


@contextmanager
def listening(handler: logging.Handler) -> Iterator[logging.Handler]:
    """Send progress events to HANDLER inside the block (e.g. a progress-bar handler)."""
    previous = _logger.level
    _logger.addHandler(handler)
    _logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        _logger.removeHandler(handler)
        if not _logger.handlers:
            _logger.setLevel(previous)


def log_every(total_steps: int, target_lines: int = TARGET_LINES) -> int:
    """Steps between two log lines, so that TOTAL_STEPS steps give about TARGET_LINES lines."""
    return max(1, math.ceil(total_steps / max(1, target_lines)))


class TrainingLog:
    """Where a training run's progress goes: a log line every N steps, an event every step, the logged series.

    Use it as train_lora's ``progress_begin`` (``begin``) and ``progress_callback`` (the instance
    itself), then call :meth:`end`. A line is written at step 1, every :func:`log_every` steps,
    whenever ``budget_s / target_lines`` seconds passed since the last line (runs bounded by time
    rather than steps), and at the end.

    Args:
        write: where lines go, e.g. ``context.log.info``.
        task: the task name of the progress events.
        target_lines: about how many lines a run writes.
        clock: monotonic seconds (a parameter so the interval logic is testable without waiting).
    """

    def __init__(
        self,
        write: Callable[[str], object],
        *,
        task: str = "training",
        target_lines: int = TARGET_LINES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.write = write
        self.task = task
        self.target_lines = target_lines
        self.clock = clock
        self.total: int | None = None
        self.every = 1
        self.every_s: float | None = None
        self.logged: list[tuple[int, float]] = []
        self._last: tuple[int, float, float] | None = None
        self._last_line_at = clock()

    @property
    def last_step(self) -> int:
        """The last step reported (0 before the first)."""
        return self._last[0] if self._last is not None else 0

    def begin(self, total_steps: int, budget_s: float | None) -> None:
        """Training starts: TOTAL_STEPS planned optimizer steps, BUDGET_S seconds at most (or None)."""
        self.total = total_steps if total_steps < UNBOUNDED else None
        self.every = log_every(total_steps, self.target_lines) if self.total is not None else UNBOUNDED
        self.every_s = budget_s / self.target_lines if budget_s else None
        self._last_line_at = self.clock()
        planned = f"{self.total} steps" if self.total is not None else "no step bound"
        budget = f", {budget_s / 60:.1f} min budget" if budget_s else ""
        self.write(f"{self.task}: {planned}{budget}; a line every {self._cadence()}")

    def _cadence(self) -> str:
        parts = [f"{self.every} steps"] if self.every < UNBOUNDED else []
        if self.every_s is not None:
            parts.append(f"{self.every_s:.0f} s")
        return " or ".join(parts) or "step"

    def _line(self, step: int, loss: float, tokens_per_s: float) -> None:
        of = f"/{self.total}" if self.total is not None else ""
        self.write(f"step {step}{of}: loss {loss:.4f}, {tokens_per_s:.0f} tokens/s")
        self.logged.append((step, loss))
        self._last_line_at = self.clock()

    def __call__(self, step: int, loss: float, tokens_per_s: float) -> None:
        """One optimizer step done (train_lora's ``progress_callback``)."""
        self._last = (step, loss, tokens_per_s)
        report(self.task, step, self.total, {"loss": round(loss, 4), "tokens/s": round(tokens_per_s)})
        late = self.every_s is not None and self.clock() - self._last_line_at >= self.every_s
        if step == 1 or step % self.every == 0 or late:
            self._line(step, loss, tokens_per_s)

    def end(self, steps: int, stopped_by: str, tokens_per_s: float | None = None) -> None:
        """Training ended after STEPS steps because of STOPPED_BY (e.g. ``max_steps``, ``time_budget``)."""
        if self._last is not None and (not self.logged or self.logged[-1][0] != self._last[0]):
            self._line(*self._last)
        rate = f", {tokens_per_s:.0f} tokens/s overall" if tokens_per_s is not None else ""
        self.write(f"{self.task} stopped by {stopped_by} after {steps} steps{rate}")
        if self.total is None or self.last_step < self.total:  # the last step's event did not end the task
            report(self.task, steps, self.total, final=True)


def loss_curve_svg(points: Sequence[tuple[int, float]], *, width: int = 480, height: int = 200) -> str:
    """A small SVG line plot of ``(step, loss)`` points, with axis ranges labelled.

    Raises:
        ValueError: no points.
    """
    if not points:
        raise ValueError("no loss points to plot")
    steps = [float(s) for s, _ in points]
    losses = [float(v) for _, v in points]
    left, right, top, bottom = 48, 12, 12, 28
    x0, x1 = min(steps), max(steps)
    y0, y1 = min(losses), max(losses)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    plot_w, plot_h = width - left - right, height - top - bottom

    def xy(s: float, v: float) -> str:
        return f"{left + (s - x0) / (x1 - x0) * plot_w:.1f},{top + (y1 - v) / (y1 - y0) * plot_h:.1f}"

    line = " ".join(xy(s, v) for s, v in zip(steps, losses, strict=True))
    axis = f"M{left},{top} V{top + plot_h} H{left + plot_w}"
    font = 'font-family="sans-serif" font-size="11" fill="#444"'
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">'
        f'<rect width="{width}" height="{height}" fill="white"/>'
        f'<path d="{axis}" stroke="#888" fill="none"/>'
        f'<polyline points="{line}" stroke="#1f77b4" stroke-width="1.5" fill="none"/>'
        f'<text x="{left - 4}" y="{top + 9}" text-anchor="end" {font}>{y1:.3g}</text>'
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" {font}>{y0:.3g}</text>'
        f'<text x="{left}" y="{height - 8}" {font}>step {x0:.0f}</text>'
        f'<text x="{left + plot_w}" y="{height - 8}" text-anchor="end" {font}>{escape(f"step {x1:.0f}")}</text>'
        f'<text x="{left + plot_w / 2}" y="{height - 8}" text-anchor="middle" {font}>training loss</text>'
        "</svg>"
    )


def loss_curve_markdown(points: Sequence[tuple[int, float]]) -> str:
    """Markdown showing the loss curve as an inline SVG image (base64 ``data:`` URI), or a note if empty."""
    if not points:
        return "no training loss was logged"
    svg = base64.b64encode(loss_curve_svg(points).encode()).decode()
    first, last = points[0], points[-1]
    return (
        f"![training loss](data:image/svg+xml;base64,{svg})\n\n"
        f"loss {first[1]:.4f} at step {first[0]} -> {last[1]:.4f} at step {last[0]} ({len(points)} points)"
    )

"""Analysis spread over worker processes: ``Scrubber(workers=N)`` runs ``detect_many`` on N cores.

The analysis (one spaCy parse, stock Presidio and the project's recognizers) is pure CPU work in
Python and spaCy's single-threaded kernels, so one process uses one core. A large batch (a
backfill after a scrubber version change, an export's first analysis, a dataset build after many
approvals) is cut into a few pieces per process: N - 1 spawned workers take pieces from the front,
the calling process analyses the first one and then takes back from the end those that no worker
has started (``AnalysisPool.map``).

Contract:
- the result is exactly ``detect_many``'s in one process: each worker builds its own ``Scrubber``
  with the same model, threshold and batch size, and refuses to serve when its ``version`` (model,
  Presidio, ``SCRUBBER_VERSION`` and a hash of this package's source) differs from the caller's;
- workers are spawned (never forked: the caller may hold torch threads or open database handles)
  when the scrubber is built, so their model load overlaps the caller's, and live until it is
  collected or the interpreter exits;
- where processes cannot be started (a daemonic process, such as a Celery prefork child, may not
  have children), a worker dies, or a worker does not answer in time (``patience``: it is then
  stopped), the analysis runs in the calling process, with one warning in the log naming why;
  nothing is lost and the result is the same;
- small batches (below ``min_batch`` distinct texts) stay in the calling process: shipping them
  costs more than it saves.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from aion_assets.memory.scrub.analysis import Detection

log = logging.getLogger(__name__)


class Engine(Protocol):
    """What the pool needs of ``engine.Scrubber`` (this module does not import the engine: it is
    handed the engine's class, which the spawned worker unpickles by name)."""

    model: str
    score_threshold: float
    batch_size: int

    @property
    def version(self) -> str: ...

    def detect_many(self, texts: Sequence[str]) -> list[list[Detection]]: ...


_WORKER: Engine | None = None  # the worker process's own engine


def _start_worker(factory: Callable[..., Engine], model: str, score_threshold: float, batch_size: int,
                  version: str) -> None:
    global _WORKER
    engine = factory(model, score_threshold, batch_size)
    if engine.version != version:
        raise RuntimeError(f"scrub worker runs scrubber {engine.version}, the caller {version}")
    _WORKER = engine


def _ready() -> bool:
    return _WORKER is not None


def _detect(texts: list[str]) -> list[list[Detection]]:
    assert _WORKER is not None, "initializer did not run"
    return _WORKER.detect_many(texts)


def chunks(texts: Sequence[str], n: int) -> list[list[str]]:
    """TEXTS cut into at most N contiguous chunks of about equal length in characters (none empty)."""
    total = sum(len(t) + 1 for t in texts)
    out: list[list[str]] = [[]]
    size = 0
    for t in texts:
        if size >= total * len(out) / n and len(out) < n:
            out.append([])
        out[-1].append(t)
        size += len(t) + 1
    return [c for c in out if c]


class AnalysisPool:
    """N - 1 spawned workers beside the calling process (module docstring).

    Args:
        scrubber: the calling process's engine (its model, threshold, batch size and version are
            the workers').
        workers: processes in all, the caller included (>= 2).
        min_batch: batches with fewer distinct texts are analysed in the caller alone.
        pieces: pieces per process a shared batch is cut into (``map``).
        patience: (seconds, seconds per text): how long a batch waits for the workers' pieces, from
            when they are handed out (a piece takes milliseconds per text; the floor covers the
            workers' model load). A worker that has not answered by then is taken for hung: it is
            stopped and its pieces are analysed in the caller.
    """

    def __init__(self, scrubber: Engine, workers: int, min_batch: int = 128, pieces: int = 4,
                 patience: tuple[float, float] = (120.0, 1.0)) -> None:
        if workers < 2:
            raise ValueError(f"an analysis pool needs 2 or more processes, got {workers}")
        self.workers = workers
        self.min_batch = min_batch
        self.pieces = max(1, pieces)
        self.patience = patience
        self.parallel_batches = 0  # batches that were shared with the workers
        self.taken_back = 0  # pieces the caller analysed itself because no worker had started them
        self.unavailable: str | None = None  # why the workers are not used, once they cannot be
        self._executor: ProcessPoolExecutor | None = None
        if multiprocessing.current_process().daemon:
            self._off("this is a daemonic process (e.g. a Celery prefork child), which may not start processes")
            return
        try:
            self._executor = ProcessPoolExecutor(
                max_workers=workers - 1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(type(scrubber), scrubber.model, scrubber.score_threshold, scrubber.batch_size,
                          scrubber.version),
            )
            # Start the workers now: their model load overlaps the caller's work.
            self._warmup: list[Future[bool]] = [self._executor.submit(_ready) for _ in range(workers - 1)]
        except (OSError, RuntimeError, ValueError) as exc:
            self._off(f"worker processes could not be started: {exc}")
            return
        weakref.finalize(self, self._executor.shutdown, wait=False, cancel_futures=True)

    def _off(self, why: str) -> None:
        if self.unavailable is None:
            self.unavailable = why
            log.warning("scrubber analysis runs in one process: %s", why)
        if self._executor is not None:
            executor, self._executor = self._executor, None
            # A hung worker never reads shutdown's sentinel: stop the processes themselves.
            processes = list((getattr(executor, "_processes", None) or {}).values())
            executor.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                if process.is_alive():
                    process.kill()

    def map(self, texts: list[str], here: Callable[[list[str]], list[list[Detection]]]) -> list[list[Detection]]:
        """``here(texts)``, shared with the workers when it pays (same result, same order).

        The batch is cut into ``pieces`` pieces per process. The workers take pieces from the front;
        the caller analyses the first piece, then takes back, from the end, each piece no worker has
        started yet. However uneven the pieces' cost (texts with digits cost more) or the processes'
        speed, no process waits idle for more than about one piece.
        """
        if self._executor is None or len(texts) < self.min_batch:
            return here(texts)
        parts = chunks(texts, self.workers * self.pieces)
        floor, per_text = self.patience
        deadline = time.monotonic() + floor + per_text * (len(texts) - len(parts[0]))
        try:
            futures = [self._executor.submit(_detect, part) for part in parts[1:]]
        except RuntimeError as exc:  # BrokenProcessPool is a RuntimeError: a worker died earlier
            self._off(f"a worker stopped: {exc}")
            return here(texts)
        done: list[list[list[Detection]] | None] = [here(parts[0])] + [None] * len(futures)
        for k in range(len(futures), 0, -1):
            if not futures[k - 1].cancel():  # a worker has it (pieces go to the workers in order)
                break
            done[k] = here(parts[k])
            self.taken_back += 1
        by_worker, failed = 0, False
        for k, future in enumerate(futures, start=1):
            if done[k] is not None:
                continue
            try:
                done[k] = future.result(timeout=max(0.0, deadline - time.monotonic()))
                by_worker += 1
            except TimeoutError:  # a worker that hung: its piece is analysed here
                self._off(f"a worker did not answer within {floor:.0f} s + {per_text:g} s per text; it was stopped")
                done[k] = here(parts[k])
                failed = True
            except Exception as exc:  # a worker that died or refused: its piece is analysed here
                self._off(f"a worker failed: {type(exc).__name__}: {exc}")
                done[k] = here(parts[k])
                failed = True
        self.parallel_batches += bool(by_worker) and not failed
        return [d for part in done if part is not None for d in part]

    def stats(self) -> dict[str, Any]:
        """Processes, batches shared, and why the workers are off (None when they are on)."""
        return {"workers": self.workers, "parallel_batches": self.parallel_batches, "taken_back": self.taken_back,
                "unavailable": self.unavailable}

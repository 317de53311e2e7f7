"""Protects: the scrubber's analysis spread over worker processes (``memory.scrub.workers``).

- two processes give exactly the detections of one, and the batch was really shared (a pool that
  silently stayed in one process would fail here);
- a daemonic process (a Celery prefork child) cannot start workers: it analyses alone, says why,
  and gives the same detections;
- a worker that dies loses nothing: its piece is analysed in the caller; one that hangs is stopped
  after the pool's patience, and its pieces are analysed in the caller;
- the caller takes back the pieces a busy worker has not started;
- ``AION_SCRUB_WORKERS`` is validated and reaches ``get_scrubber``.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from aion_assets.core.errors import ConfigError
from aion_assets.core.settings import Settings, get_settings
from aion_assets.memory.scrub.engine import Scrubber, ScrubPolicy, get_scrubber
from aion_assets.memory.scrub.workers import chunks

from .scrub_texts import corpus

# Spawns processes that each load the spaCy model; computes only, so it need not wait for the slow group.
pytestmark = [pytest.mark.slow, pytest.mark.shares_cores]


def _texts() -> list[str]:
    # Generated support texts, about half with PII of every kind, enough for the batch to be shared
    # (min_batch); distinct, so none is analysed by both processes.
    return list(dict.fromkeys(corpus(300, seed=5)))


@pytest.fixture(scope="module")
def one() -> Scrubber:
    return Scrubber()


@pytest.fixture(scope="module")
def two() -> Iterator[Scrubber]:
    scrubber = Scrubber(workers=2)
    yield scrubber
    assert scrubber.pool is not None
    scrubber.pool._off("test over")


def test_two_processes_give_exactly_the_detections_of_one(one: Scrubber, two: Scrubber) -> None:
    texts = _texts()
    assert len(texts) >= 128
    assert two.pool is not None and two.pool.unavailable is None
    before = two.pool.parallel_batches
    assert two.detect_many(texts) == one.detect_many(texts)
    assert two.pool.parallel_batches == before + 1
    policy = ScrubPolicy(allow_list=("Acme",))
    assert two.scrub_many(texts, policy) == one.scrub_many(texts, policy)


def test_the_caller_takes_back_pieces_a_busy_worker_has_not_started(one: Scrubber, two: Scrubber) -> None:
    assert two.pool is not None and two.pool._executor is not None
    texts = _texts()
    pieces = two.pool.workers * two.pool.pieces
    busy = two.pool._executor.submit(time.sleep, 8)  # the one worker is busy while the batch is shared
    before = two.pool.taken_back
    assert two.detect_many(texts) == one.detect_many(texts)
    busy.result()
    # The worker had at most the two pieces queued behind the sleep (the executor's call queue holds
    # workers + 1 items); the caller took back all the others.
    assert two.pool.taken_back - before >= pieces - 3
    shared = two.pool.parallel_batches
    assert two.detect_many(texts) == one.detect_many(texts)  # an idle worker shares the work again
    assert two.pool.parallel_batches == shared + 1


def test_a_small_batch_stays_in_the_caller(two: Scrubber) -> None:
    assert two.pool is not None
    before = two.pool.parallel_batches
    two.detect_many(_texts()[:10])
    assert two.pool.parallel_batches == before


def _in_a_daemon(queue: Any) -> None:
    scrubber = Scrubber(workers=2)
    texts = _texts()
    assert scrubber.pool is not None
    queue.put((scrubber.pool.unavailable, scrubber.detect_many(texts) == Scrubber().detect_many(texts)))


def test_a_daemonic_process_analyses_alone_and_says_why() -> None:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_in_a_daemon, args=(queue,), daemon=True)
    child.start()
    why, same = queue.get(timeout=300)
    child.join(60)
    assert "daemonic" in why and same


def test_a_worker_that_dies_loses_nothing(one: Scrubber) -> None:
    scrubber = Scrubber(workers=2)
    assert scrubber.pool is not None and scrubber.pool._executor is not None
    scrubber.pool._warmup[0].result(timeout=300)
    for process in list(scrubber.pool._executor._processes.values()):  # the worker is killed
        assert process.pid is not None
        os.kill(process.pid, 9)
        process.join(30)
    texts = _texts()
    assert scrubber.detect_many(texts) == one.detect_many(texts)
    assert scrubber.pool.unavailable and "worker" in scrubber.pool.unavailable
    assert scrubber.detect_many(texts[:150]) == one.detect_many(texts[:150])  # later calls: the caller alone


def test_a_worker_that_hangs_is_stopped_and_loses_nothing(one: Scrubber) -> None:
    scrubber = Scrubber(workers=2)
    assert scrubber.pool is not None and scrubber.pool._executor is not None
    scrubber.pool._warmup[0].result(timeout=300)
    processes = list(scrubber.pool._executor._processes.values())
    scrubber.pool._executor.submit(time.sleep, 600)  # the worker hangs: it never answers
    scrubber.pool.patience = (3.0, 0.0)
    texts = _texts()
    t0 = time.monotonic()
    assert scrubber.detect_many(texts) == one.detect_many(texts)
    assert time.monotonic() - t0 < 300  # waited for the patience, not for the sleep
    assert scrubber.pool.unavailable and "did not answer" in scrubber.pool.unavailable
    for process in processes:
        process.join(30)
        assert not process.is_alive()  # the hung worker was stopped, not left behind


def test_chunks_are_contiguous_balanced_and_never_empty() -> None:
    texts = ["a" * 10, "b" * 10, "c" * 40, "d" * 10, "e" * 10]
    parts = chunks(texts, 2)
    assert [t for p in parts for t in p] == texts and len(parts) == 2 and all(parts)
    assert chunks(["x"], 4) == [["x"]]


def test_workers_setting_is_validated_and_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AION_SCRUB_WORKERS", "0")
    with pytest.raises(ValueError, match="scrub_workers"):
        Settings()
    with pytest.raises(ConfigError, match="workers must be 1 or more"):
        Scrubber(workers=0)
    monkeypatch.setenv("AION_SCRUB_WORKERS", "1")
    get_settings.cache_clear()
    get_scrubber.cache_clear()
    try:
        assert get_scrubber().pool is None
    finally:
        get_settings.cache_clear()
        get_scrubber.cache_clear()

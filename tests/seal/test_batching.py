"""Protects the order of training rows (issue 15): every distinct answer gets its share of steps,
batches hold rows of similar length, every row is used, and the order is the same on every rank.

Pure Python: the sampler is checked on its own; `test_train.py` runs it inside the Trainer.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest

from aion_assets.seal.training.batching import (
    WINDOW_BATCHES,
    TrainOrder,
    balanced_stream,
    fit_max_seq_len,
    group_ids,
)


def test_fit_max_seq_len_is_the_quantile_rounded_up_and_capped() -> None:
    lengths = list(range(1, 101))  # 1..100
    assert fit_max_seq_len(lengths, cap=512) == 104  # p99 = 99, rounded up to a multiple of 8
    assert fit_max_seq_len(lengths, cap=64) == 64
    assert fit_max_seq_len(lengths, cap=512, quantile=1.0) == 104
    assert fit_max_seq_len([100] * 99 + [5000], cap=4096) == 104  # one outlier does not set it
    with pytest.raises(ValueError, match="no lengths"):
        fit_max_seq_len([], cap=512)
    with pytest.raises(ValueError, match="quantile"):
        fit_max_seq_len([1], cap=512, quantile=0)


def test_group_ids_number_equal_keys_alike() -> None:
    assert group_ids(["a", "b", "a", "c", "b"]) == [0, 1, 0, 2, 1]


def test_balanced_stream_gives_every_group_the_same_share_and_cycles_paraphrases() -> None:
    # Group 0 has 8 paraphrases, group 1 has 2, group 2 has 1: uniform sampling would give
    # group 0 eight times the steps of group 2.
    groups = [0] * 8 + [1] * 2 + [2]
    stream = balanced_stream(groups, random.Random(0))
    taken = [next(stream) for _ in range(3 * 40)]
    per_group = Counter(groups[i] for i in taken)
    assert per_group == {0: 40, 1: 40, 2: 40}
    # Within group 0 every paraphrase is used before any repeats.
    first_eight = [i for i in taken if groups[i] == 0][:8]
    assert sorted(first_eight) == list(range(8))


def _batches(order: list[int], batch_size: int) -> list[list[int]]:
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def test_by_length_batches_pad_less_than_shuffled_ones() -> None:
    rng = random.Random(3)
    lengths = [rng.randint(20, 400) for _ in range(500)]

    def padded(order: TrainOrder) -> int:
        return sum(max(lengths[i] for i in b) * len(b) for b in _batches(list(order), 8))

    grouped, shuffled = TrainOrder(lengths, 8, seed=1), TrainOrder(lengths, 8, seed=1, by_length=False)
    assert padded(grouped) < 0.75 * padded(shuffled)


def test_each_pass_uses_every_row_and_passes_differ() -> None:
    lengths = [10 + (i % 7) for i in range(53)]  # 53: not a multiple of the batch size
    order = TrainOrder(lengths, 8, seed=5)
    first, second = list(order), list(order)
    assert sorted(first) == list(range(53)) and sorted(second) == list(range(53))
    assert first != second
    order.set_epoch(1)
    assert list(order) == second  # set_epoch and plain iteration agree (the Trainer calls both)


def test_balanced_order_has_no_repeated_answer_inside_a_window() -> None:
    # 30 answers with 4 paraphrases each: a window of 8 batches of 8 (64 rows) spans two rounds
    # of 30 at most, so no answer appears more than 3 times in it, and none twice in a batch of
    # the first round.
    groups = [g for g in range(30) for _ in range(4)]
    lengths = [50 + g for g in groups]
    order = list(TrainOrder(lengths, 8, seed=2, groups=groups))
    window = order[: 8 * WINDOW_BATCHES]
    assert max(Counter(groups[i] for i in window).values()) <= 3
    assert sorted(order) == list(range(120))


def test_same_seed_same_order_on_every_rank() -> None:
    lengths = [random.Random(i).randint(5, 50) for i in range(40)]
    a = TrainOrder(lengths, 4, seed=9, groups=[i % 7 for i in range(40)])
    b = TrainOrder(lengths, 4, seed=9, groups=[i % 7 for i in range(40)])
    assert list(a) == list(b)
    assert list(TrainOrder(lengths, 4, seed=10)) != list(TrainOrder(lengths, 4, seed=9))


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="no training rows"):
        TrainOrder([], 8, seed=0)
    with pytest.raises(ValueError, match="group ids"):
        TrainOrder([1, 2], 8, seed=0, groups=[0])

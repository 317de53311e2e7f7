"""The order in which training rows are visited: balanced over distinct answers, batched by length.

Two levers of issue 15, both pure Python (tested without torch):

- Curated data repeats itself: one corrected answer is approved for many paraphrases of the
  same question. Sampling rows uniformly gives a fact with eight paraphrases four times the
  steps of a fact with two. With ``balance_answers`` the rows that share an answer form a
  group, and the stream visits the groups in rounds - one row of every group per round, the
  group's paraphrases in turn - so every distinct answer gets the same share of steps and
  no paraphrase is dropped.
- Batches pad to their longest row. With ``by_length`` the stream is cut into windows of
  several batches, each window sorted by length and cut into batches whose order is then
  shuffled, so rows of similar length share a batch (no cross-example attention: each row is
  still its own sequence, unlike packing).

`TrainOrder` is the sampler the Trainer iterates; each pass (epoch) yields ``len(lengths)``
indices, continuing the same seeded stream, so a batch of the DataLoader is always one of the
planned batches (windows are whole batches and start at multiples of the batch size).
"""

from __future__ import annotations

import math
import random
from collections.abc import Hashable, Iterator, Sequence

#: Batches per length-sorting window: wide enough to find rows of similar length, narrow enough
#: that a window still mixes rows from across the data.
WINDOW_BATCHES = 8


def fit_max_seq_len(lengths: Sequence[int], cap: int, quantile: float = 0.99, multiple: int = 8) -> int:
    """A sequence-length limit fitted to the data: the QUANTILE of LENGTHS, rounded up, at most CAP.

    Rows longer than it are truncated (by `train_data.encode_row`'s rule), so one outlier cannot
    set the memory and time of its batch. Rounded up to a MULTIPLE of 8 (friendlier shapes).

    Raises:
        ValueError: no lengths, or a quantile outside (0, 1].
    """
    if not lengths:
        raise ValueError("no lengths to fit max_seq_len to")
    if not 0 < quantile <= 1:
        raise ValueError(f"quantile must be in (0, 1], got {quantile}")
    ordered = sorted(lengths)
    at = ordered[min(len(ordered) - 1, math.ceil(quantile * len(ordered)) - 1)]
    return min(cap, multiple * math.ceil(at / multiple))


def group_ids(keys: Sequence[Hashable]) -> list[int]:
    """Consecutive group ids for KEYS: rows with equal keys (the same answer) share an id."""
    ids: dict[Hashable, int] = {}
    return [ids.setdefault(k, len(ids)) for k in keys]


def balanced_stream(groups: Sequence[int], rng: random.Random) -> Iterator[int]:
    """Row indices forever: rounds with one row of every group, each group's rows in turn.

    The order of groups is shuffled every round; a group's rows are reshuffled each time they
    have all been used, so every row of every group is seen before any repeats.
    """
    members: dict[int, list[int]] = {}
    for index, group in enumerate(groups):
        members.setdefault(group, []).append(index)
    queues: dict[int, list[int]] = {g: [] for g in members}
    order = sorted(members)
    while True:
        rng.shuffle(order)
        for g in order:
            if not queues[g]:
                queues[g] = rng.sample(members[g], len(members[g]))
            yield queues[g].pop()


def shuffled_stream(n: int, rng: random.Random) -> Iterator[int]:
    """Row indices forever: a fresh permutation of range(N) after another."""
    while True:
        yield from rng.sample(range(n), n)


def by_length(window: list[int], lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[int]:
    """WINDOW sorted by length (ties at random), cut into batches, the batches in random order."""
    keyed = sorted(window, key=lambda i: (lengths[i], rng.random()))
    batches = [keyed[i : i + batch_size] for i in range(0, len(keyed), batch_size)]
    rng.shuffle(batches)
    return [i for b in batches for i in b]


class TrainOrder:
    """Sampler of training row indices (see the module docstring).

    Args:
        lengths: tokens of each row (input_ids, prompt and response).
        batch_size: rows per batch as the DataLoader cuts them.
        seed: the stream follows from it (identical on every rank of a distributed run).
        groups: a group id per row (rows with the same answer), or None: every row alone.
        by_length: batch rows of similar length together.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        seed: int,
        *,
        groups: Sequence[int] | None = None,
        by_length: bool = True,
    ) -> None:
        if not lengths:
            raise ValueError("no training rows")
        if groups is not None and len(groups) != len(lengths):
            raise ValueError(f"{len(groups)} group ids for {len(lengths)} rows")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.groups = list(groups) if groups is not None else None
        self.by_length = by_length
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.lengths)

    def set_epoch(self, epoch: int) -> None:
        """Start the next iteration at pass EPOCH (the Trainer calls it before every epoch)."""
        self.epoch = epoch

    def indices(self, n_passes: int) -> list[int]:
        """The first N_PASSES passes of the stream, concatenated (deterministic in the seed)."""
        rng = random.Random(self.seed)
        n = len(self.lengths)
        stream = (
            balanced_stream(self.groups, rng) if self.groups is not None else shuffled_stream(n, rng)
        )
        window = self.batch_size * WINDOW_BATCHES
        out: list[int] = []
        for _ in range(n_passes):
            # Windows restart with every pass: the DataLoader cuts each pass into batches from its start.
            one_pass = [next(stream) for _ in range(n)]
            for start in range(0, n, window):
                chunk = one_pass[start : start + window]
                out += by_length(chunk, self.lengths, self.batch_size, rng) if self.by_length else chunk
        return out

    def __iter__(self) -> Iterator[int]:
        epoch = self.epoch
        self.epoch += 1  # without set_epoch, the next iteration still continues the stream
        n = len(self.lengths)
        return iter(self.indices(epoch + 1)[epoch * n :])

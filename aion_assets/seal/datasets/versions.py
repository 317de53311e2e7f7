"""Dataset versions: split files written once, hashed, and named by their content hash.

A dataset's content hash depends only on its rows (their order is fixed by interaction id), and
its version is derived from the hash: identical input gives an identical version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO

from aion_assets.core.artifacts import key_segment
from aion_assets.seal.datasets.rows import SPLITS, Example, Split, dumps_row, split_of

HISTOGRAM_BINS = 10


def dataset_prefix(tenant_id: str, domain: str, version: str) -> str:
    """``datasets/{tenant}/{domain}/{version}`` (tenant percent-quoted like the archives)."""
    return f"datasets/{key_segment(tenant_id)}/{domain}/{version}"


def histogram_bin(reward: float) -> str:
    """The reward-histogram bin label of REWARD (ten bins of 0.1; 1.0 falls in the last)."""
    k = min(int(reward * HISTOGRAM_BINS), HISTOGRAM_BINS - 1)
    return f"{k / HISTOGRAM_BINS:.1f}-{(k + 1) / HISTOGRAM_BINS:.1f}"


@dataclass
class DatasetSummary:
    """What was written: rows per split, reward histogram, hashes and the derived version."""

    rows: dict[str, int] = field(default_factory=lambda: {s: 0 for s in SPLITS})
    reward_histogram: dict[str, int] = field(default_factory=dict)
    split_sha256: dict[str, str] = field(default_factory=dict)
    content_hash: str = ""

    @property
    def total(self) -> int:
        """Rows in all splits."""
        return sum(self.rows.values())

    @property
    def version(self) -> str:
        """The dataset version: the first 16 hex digits of the content hash."""
        return version_of(self.content_hash)


def version_of(content_hash: str) -> str:
    """The version name derived from a dataset's content hash."""
    return content_hash[:16]


def combine_hashes(split_sha256: Mapping[str, str]) -> str:
    """The dataset's content hash from the sha256 of each split file."""
    text = "\n".join(f"{s}:{split_sha256[s]}" for s in SPLITS)
    return hashlib.sha256(text.encode()).hexdigest()


def write_splits(
    examples: Iterable[Example], outputs: Mapping[str, IO[bytes]] | Mapping[Split, IO[bytes]], *, eval_share: float
) -> DatasetSummary:
    """Write EXAMPLES as JSONL to ``outputs["train"]`` / ``outputs["eval"]`` and summarise them.

    The content hash covers exactly the bytes written, so identical examples in the same order
    give the identical hash.
    """
    summary = DatasetSummary()
    hashers = {s: hashlib.sha256() for s in SPLITS}
    hist: dict[str, int] = {}
    for ex in examples:
        split = split_of(ex.interaction_id, eval_share)
        data = dumps_row(ex.to_row(split)).encode()
        outputs[split].write(data)
        hashers[split].update(data)
        summary.rows[split] += 1
        label = histogram_bin(ex.reward_score)
        hist[label] = hist.get(label, 0) + 1
    summary.reward_histogram = dict(sorted(hist.items()))
    summary.split_sha256 = {s: h.hexdigest() for s, h in hashers.items()}
    summary.content_hash = combine_hashes(summary.split_sha256)
    return summary


"""Protects: the held-out PII evaluation set (bench/pii_heldout.py) and how the benchmark scores it.

The set is only worth reporting if its labels are exact and it is the same set on every run:
the same seed gives the same documents, every gold span's offsets point at its value, spans do
not overlap, every entity type and every scene occurs, and the scoring gives 1.0 to a scrubber
that removes exactly the labelled PII and 0.0 to one that removes nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from bench import bench_scrub, pii_heldout

N = 4 * len(pii_heldout.SCENES)


@pytest.fixture(scope="module")
def docs() -> list[pii_heldout.Doc]:
    return pii_heldout.generate(N, seed=2026)


def test_same_seed_same_documents(docs: list[pii_heldout.Doc]) -> None:
    again = pii_heldout.generate(N, seed=2026)
    assert [(d.text, d.locale, d.scene, d.spans) for d in again] == [(d.text, d.locale, d.scene, d.spans) for d in docs]


_DIGEST = (
    "import hashlib; from bench import pii_heldout as h; "
    "print(hashlib.sha256(repr([(d.text, d.spans) for d in h.generate(%d, 2026)]).encode()).hexdigest())"
)


def test_same_seed_same_documents_in_another_process(docs: list[pii_heldout.Doc]) -> None:
    """Python's hash seed differs per process; the full set must not depend on it (Faker's it_IT cities did)."""
    root = Path(__file__).resolve().parents[2]
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(root)}
        out = subprocess.run([sys.executable, "-c", _DIGEST % 960], cwd=root, env=env, capture_output=True,
                             text=True, check=True)
        digests.add(out.stdout.strip())
    assert len(digests) == 1


def test_other_seed_other_documents(docs: list[pii_heldout.Doc]) -> None:
    other = pii_heldout.generate(N, seed=2027)
    assert sum(a.text != b.text for a, b in zip(docs, other, strict=True)) > N // 2


def test_gold_spans_are_the_values_at_their_offsets(docs: list[pii_heldout.Doc]) -> None:
    for d in docs:
        assert d.spans, d.text
        last_end = 0
        for g in sorted(d.spans, key=lambda g: g.start):
            assert d.text[g.start : g.end] == g.value, (d.scene, g)
            assert g.value and g.value == g.value.strip(), (d.scene, g)
            assert g.start >= last_end, f"overlapping spans in {d.scene}: {d.text!r}"
            assert g.kind in pii_heldout.KINDS
            last_end = g.end


def test_every_type_and_scene_occurs(docs: list[pii_heldout.Doc]) -> None:
    kinds = Counter(g.kind for d in docs for g in d.spans)
    assert set(kinds) == set(pii_heldout.KINDS)
    assert set(bench_scrub.TYPES) <= set(kinds)
    assert {d.scene for d in docs} == set(pii_heldout.SCENES)
    assert len({d.locale for d in docs}) >= 10


def test_not_the_tuning_set(docs: list[pii_heldout.Doc]) -> None:
    tuning = {s.text for s in bench_scrub.generate(600, 7)}
    assert not tuning & {d.text for d in docs}
    assert not set(bench_scrub.PRODUCTS) & set(pii_heldout.PRODUCTS)


def test_score_counts_exact_removal_as_recall_and_nothing_as_none(docs: list[pii_heldout.Doc]) -> None:
    exact = [[(g.start, g.end, g.kind) for g in d.spans if g.kind != pii_heldout.SAFE] for d in docs]
    perfect = bench_scrub.score(docs, exact)
    assert all(v == 1.0 for v in perfect["recall"].values())
    assert all(v == 1.0 for v in perfect["typed"].values())
    assert perfect["safe_kept"] == 1.0
    nothing = bench_scrub.score(docs, [[] for _ in docs])
    assert all(v == 0.0 for v in nothing["recall"].values())
    everything = bench_scrub.score(docs, [[(0, len(d.text), "PERSON")] for d in docs])
    assert everything["safe_kept"] == 0.0
    assert everything["recall"]["PERSON"] == 1.0 and everything["typed"]["EMAIL_ADDRESS"] == 0.0


def test_short_texts_for_throughput_are_short_and_repeatable() -> None:
    short = pii_heldout.short_texts(50, seed=5)
    assert len(short) == 50 and all(60 <= len(t) <= 120 for t in short)
    assert short == pii_heldout.short_texts(50, seed=5)

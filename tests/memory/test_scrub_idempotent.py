"""Protects: scrubbing is idempotent (issue 11): scrubbing scrubbed text changes nothing and a re-scan
of the output finds nothing outside placeholders, for independent texts and for groups.

Hypothesis generates support texts with and without PII (tests/memory/scrub_texts.py); the
dataset check's placeholder pattern recognises every placeholder the scrubber writes.
Runs the real Presidio engines with the installed spaCy model.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aion_assets.memory.scrub.engine import Scrubber, ScrubPolicy, get_scrubber
from aion_assets.seal.datasets.checks import _PLACEHOLDER
from tests.memory.scrub_texts import COMPANY, VOCABULARY, corpus, support_text

PROPERTY = settings(max_examples=60, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
POLICIES = [ScrubPolicy(), ScrubPolicy(allow_list=COMPANY, vocabulary=VOCABULARY)]


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    return get_scrubber()


@PROPERTY
@given(text=support_text(), which=st.sampled_from([0, 1]))
def test_scrubbing_scrubbed_text_changes_nothing(scrubber: Scrubber, text: str, which: int) -> None:
    policy = POLICIES[which]
    once = scrubber.scrub(text, policy)
    twice = scrubber.scrub(once.text, policy)
    assert twice.text == once.text
    assert twice.counts == {}
    assert scrubber.analyze(once.text, policy) == []


@PROPERTY
@given(texts=st.lists(support_text(with_pii=True), min_size=1, max_size=3))
def test_group_scrubbing_is_idempotent(scrubber: Scrubber, texts: list[str]) -> None:
    once = scrubber.scrub_group(texts, POLICIES[1])
    again = scrubber.scrub_group([r.text for r in once], POLICIES[1])
    assert [r.text for r in again] == [r.text for r in once]
    assert all(r.counts == {} for r in again)
    for r in once:  # every placeholder is one the dataset check recognises, and counted once
        assert len(_PLACEHOLDER.findall(r.text)) == sum(r.counts.values())


@PROPERTY
@given(text=support_text(with_pii=False))
def test_text_without_pii_is_stable(scrubber: Scrubber, text: str) -> None:
    once = scrubber.scrub(text, POLICIES[1])
    assert scrubber.scrub(once.text, POLICIES[1]).text == once.text


def test_batch_rescan_of_scrubbed_corpus_finds_nothing(scrubber: Scrubber) -> None:
    texts = corpus(200, seed=3)
    out = [r.text for r in scrubber.scrub_many(texts)]
    assert sum(o != t for o, t in zip(out, texts, strict=True)) > 80  # the corpus holds PII
    for text, spans in zip(out, scrubber.analyze_many(out), strict=True):
        assert spans == [], (text, spans)
    assert [r.text for r in scrubber.scrub_many(out)] == out


def test_placeholders_in_input_are_left_alone(scrubber: Scrubber) -> None:
    text = "Hi <PERSON_2>, <PERSON> asked us to ship to <STREET_ADDRESS_1>. Call <PHONE_NUMBER>."
    result = scrubber.scrub(text)
    assert result.text == text and result.counts == {}
    # a deny-listed word never opens a placeholder either
    assert scrubber.scrub(text, ScrubPolicy(deny_list=("person",))).text == text
    # an angle-bracketed word that is no placeholder of a scrubbed type shields nothing
    assert "Laura" not in scrubber.scrub("<LAURA_SCHMIDT> and Laura Schmidt called").text

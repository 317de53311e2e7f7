"""Protects: consistent pseudonyms within one interaction and its edits (issue 11, ``scrub_group``).

- the same person or address becomes the same numbered placeholder in every text of a group,
  whatever its case or spacing; different values get different numbers; a first name alone after
  the full name gets the full name's number;
- numbering starts afresh for each group (nothing carried between calls), results carry only the
  text and counts, and ``scrub_many`` keeps plain ``<TYPE>`` placeholders for independent texts;
- numbered placeholders are recognised by the dataset check's placeholder pattern.

Runs the real Presidio engines with the installed spaCy model.
"""

from __future__ import annotations

import re
from dataclasses import asdict

import pytest

from aion_assets.memory.scrub.engine import Scrubber, ScrubPolicy, get_scrubber
from aion_assets.seal.datasets.checks import _PLACEHOLDER

POLICY = ScrubPolicy(allow_list=("Lumio",))


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    return get_scrubber()


def test_same_person_and_address_share_a_number_across_the_group(scrubber: Scrubber) -> None:
    question = "Hi, I'm Laura Schmidt. Please ship the Lumio thermostat to 22 Baker Street, London NW1 6XE."
    answer = ("Dear laura  schmidt, we shipped it to 22 baker street, London NW1 6XE. "
              "Kevin Brown from our team will call you.")
    edit = "Dear Laura Schmidt, your thermostat is on its way to 22 Baker Street, London NW1 6XE."
    q, a, e = scrubber.scrub_group([question, answer, edit], POLICY)
    assert "<PERSON_1>" in q.text and "<PERSON_1>" in a.text and "<PERSON_1>" in e.text
    assert "<PERSON_2>" in a.text  # another person, another number
    addresses = {m for r in (q, a, e) for m in re.findall(r"<STREET_ADDRESS_\d+>", r.text)}
    assert addresses == {"<STREET_ADDRESS_1>"}, (q.text, a.text, e.text)
    for r in (q, a, e):
        for gone in ("Laura", "laura", "Schmidt", "schmidt", "Baker", "baker", "Kevin", "Brown"):
            assert gone not in r.text, r.text
        placeholders = re.findall(r"<[^<>]*>", r.text)
        assert placeholders and all(_PLACEHOLDER.fullmatch(p) for p in placeholders)
        assert sum(r.counts.values()) == len(placeholders)


def test_first_name_alone_takes_the_full_names_number(scrubber: Scrubber) -> None:
    texts = ["My name is Rose Miller and my heating is off.",
             "Hi Rose, thanks for writing. Rose Miller's account is fine; Mark Evans will call you."]
    first, second = scrubber.scrub_group(texts, POLICY)
    assert "<PERSON_1>" in first.text
    assert second.text.count("<PERSON_1>") == 2, second.text
    assert "<PERSON_2>" in second.text


def test_numbering_restarts_per_group_and_results_hold_no_values(scrubber: Scrubber) -> None:
    a = scrubber.scrub_group(["Call Maria Lopez today."], POLICY)[0]
    b = scrubber.scrub_group(["Mark Evans and Maria Lopez called."], POLICY)[0]
    assert a.text == "Call <PERSON_1> today."
    assert b.text == "<PERSON_1> and <PERSON_2> called."  # Maria is not carried over from the last group
    assert set(asdict(b)) == {"text", "counts"}
    assert "Maria" not in repr(b) and "Lopez" not in repr(vars(scrubber))


def test_scrub_many_keeps_plain_placeholders(scrubber: Scrubber) -> None:
    results = scrubber.scrub_many(["Call Maria Lopez today.", "Maria Lopez called again."], POLICY)
    assert [r.text for r in results] == ["Call <PERSON> today.", "<PERSON> called again."]


def test_empty_and_pii_free_texts_in_a_group(scrubber: Scrubber) -> None:
    results = scrubber.scrub_group(["", "The hub needs firmware 4.2.", "Email jo@example.com"], POLICY)
    assert [r.text for r in results] == ["", "The hub needs firmware 4.2.", "Email <EMAIL_ADDRESS_1>"]
    assert [r.counts for r in results] == [{}, {}, {"EMAIL_ADDRESS": 1}]

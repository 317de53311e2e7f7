"""Protects recall on addresses typed in chat and the support vocabulary around them (scrub_cases_chat).

Street addresses as customers type them in a chat box (lower case, abbreviations such as "pde",
"bd", "av.", "schillerstr", "The Crescent", rural routes, house names without a number, a flat
after the number, "<street> in <town>"): no letter or digit of one may survive. Menu paths, form
labels, partner platforms, speeds, tracking numbers and plan names: none may be taken by the
project's own rules (what stock Presidio takes is scrubbed by construction and is left out).

Runs the real Presidio engines with the installed spaCy model.
"""

from __future__ import annotations

import pytest

from aion_assets.memory.scrub.engine import Scrubber, get_scrubber
from aion_assets.memory.scrub.spans import Span
from tests.memory.scrub_cases_chat import chat_cases
from tests.memory.scrub_cases_extra import misses, safe_kept_outside_stock, score


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    return get_scrubber()


@pytest.fixture(scope="module")
def found(scrubber: Scrubber) -> list[list[Span]]:
    """The spans the scrubber replaces in every case, analysed once for the module."""
    return scrubber.analyze_many([c.text for c in chat_cases()])


@pytest.fixture(scope="module")
def replaced(found: list[list[Span]]) -> list[list[tuple[int, int]]]:
    return [[(s.start, s.end) for s in spans] for spans in found]


def test_chat_addresses_go_whole(replaced: list[list[tuple[int, int]]]) -> None:
    cases = chat_cases()
    for category in ("street_address_chat", "location_chat", "person_chat", "phone_number_chat"):
        hits, total = score(cases, replaced)[category]
        assert total >= 1 and hits == total, (category, misses(cases, replaced, category))


@pytest.mark.parametrize(("category", "floor"), [("street_address_plain", 0.95), ("street_address_lower", 0.8),
                                               ("street_address_sig", 0.95), ("street_address_composed", 0.95)])
def test_faker_addresses_without_a_cue(replaced: list[list[tuple[int, int]]], category: str, floor: float) -> None:
    """Faker's addresses of 23 locales in sentences without an address cue; in lower case the Czech
    and Mexican forms ("purkyňova 6", "calzada chiapas 981 574") have no street word to go by; and
    addresses put together in 15 countries' own formats (composed: flats, floors, separators)."""
    cases = chat_cases()
    hits, total = score(cases, replaced)[category]
    assert total >= 110 and hits / total >= floor, (hits, total, misses(cases, replaced, category)[:8])


def test_support_vocabulary_is_not_taken_by_own_rules(scrubber: Scrubber, found: list[list[Span]]) -> None:
    cases = chat_cases()
    kept, total, lost = safe_kept_outside_stock(cases, found, scrubber.stock_many([c.text for c in cases]))
    assert total >= 50 and kept == total, lost


@pytest.mark.parametrize(
    "text",
    [
        "It takes 2 days to close the ticket.",
        "Use the 5 way splitter for the cables.",
        "We offer 3 easy ways to pay.",
        "The 10 minute walk test is in the app.",
        "Order 2 more rows of panels.",
        "Move from Basic to Premium in Plans.",
        "Keep the hub on during 3 days of testing.",
        "Bring 2 cables and the string 4 meters long.",
        "UPS 1Z 999 AA1 01 2345 6784 is on its way.",
    ],
)
def test_ordinary_sentences_keep_their_words(scrubber: Scrubber, text: str) -> None:
    assert scrubber.analyze_many([text])[0] == [], text

"""Protects the scrubber's recall on real-world address and name formats (tests/memory/scrub_cases_world.py).

Street addresses as people write them in eighteen countries (flat, unit and floor numbers, "c/o",
PO boxes, postcodes before or after the town, abbreviations, lower case, capitals on shipping
labels, web-form fields, multi-line e-mail signatures), Faker's own address format of 23
locales in five contexts, and names in greetings, sign-offs, signatures, call notes and forms,
with titles and degrees, hyphenated, lower case and non-English. No letter or digit of a labelled
value may survive. Support vocabulary around them must stay: the same texts with their
capitalised menu and product words must not gain detections from these rules (compared with
what stock Presidio itself takes, which is scrubbed by construction).

Runs the real Presidio engines with the installed spaCy model.
"""

from __future__ import annotations

import pytest

from aion_assets.memory.scrub.engine import Scrubber, get_scrubber
from tests.memory.scrub_cases_extra import misses, safe_kept_outside_stock, score
from tests.memory.scrub_cases_world import world_cases

FLOORS = {
    "street_address_hand": 0.95,
    "street_address_block": 0.95,
    "street_address_faker": 0.95,
    "street_address_form": 0.95,
    "person_hand": 0.9,
    "person_names": 0.95,
    "person_block": 0.95,
    "person_form": 0.95,
    "location_form": 0.95,
}


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    return get_scrubber()


@pytest.fixture(scope="module")
def replaced(scrubber: Scrubber) -> list[list[tuple[int, int]]]:
    texts = [c.text for c in world_cases()]
    return [[(s.start, s.end) for s in spans] for spans in scrubber.analyze_many(texts)]


@pytest.mark.parametrize("category", list(FLOORS))
def test_recall_per_group(category: str, replaced: list[list[tuple[int, int]]]) -> None:
    hits, total = score(world_cases(), replaced)[category]
    assert total >= 3, (category, total)
    assert hits / total >= FLOORS[category], (hits, total, misses(world_cases(), replaced, category)[:5])


def test_safe_text_outside_stock_stays(scrubber: Scrubber) -> None:
    cases = world_cases()
    texts = [c.text for c in cases]
    ours = scrubber.analyze_many(texts)
    stock = scrubber.stock_many(texts)
    kept, total, lost = safe_kept_outside_stock(cases, ours, stock)
    assert total >= 20
    assert kept / total >= 0.9, lost


@pytest.mark.parametrize(
    "text",
    [
        "The 2024 Model adds a 2000 Series sensor.",
        "Firmware 1060 Beta is out.",
        "Step 4, Sector 2 of the map shows coverage.",
        "we moved to version 3, which fixes the bug",
        "Our 24 Hour Support Line is open on weekends.",
        "Sensor ID 4821 Kitchen reported low battery.",
        "The new Premium Plus 2025 plan starts today.",
        "Office move: from Zeki-Weller-Straße 8700 to Fechnergasse 6-6.",
    ],
)
def test_numbers_beside_words_are_no_address(scrubber: Scrubber, text: str) -> None:
    spans = [s for s in scrubber.analyze_many([text])[0] if s.entity_type == "STREET_ADDRESS"]
    if "Straße" in text:  # two addresses, not one running over "to"
        assert len(spans) == 2 and all(" to " not in text[s.start : s.end] for s in spans), spans
    else:
        assert not spans, [text[s.start : s.end] for s in spans]

"""Protects recall on typed street addresses and names in capitals (tests/memory/scrub_cases_addresses.py).

Lower-case streets in chat ("22 baker street", "my address is 5 rue des lilas"), addresses of
twenty-two countries as typed in chats and forms (flat numbers, postcodes before or after the
town, no commas, abbreviations, multi-line), Faker's streets of each locale in lower case and its
full addresses without commas or in capitals on a label, and names in capitals ("JOHN SMITH",
"SMITH, John", "Mr JOHN O'NEILL"). No letter or digit of a labelled value may survive. Safe
look-alikes ("3 smart plugs", "2 Access Points", "Settings > Lock", "Floor 2 Hallway Light")
must not gain detections from the project's rules (what stock Presidio itself takes is scrubbed by
construction and not counted here).

Runs the real Presidio engines with the installed spaCy model.
"""

from __future__ import annotations

import pytest

from aion_assets.memory.scrub.engine import Scrubber, get_scrubber
from tests.memory.scrub_cases_addresses import address_cases
from tests.memory.scrub_cases_extra import misses, safe_kept_outside_stock, score

FLOORS = {
    "street_address_lower": 0.93,
    "street_address_intl": 0.95,
    "street_address_faker_lower": 0.9,
    "street_address_faker_typed": 0.9,
    "person_caps": 0.95,
    "person_faker_typed": 0.95,
}


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    return get_scrubber()


@pytest.fixture(scope="module")
def replaced(scrubber: Scrubber) -> list[list[tuple[int, int]]]:
    texts = [c.text for c in address_cases()]
    return [[(s.start, s.end) for s in spans] for spans in scrubber.analyze_many(texts)]


@pytest.mark.parametrize("category", list(FLOORS))
def test_recall_per_group(category: str, replaced: list[list[tuple[int, int]]]) -> None:
    hits, total = score(address_cases(), replaced)[category]
    assert total >= 20, (category, total)
    assert hits / total >= FLOORS[category], (hits, total, misses(address_cases(), replaced, category)[:5])


def test_look_alikes_outside_stock_stay(scrubber: Scrubber) -> None:
    cases = address_cases()
    texts = [c.text for c in cases]
    ours = scrubber.analyze_many(texts)
    stock = scrubber.stock_many(texts)
    kept, total, lost = safe_kept_outside_stock(cases, ours, stock)
    assert total >= 30
    assert kept / total >= 0.97, lost


@pytest.mark.parametrize(
    "text",
    [
        "I have 2 Access Points and 3 Smart Lights upstairs.",
        "Install 4 Door Locks before the 2 Garden Lights.",
        "The Floor 2 Hallway Light keeps blinking.",
        "The Gate 2 camera shows a black screen.",
        "Send it via email 2 times if it bounces.",
        "Go to Settings > Lock > Auto Lock.",
        "We shipped 12 Smart Plugs to the store.",
    ],
)
def test_counted_goods_and_menus_are_no_address_or_name(scrubber: Scrubber, text: str) -> None:
    stock = {(s.start, s.end) for s in scrubber.stock_many([text])[0]}
    spans = [s for s in scrubber.analyze_many([text])[0] if (s.start, s.end) not in stock]
    assert not spans, [(s.entity_type, text[s.start : s.end]) for s in spans]

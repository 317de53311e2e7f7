"""Protects the scrubber's recall and precision on the extra tuning cases (tests/memory/scrub_cases_extra.py).

Issue 11's categories, each with a floor the scrubber must keep:

- names in greetings, sign-offs and e-mail signatures, first names alone before what people do,
  upper-case names in form fields ("Name: JOHN SMITH"), initials ("J. Smith");
- street addresses in eleven countries' formats with flat numbers, postcodes and towns (no letter
  or digit of the whole address may survive), and lower-case streets typed in chat;
- towns and countries after a place cue;
- safe text: order, invoice, case and ticket numbers, ISO dates and times, versions, error codes,
  speeds and units, menu paths and field labels stay; what stock Presidio itself takes of them is
  scrubbed by construction (the floor), so the safe share is judged on the rest, and product
  names survive once the tenant lists them;
- codes that the small spaCy model labels PERSON or LOCATION ("order ORD-71897", "v10.16.2") stay.

Runs the real Presidio engines with the installed spaCy model.
"""

from __future__ import annotations

import pytest

from aion_assets.memory.scrub.engine import Scrubber, ScrubPolicy, get_scrubber
from tests.memory.scrub_cases_extra import ADDRESS_LOCALES, PRODUCTS, Case, cases, misses, score

PII_FLOORS = {
    ("greeting", "greeting_first"): 0.95,
    ("signoff", "signoff_first", "signature"): 0.95,
    ("first_alone",): 0.95,
    ("upper_form",): 0.95,
    ("initials",): 0.95,
    tuple(f"intl_{loc}" for loc in ADDRESS_LOCALES): 0.95,
    ("lower_street",): 0.9,
    ("city", "country"): 0.95,
    ("signature_phone", "form_phone"): 0.98,
}


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    return get_scrubber()


@pytest.fixture(scope="module")
def replaced(scrubber: Scrubber) -> list[list[tuple[int, int]]]:
    texts = [c.text for c in cases()]
    return [[(s.start, s.end) for s in spans] for spans in scrubber.analyze_many(texts)]


@pytest.mark.parametrize("categories", list(PII_FLOORS), ids=lambda cs: cs[0])
def test_recall_per_category(categories: tuple[str, ...], replaced: list[list[tuple[int, int]]]) -> None:
    tally = score(cases(), replaced)
    hits = sum(tally[c][0] for c in categories if c in tally)
    total = sum(tally[c][1] for c in categories if c in tally)
    assert total >= 12, (categories, total)  # the category is exercised
    left = [t for c in categories for t in misses(cases(), replaced, c)]
    assert hits / total >= PII_FLOORS[categories], (hits, total, left[:5])


def test_every_address_format_goes_whole(replaced: list[list[tuple[int, int]]]) -> None:
    tally = score(cases(), replaced)
    per_country = {loc: tally[f"intl_{loc}"] for loc in ADDRESS_LOCALES}
    weak = {loc: t for loc, t in per_country.items() if t[0] < t[1] - 1}  # at most one miss per country
    assert not weak, weak


def _safe_outside_stock(scrubber: Scrubber, policy: ScrubPolicy) -> tuple[dict[str, list[int]], list[str]]:
    """Per safe category [kept, total], counting only spans stock Presidio leaves alone."""
    cs: tuple[Case, ...] = cases()
    texts = [c.text for c in cs]
    ours = scrubber.analyze_many(texts, policy)
    stock = scrubber.stock_many(texts)
    out: dict[str, list[int]] = {}
    lost: list[str] = []
    for case, mine, theirs in zip(cs, ours, stock, strict=True):
        for lab in case.labels:
            if lab.kind != "SAFE" or any(s.start < lab.end and lab.start < s.end for s in theirs):
                continue
            tally = out.setdefault(lab.category, [0, 0])
            hit = any(s.start < lab.end and lab.start < s.end for s in mine)
            tally[0] += not hit
            tally[1] += 1
            if hit:
                lost.append(case.text[lab.start : lab.end])
    return out, lost


def test_safe_text_stays(scrubber: Scrubber) -> None:
    tally, lost = _safe_outside_stock(scrubber, ScrubPolicy(allow_list=PRODUCTS))
    kept = sum(v[0] for v in tally.values())
    total = sum(v[1] for v in tally.values())
    assert total > 400
    assert kept / total >= 0.99, lost[:10]
    for category in ("order", "case", "date", "version", "error", "menu", "label", "ticket", "year"):
        assert tally[category][0] / tally[category][1] >= 0.97, (category, tally[category], lost[:10])


@pytest.mark.parametrize(
    ("text", "gone", "kept"),
    [
        ("Thank you for contacting Laura Schmidt, she will call you back.", ["Laura", "Schmidt"], []),
        ("Rose will call you back tomorrow.", ["Rose"], []),
        ("please send it to 22 baker street", ["22", "baker"], []),
        ("Name: JOHN SMITH\nMobile: +44 7700 900123", ["JOHN", "SMITH", "7700"], ["Name:"]),
        ("Approved by J. Smith on 2026-03-14, see INV/2026/39803.", ["J.", "Smith"], ["2026-03-14", "INV/2026/39803"]),
        ("Ship to Flat 4, 12 Baker Street, London NW1 6XE please.", ["Flat 4", "Baker", "London", "NW1"], []),
        ("Please call me about order ORD-71897.", [], ["ORD-71897"]),
        ("Upgrade to v10.16.2 if you see E-955 again.", [], ["v10.16.2", "E-955"]),
        ("Refer to case 77742558 and #8663770; go to Settings > Wi-Fi.", [],
         ["77742558", "#8663770", "Settings > Wi-Fi"]),
    ],
)
def test_issue_examples(scrubber: Scrubber, text: str, gone: list[str], kept: list[str]) -> None:
    out = scrubber.scrub(text).text
    for value in gone:
        assert value not in out, out
    for value in kept:
        assert value in out, out

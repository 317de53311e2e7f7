"""Protects the scrubber's precision on ordinary support text (aion_assets/memory/scrub/).

What the SEAL loop learns from must survive scrubbing: the facts and the house style of the demo
support domains (aion_assets/demo/, ``acme/support`` and ``globex/billing``).

- what stock Presidio takes in ordinary text is scrubbed unless the tenant's vocabulary keeps it
  (issue 11: never worse than stock); the project's own recognizers add (almost) nothing on the
  two demo domains, and every greeting and sign-off is left as written once the company's own
  names are allow-listed;
- with only the company names allow-listed, the project's own recognizers take no button label,
  heading, plan word, lower-case phrase, quantity with unit or company in a greeting or sign-off;
- allow-listed single words and multi-word terms survive whatever their case or line breaks;
- recall guards: the same sentences with real names, places and addresses in them are still
  scrubbed, so precision was not bought by missing PII.

Runs the real Presidio engines with the installed spaCy model (loaded once for the module).
"""

from __future__ import annotations

import re

import pytest

from aion_assets.demo import DemoDomain, generate_domain
from aion_assets.memory.scrub.engine import Scrubber, ScrubPolicy, Span, get_scrubber
from aion_assets.memory.scrub.words import common_english

# The companies' own names (the frames sign as "Acme Support", "Globex Billing Services").
COMPANIES = {"acme/support": ("Acme", "Acme Support"),
             "globex/billing": ("Globex", "Globex Billing", "Globex Billing Services")}
# Generic words of the demo domains that are no one's name and no place.
GENERIC = ("Mode", "Boost", "Reset", "Home", "Power", "Menu", "Settings", "Roaming", "Billing")
LOWER_PHRASES = ("bin sensor", "door switch", "door firmly", "general fault", "line open", "due date", "bill due")


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    return get_scrubber()


@pytest.fixture(scope="module")
def domains() -> dict[str, DemoDomain]:
    return {name: generate_domain(name) for name in COMPANIES}


def _texts(d: DemoDomain) -> list[str]:
    # The questions that quote a customer's details (demo/traffic.py) hold PII on purpose: not ordinary text.
    return [e["edited_output"] for e in d.self_edits()] + [e.interaction["input_text"] for e in d.examples if not e.pii]


def _catalogue(texts: list[str]) -> tuple[str, ...]:
    """Product, plan and travel-pass names, read off the generated text by their shape."""
    names: set[str] = set()
    for t in texts:
        names.update(re.findall(r"\bAcme ([A-Z][a-z]+) (?!app\b)[a-z]", t))  # the Acme Brira smart thermostat
        names.update(re.findall(r"\b([A-Z][a-z]+) \d{2,3}\b", t))  # Zenith 40
        names.update(re.findall(r"\b([A-Z][a-z]+ (?:Day|World|Go))\b", t))  # Fenmar Go travel pass
    return tuple(sorted(names))


def _spans(scrubber: Scrubber, texts: list[str], policy: ScrubPolicy) -> list[tuple[str, Span]]:
    return [(t, s) for t, spans in zip(texts, scrubber.analyze_many(texts, policy), strict=True) for s in spans]


def _beyond_stock(scrubber: Scrubber, texts: list[str], policy: ScrubPolicy) -> list[tuple[str, Span]]:
    """Our spans that replace a letter or digit no stock Presidio span covers (the project's own additions)."""
    out = []
    for t, ours, stock in zip(texts, scrubber.analyze_many(texts, policy), scrubber.stock_many(texts), strict=True):
        covered = {i for s in stock for i in range(s.start, s.end)}
        out.extend((t, s) for s in ours if any(t[i].isalnum() and i not in covered for i in range(s.start, s.end)))
    return out


@pytest.mark.slow
@pytest.mark.shares_cores
def test_demo_domains_survive_with_catalogue_allow_list(scrubber: Scrubber, domains: dict[str, DemoDomain]) -> None:
    # Stock Presidio takes product codes and button words ("Mode", "VB-9749") for names: those are
    # always scrubbed unless the tenant's (learned) vocabulary keeps them (issue 11). What is asserted
    # here is that the project's own recognizers add (almost) nothing, and that the frames survive
    # once the company's own names are allow-listed.
    total = 0
    for name, d in domains.items():
        texts = _texts(d)
        catalogue = _catalogue(texts)
        assert len(catalogue) >= 8, catalogue  # the regexes still find the catalogue
        policy = ScrubPolicy(allow_list=COMPANIES[name] + catalogue)
        total += len(_beyond_stock(scrubber, texts, policy))
        results = scrubber.scrub_many(texts, policy)
        framed = 0
        for original, r in zip(texts, results, strict=True):  # noise edits may lack the frame
            if original.startswith(d.style.greeting):
                framed += 1
                assert r.text.startswith(d.style.greeting), r.text
            if original.endswith(d.style.sign_off):
                assert r.text.endswith(d.style.sign_off), r.text
        assert framed >= len(d.self_edits()) // 2
    assert total <= 5, f"{total} values replaced in the demo domains beyond what stock Presidio replaces"


@pytest.mark.slow
@pytest.mark.shares_cores
def test_demo_domains_keep_generic_words_with_company_allow_list(
    scrubber: Scrubber, domains: dict[str, DemoDomain]
) -> None:
    for name, d in domains.items():
        texts = _texts(d)
        found = _beyond_stock(scrubber, texts, ScrubPolicy(allow_list=COMPANIES[name]))
        replaced = [t[s.start : s.end] for t, s in found]
        for value in replaced:
            assert value not in GENERIC and value.lower() not in LOWER_PHRASES, (name, value)
            assert not re.fullmatch(r"\d+ (?:MB|GB)", value), (name, value)
            assert not re.search(r"\b(?:Support|Billing|Services|Team)\b", value), (name, value)
        chars = sum(len(t) for t in texts)
        kept = 1 - sum(s.end - s.start for _, s in found) / chars
        assert kept >= 0.995, (name, kept, replaced[:20])


SAFE_SUPPORT_TEXT = [
    "Error E88F on the RX-1053 means the door switch is open. To fix it, close the door firmly and press Mode once.",
    "Error E76H on the GT-3966 means the dust bin sensor is blocked.",
    "Error E42C usually indicates a general fault. Try turning the device off and on again.",
    "To factory-reset the VB-9749, switch it off, then hold the Boost button for 8 seconds.",
    "Good morning, when is your support line open? Thanks!",
    "Hi, due date for payments?",
    "Hi there! when is my bill due?",
    "Dear customer, thank you for contacting Globex Billing.\n\nInvoices are due on the 20th of each month.",
    "Roaming is not included in Zenith 60; the travel pass adds 1000 MB of data.\n\nKind regards,\n"
    "Globex Billing Services",
    "Hi there, thanks for reaching out to Acme Support!\n\nBest regards,\nThe Acme Support Team",
    "The plan includes 5 GB of data for 30 days; charging takes 2 hours.",
    "Set it up in My Globex under Billing > Payment method.",
    "How much is the Pulse 10 plan per month?",
    "Hey, what's the travel pass price for Aurora 40?",
]


@pytest.mark.parametrize("text", SAFE_SUPPORT_TEXT)
def test_support_text_is_not_taken_for_pii(scrubber: Scrubber, text: str) -> None:
    # What stock Presidio takes ("Mode", "Pulse 10") goes unless the vocabulary keeps it (issue 11);
    # the project's own recognizers must take nothing here.
    taken_by_stock = tuple(text[s.start : s.end] for s in scrubber.stock_many([text])[0])
    result = scrubber.scrub(text, ScrubPolicy(allow_list=("Acme", "Globex"), vocabulary=taken_by_stock))
    assert result.text == text
    assert result.counts == {}


@pytest.mark.parametrize(
    ("allow", "text", "kept"),
    [
        (("Zenith",), "The Zenith 40 plan costs $60.50.", "Zenith"),
        (("Zenith",), "is zenith 40 cheaper than ZENITH 80?", "zenith"),
        (("Zenith",), "is zenith 40 cheaper than ZENITH 80?", "ZENITH"),
        (("Brira",), "I'm thinking of buying the Acme Brira smart thermostat.", "Brira"),
        (("Acme",), "I'm thinking of buying the Acme Brira smart thermostat.", "Acme"),
        (("Fenmar Go",), "the Fenmar Go travel pass costs $12.95 per day", "Fenmar Go"),
        (("Globex Billing Services",), "Kind regards,\nGlobex Billing\nServices", "Globex Billing\nServices"),
        (("Jordan Assistant",), "Ask jordan assistant about it.", "jordan assistant"),
    ],
)
def test_allow_listed_terms_survive(scrubber: Scrubber, allow: tuple[str, ...], text: str, kept: str) -> None:
    result = scrubber.scrub(text, ScrubPolicy(allow_list=allow))
    assert kept in result.text, result.text


def test_rest_of_a_stock_detection_goes_unless_the_vocabulary_keeps_it(scrubber: Scrubber) -> None:
    # stock Presidio takes "Acme Brira" for a person: "Acme" allow-listed keeps only "Acme" ...
    text = "I'm thinking of buying the Acme Brira smart thermostat."
    assert "Acme Brira" in [text[s.start : s.end] for s in scrubber.stock_many([text])[0]]
    out = scrubber.scrub(text, ScrubPolicy(allow_list=("Acme",))).text
    assert "Acme" in out and "Brira" not in out
    # ... and the learned vocabulary keeps the product name
    assert scrubber.scrub(text, ScrubPolicy(allow_list=("Acme",), vocabulary=("Brira",))).text == text


def test_allow_list_does_not_shield_a_real_name(scrubber: Scrubber) -> None:
    policy = ScrubPolicy(allow_list=("Acme", "Zenith", "Globex Billing"))
    result = scrubber.scrub("Laura Schmidt asked Acme about the Zenith 40 plan; Mark Walker from Globex Billing "
                            "replied.", policy)
    for kept in ("Acme", "Zenith 40", "Globex Billing"):
        assert kept in result.text
    for gone in ("Laura", "Schmidt", "Mark", "Walker"):
        assert gone not in result.text, result.text
    # the rest of a detection that held a listed term goes only if it is a product word, not a name
    result = scrubber.scrub("I asked Acme Laura Schmidt about it.", policy)
    assert "Acme" in result.text and "Laura" not in result.text and "Schmidt" not in result.text


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("Dear Bill, thank you for contacting Globex Billing.", ["Bill"]),
        ("Kind regards,\nMaria Lopez", ["Maria", "Lopez"]),
        ("Press Mode once and ask Mark Walker to check the door switch.", ["Mark", "Walker"]),
        ("thanks, grace miller here - the bin sensor is blocked", ["grace", "miller"]),
        ("ok so bill turner said the line is open", ["bill", "turner"]),
        ("Mr. Baker said the door switch is open.", ["Baker"]),
        ("Please ask Walker to call back about the Boost button.", ["Walker"]),
        ("The engineer in Hamburg replaced the bin sensor.", ["Hamburg"]),
        ("She lives in Bavaria and roams with 1000 MB of data.", ["Bavaria"]),
        ("Ship it to Kerkstraat 12, 1012 MB Amsterdam please.", ["Kerkstraat", "1012", "Amsterdam"]),
        ("Hi, I'm Rose Long and my Zenith 40 bill is wrong.", ["Rose", "Long"]),
    ],
)
def test_pii_in_support_sentences_is_still_removed(scrubber: Scrubber, text: str, gone: list[str]) -> None:
    result = scrubber.scrub(text, ScrubPolicy(allow_list=("Acme", "Globex", "Zenith")))
    for value in gone:
        assert not re.search(rf"(?<!\w){re.escape(value)}(?!\w)", result.text), result.text


def test_common_word_list_separates_words_from_names() -> None:
    words = common_english()
    assert len(words) > 10_000
    for w in ("mode", "boost", "billing", "roaming", "door", "line", "general", "sensor", "firmly", "reset"):
        assert w in words
    for name in ("mark", "grace", "john", "lisa", "molly", "bill", "johnson", "london"):
        assert name not in words

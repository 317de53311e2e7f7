"""Protects: recall where Presidio as it comes fails (issue 11, security finding 6), and the
vocabulary / deny-list contract of ``ScrubPolicy`` that the learned tenant vocabulary relies on.

- names in greetings and sign-offs, a first name alone before what people do, names after
  "thank you for contacting" are removed;
- lower-case street addresses and international formats (flat numbers; UK, DE, FR, NL, US, CA,
  AU postcodes) are removed with no fragment left; cities and countries too;
- ordinary sentences built like those (quantities, durations, "takes 3 days to close") survive;
- ``vocabulary`` terms survive inside name-like detections; ``deny_list`` terms are always
  scrubbed and beat the vocabulary; a term on both the allow- and the deny-list is rejected.

Runs the real Presidio engines with the installed spaCy model.
"""

from __future__ import annotations

import re

import pytest

from aion_assets.core.errors import ConfigError
from aion_assets.memory.scrub.engine import Scrubber, ScrubPolicy, get_scrubber

POLICY = ScrubPolicy(allow_list=("Acme", "Lumio"))


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    return get_scrubber()


def _left(text: str, values: list[str]) -> list[str]:
    return [v for v in values if re.search(rf"(?<![^\W_]){re.escape(v)}(?![^\W_])", text, re.IGNORECASE)]


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("Thank you for contacting Laura Schmidt, she will call you back.", ["Laura", "Schmidt"]),
        ("Rose will call you back tomorrow about the refund.", ["Rose"]),
        ("Mark has called twice about the hub.", ["Mark"]),
        ("Customer Kevin Brown Support ticket was escalated.", ["Kevin", "Brown"]),
        ("Regards,\nRose", ["Rose"]),
        ("Kind regards,\nMaria", ["Maria"]),
        ("Thanks,\nTom", ["Tom"]),
        ("Best,\nJonathan Meyer\nSenior Agent", ["Jonathan", "Meyer"]),
        ("Cheers, Sam", ["Sam"]),
        ("Thank you for contacting Acme Support, my name is Daniel.", ["Daniel"]),
        ("hi this is sarah o'neil, my hub is offline", ["sarah", "o'neil"]),
        ("Good news Maria: your Lumio Hub ships today.", ["Maria"]),
        ("It works now. Priya, your hub ships today.", ["Priya"]),
    ],
)
def test_names_in_greetings_sign_offs_and_context(scrubber: Scrubber, text: str, gone: list[str]) -> None:
    out = scrubber.scrub(text, POLICY).text
    assert not _left(out, gone), out
    assert "<PERSON>" in out


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("hi, this is Anna from 22 baker street, London", ["22", "baker", "London"]),
        ("please send it to flat 3, 14 high street, manchester m1 2ab", ["14", "high", "manchester", "m1", "2ab"]),
        ("my address is 12 rue de rivoli, 75001 paris", ["12", "rivoli", "75001", "paris"]),
        ("I live at 1208 elm avenue apt 4b, springfield, il 62704", ["1208", "elm", "4b", "springfield", "62704"]),
        ("Send to 44 Queen St W, Toronto, ON M5H 2M9, Canada", ["44", "Queen", "Toronto", "M5H", "2M9", "Canada"]),
        ("Deliver to Unit 5, 22 George Street, Sydney NSW 2000, Australia",
         ["22", "George", "Sydney", "NSW", "2000", "Australia"]),
        ("Flat 2, 7 Cavendish Road, Leeds LS6 2AB, United Kingdom", ["Cavendish", "Leeds", "LS6", "2AB"]),
        ("Meine Adresse: Hauptstr. 5, 10115 Berlin", ["Hauptstr", "10115", "Berlin"]),
        ("Kerkstraat 12, 1017 GC Amsterdam, the Netherlands", ["Kerkstraat", "1017", "Amsterdam", "Netherlands"]),
        ("We are at 350 Fifth Avenue, New York, NY 10118, USA", ["350", "Fifth", "New York", "10118"]),
        ("i moved to berlin last year", ["berlin"]),
        ("we are based in toronto, canada", ["toronto", "canada"]),
        ("The customer lives in Leeds, United Kingdom.", ["Leeds", "United Kingdom"]),
    ],
)
def test_addresses_cities_and_countries(scrubber: Scrubber, text: str, gone: list[str]) -> None:
    out = scrubber.scrub(text, POLICY).text
    assert not _left(out, gone), out


@pytest.mark.parametrize(
    "text",
    [
        "Tickets usually take 3 days to close.",
        "The sensor takes 2 minutes to connect and 5 more steps to pair.",
        "We have 12 new users on the hub this week.",
        "Your bill will be sent on the 1st of each month.",
        "Mark the box as fragile and send it back.",
        "The hub will call home every hour.",
    ],
)
def test_sentences_like_the_recall_cases_survive(scrubber: Scrubber, text: str) -> None:
    stock = scrubber.stock_many([text])[0]
    assert stock == []  # stock leaves them alone, and so do the project's additions
    assert scrubber.scrub(text, POLICY).text == text


def test_vocabulary_keeps_learned_terms_and_deny_list_beats_it(scrubber: Scrubber) -> None:
    text = "Ask Siri to set Eco Mode, or open Brightwater Home. Rose will call you back."
    base = scrubber.scrub(text).text
    assert "Rose" not in base
    learned = ScrubPolicy(vocabulary=("Siri", "Eco Mode", "Brightwater Home"))
    out = scrubber.scrub(text, learned).text
    for term in ("Siri", "Eco Mode", "Brightwater Home"):
        assert term in out, out
    assert "Rose" not in out
    denied = ScrubPolicy(vocabulary=learned.vocabulary, deny_list=("Siri", "Zelda"))
    out = scrubber.scrub(text + " Zelda says hi.", denied)
    assert "Siri" not in out.text and "Zelda" not in out.text and "Eco Mode" in out.text
    assert out.counts.get("PERSON", 0) >= 3  # Siri, Rose, Zelda
    assert denied.kept_terms == ("Eco Mode", "Brightwater Home")


def test_deny_list_term_inside_a_typed_detection_keeps_that_type(scrubber: Scrubber) -> None:
    out = scrubber.scrub("Ship to 22 Baker Street, London NW1 6XE.", ScrubPolicy(deny_list=("Baker",)))
    assert out.text == "Ship to <STREET_ADDRESS>." and out.counts == {"STREET_ADDRESS": 1}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"allow_list": ["Rose"], "deny_list": ["rose"]}, "deny_list and allow_list both hold"),
        ({"deny_list": [" "]}, "deny_list terms must not be empty"),
        ({"vocabulary": [""]}, "vocabulary terms must not be empty"),
        ({"vocabulary": "Siri"}, "vocabulary"),
    ],
)
def test_list_validation_names_the_field(config: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ScrubPolicy.from_config(config)

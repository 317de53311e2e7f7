"""Protects the PII scrubber (aion_assets/memory/scrub/): what leaves the memory store in a dataset.

- every PII format in the table is removed completely and replaced by the right typed placeholder;
- ordinary support text (allow-listed products, numbers, order ids, prices, durations, error
  codes, model numbers) survives untouched, once what stock Presidio takes there is in the
  tenant's vocabulary;
- per-tenant policies (extra patterns, allow-list, skipped types) work and are validated;
- batch and single scrubbing agree, counts are right, and no result carries a removed value;
- placeholders never nest and no fragment of a value is left beside one.

Runs the real Presidio engines with the installed spaCy model (loaded once for the module).
"""

from __future__ import annotations

import re
from dataclasses import asdict

import pytest

from aion_assets.core.errors import ConfigError
from aion_assets.memory.scrub.engine import Scrubber, ScrubPolicy, ScrubResult, get_scrubber, merge_counts

PRODUCTS = ("Nimbus Pro", "AcmeSync", "Helix Cloud", "Jordan Assistant")
POLICY = ScrubPolicy(allow_list=PRODUCTS)


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    return get_scrubber()


def _alnum_tokens(value: str) -> list[str]:
    return re.findall(r"[^\W_]+", value)


def assert_removed(result: ScrubResult, value: str, entity: str) -> None:
    """No letter/digit run of VALUE (longer than 1 char) survives, and the right placeholder is there."""
    assert f"<{entity}>" in result.text, f"no <{entity}> in {result.text!r}"
    assert result.counts.get(entity, 0) >= 1, result.counts
    for tok in _alnum_tokens(value):
        if len(tok) > 1:
            assert not re.search(rf"(?<![^\W_]){re.escape(tok)}(?![^\W_])", result.text), (
                f"{tok!r} of {value!r} survived in {result.text!r}"
            )


PII_CASES = [
    # e-mail, incl. plus-addressing and subdomains
    ("Please write to {v} about it.", "jane.doe@example.com", "EMAIL_ADDRESS"),
    ("my email is {v}", "bob.smith+billing@mail.example.co.uk", "EMAIL_ADDRESS"),
    ("cc {v} on the ticket", "x_y-z+tag@sub.domain.io", "EMAIL_ADDRESS"),
    # phones: US, UK, DE, FR, IN, NL, ES, intl, extensions
    ("Call me at {v} tomorrow.", "(415) 555-0132", "PHONE_NUMBER"),
    ("Call me at {v} tomorrow.", "415.555.0132", "PHONE_NUMBER"),
    ("My cell is {v}.", "+1-202-555-0187x1234", "PHONE_NUMBER"),
    ("US office: {v}", "001-541-754-3010", "PHONE_NUMBER"),
    ("UK number {v} please", "+44 20 7946 0958", "PHONE_NUMBER"),
    ("ring {v} after 5", "(0151) 496 0484", "PHONE_NUMBER"),
    ("Telefon {v} bitte", "+49 (0)30 12345678", "PHONE_NUMBER"),
    ("Ruf an: {v}", "(04709) 005474", "PHONE_NUMBER"),
    ("Appelez le {v} svp", "+33 (0)3 55 64 94 20", "PHONE_NUMBER"),
    ("Appelez le {v} svp", "02 41 98 46 34", "PHONE_NUMBER"),
    ("WhatsApp {v} anytime", "+91 98765 43210", "PHONE_NUMBER"),
    ("mobile {v}", "09819846346", "PHONE_NUMBER"),
    ("bel {v} even", "+31(0)20-3778353", "PHONE_NUMBER"),
    ("llama al {v}", "+34 912 345 678", "PHONE_NUMBER"),
    # cards with spaces, dashes, none; 13-19 digits
    ("Card {v} was declined.", "4111 1111 1111 1111", "CREDIT_CARD"),
    ("Card {v} was declined.", "5500-0000-0000-0004", "CREDIT_CARD"),
    ("Charge it to {v} please", "340000000000009", "CREDIT_CARD"),
    ("Amex {v} on file", "3400-000000-00009", "CREDIT_CARD"),
    # SSN
    ("SSN: {v}", "123-45-6789", "US_SSN"),
    ("my social is {v}", "536 22 8726", "US_SSN"),
    # IBAN compact and grouped, several countries
    ("IBAN {v} for the refund", "DE89370400440532013000", "IBAN_CODE"),
    ("IBAN {v} for the refund", "GB29 NWBK 6016 1331 9268 19", "IBAN_CODE"),
    ("pay to {v} today", "FR14 2004 1010 0505 0001 3M02 606", "IBAN_CODE"),
    ("conto {v}", "IT60X0542811101000000123456", "IBAN_CODE"),
    ("rekening {v}", "NL91ABNA0417164300", "IBAN_CODE"),
    # IP v4 and v6
    ("Blocked {v} after 5 attempts", "192.168.10.254", "IP_ADDRESS"),
    ("Request from {v} failed", "2001:db8:85a3::8a2e:370:7334", "IP_ADDRESS"),
    ("Request from {v} failed", "fe80:0:0:0:202:b3ff:fe1e:8329", "IP_ADDRESS"),
    # names: several cultures, lower case, after titles
    ("Please ask {v} to call back.", "Margaret Thompson", "PERSON"),
    ("The ticket was opened by {v} yesterday.", "Wei Zhang", "PERSON"),
    ("I spoke with {v} on Monday.", "Mohammed Al-Farsi", "PERSON"),
    ("Dear {v}, thanks for waiting.", "Priya Raghunathan", "PERSON"),
    ("Forward this to {v} please.", "Oluwaseun Adeyemi", "PERSON"),
    ("Dear {v}, your order is ready.", "José García", "PERSON"),
    ("Escalated by {v}: sync fails.", "Giulia Bianchi", "PERSON"),
    ("Please call {v} back.", "Søren Kjærgaard", "PERSON"),
    ("Contact {v} for access.", "Hiroshi Tanaka", "PERSON"),
    ("My name is {v} and I need help.", "Anna Kowalska", "PERSON"),
    ("Mr. {v} called again.", "Okonkwo", "PERSON"),
    ("thanks, {v} here - the app crashed", "molly walker", "PERSON"),
    ("hi this is {v}, my order is late", "sarah connor", "PERSON"),
    ("ok so {v} said it works now", "lisa meyer", "PERSON"),
    # street addresses: US, UK (multi-line), DE, FR, ES, IT, NL, IN
    ("Ship it to {v} by Friday.", "1600 Pennsylvania Avenue NW, Washington, DC 20500", "STREET_ADDRESS"),
    ("Ship it to:\n{v}", "221B Baker Street\nLondon\nNW1 6XE", "STREET_ADDRESS"),
    ("Billing address:\n{v}\nThanks!", "Flat 5\n12 Victoria Road\nManchester\nM14 5AB", "STREET_ADDRESS"),
    ("Lieferadresse: {v}", "Hauptstraße 5, 10115 Berlin", "STREET_ADDRESS"),
    ("Address:\n{v}", "Evelyne-Flantz-Weg 1-2\n48337 Lichtenfels", "STREET_ADDRESS"),
    ("Envoyer à {v} merci", "12, rue de la Paix, 75002 Paris", "STREET_ADDRESS"),
    ("I moved to {v} last month.", "Calle de Alcalá 45 Piso 3", "STREET_ADDRESS"),
    ("Spedire a {v} grazie", "Via Roma, 12 Piano 3, 20121, Milano (MI)", "STREET_ADDRESS"),
    ("Stuur naar {v}", "Kerkstraat 12, 1017 GC Amsterdam", "STREET_ADDRESS"),
    ("Deliver to:\n{v}", "H.No. 38\nBalan Road\nPhusro 614610", "STREET_ADDRESS"),
    ("Office moved to {v}.", "350 Fifth Ave Suite 3300, New York, NY 10118", "STREET_ADDRESS"),
    # cities, regions, countries
    ("The outage hit users in {v} this morning.", "Hamburg", "LOCATION"),
    ("We ship to {v} next week.", "Brazil", "LOCATION"),
    ("She lives in {v} now.", "Bavaria", "LOCATION"),
    ("Our team in {v} will call.", "Lyon", "LOCATION"),
    ("He is travelling to {v} for work.", "New Zealand", "LOCATION"),
    ("Customer from {v} complained again.", "Marseille", "LOCATION"),
    ("The {v} store is closed.", "Rotterdam", "LOCATION"),
    ("Users in {v} see errors.", "Uttar Pradesh", "LOCATION"),
]


@pytest.mark.parametrize(("template", "value", "entity"), PII_CASES, ids=[f"{c[2]}:{c[1]}" for c in PII_CASES])
def test_pii_is_removed_with_typed_placeholder(scrubber: Scrubber, template: str, value: str, entity: str) -> None:
    result = scrubber.scrub(template.format(v=value), POLICY)
    assert_removed(result, value, entity)


SAFE_TEXTS = [
    "My Nimbus Pro subscription renewal failed with E-402.",
    "AcmeSync crashes after 3 hours of use.",
    "The Helix Cloud plan costs $49.99 per month, or €45.00.",
    "Order ORD-10023 shipped with 12 units of XR-2000.",
    "Error 0x80070005 appears when installing v2.3.1.",
    "It took 45 minutes and 2 days to get a reply on ticket TCK-4821.",
    "Please restart the router and wait 90 seconds before retrying.",
    "We sold 1,204 licences in Q3, up 15% on last year.",
    "Model A1502 and TX-55 are both out of stock.",
    "HTTP 503 responses rose to 12 per minute during the deploy.",
    "Jordan Assistant answered 340 questions today.",
    "Reading the manual helps; the app shows ERR_TIMEOUT after 30 seconds.",
]


@pytest.mark.parametrize("text", SAFE_TEXTS)
def test_safe_text_survives_untouched(scrubber: Scrubber, text: str) -> None:
    # What stock Presidio takes here ("E-402" as a PERSON) is always scrubbed unless the tenant's
    # vocabulary keeps it (issue 11); the project's own recognizers must add nothing on safe text.
    taken_by_stock = tuple(text[s.start : s.end] for s in scrubber.stock_many([text])[0])
    result = scrubber.scrub(text, ScrubPolicy(allow_list=PRODUCTS, vocabulary=taken_by_stock))
    assert result.text == text
    assert result.counts == {}


def test_allow_listed_term_survives_next_to_pii(scrubber: Scrubber) -> None:
    text = "Jordan Assistant told Maria Lopez in Madrid to reinstall."
    result = scrubber.scrub(text, POLICY)
    assert "Jordan Assistant" in result.text
    assert "Maria" not in result.text and "Lopez" not in result.text and "Madrid" not in result.text
    # without the allow-list the same words are a name and are scrubbed
    assert "Jordan" not in scrubber.scrub(text).text


def test_policy_extra_pattern_and_skip(scrubber: Scrubber) -> None:
    policy = ScrubPolicy(
        extra_patterns=[{"name": "employee id", "entity_type": "EMPLOYEE_ID", "regex": r"\bEMP-\d{6}\b", "score": 0.9}],
        skip_entities={"IP_ADDRESS"},
    )
    result = scrubber.scrub("EMP-004211 logged in from 10.0.0.7, mail ann@corp.example.com", policy)
    assert "EMP-004211" not in result.text and "<EMPLOYEE_ID>" in result.text
    assert "10.0.0.7" in result.text  # skipped type stays
    assert result.counts == {"EMAIL_ADDRESS": 1, "EMPLOYEE_ID": 1}
    # the default policy leaves the employee id alone and scrubs the IP
    default = scrubber.scrub("EMP-004211 logged in from 10.0.0.7")
    assert "EMP-004211" in default.text and "<IP_ADDRESS>" in default.text


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"extra_patterns": [{"name": "x", "entity_type": "emp id", "regex": "a"}]}, "entity_type"),
        ({"extra_patterns": [{"name": "x", "entity_type": "EMP_ID", "regex": "(unclosed"}]}, "does not compile"),
        ({"extra_patterns": [{"name": "x", "entity_type": "EMP_ID", "regex": "a*"}]}, "empty string"),
        ({"extra_patterns": [{"name": "x", "entity_type": "EMP_ID", "regex": "a", "score": 1.5}]}, "score"),
        ({"allow_list": ["ok", "  "]}, "blank"),
        ({"skip_entities": ["PASSPORT"]}, "not scrubbed types"),
        ({"allow": ["typo"]}, "allow"),
    ],
)
def test_policy_validation_names_the_problem(config: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ScrubPolicy.from_config(config)


def test_policy_from_config_roundtrip() -> None:
    policy = ScrubPolicy.from_config({"allow_list": ["Nimbus Pro", "Nimbus Pro"], "skip_entities": ["LOCATION"]})
    assert policy.allow_list == ("Nimbus Pro",)
    assert policy.skip_entities == frozenset({"LOCATION"})
    assert hash(policy) == hash(ScrubPolicy.from_config({"allow_list": ["Nimbus Pro"], "skip_entities": ["LOCATION"]}))


MIXED = [
    "Hi, I'm Laura Schmidt (laura.schmidt@example.de), call +49 30 1234567 about ORD-55231.",
    "Card 4111-1111-1111-1111 and IBAN DE89 3704 0044 0532 0130 00 belong to Pierre Dubois.",
    "Ship to:\n77 Elm Street Apt. 4\nSpringfield, IL 62704\nThanks, John Carter",
    "Server 203.0.113.9 in Frankfurt returned E-500 for 3 hours.",
    "nothing to see here: Nimbus Pro v4.2 costs $19.99",
    "",
]


def test_batch_equals_single(scrubber: Scrubber) -> None:
    batch = scrubber.scrub_many(MIXED, POLICY)
    single = [scrubber.scrub(t, POLICY) for t in MIXED]
    assert batch == single
    assert len(batch) == len(MIXED)


def test_counts_are_per_type_and_merge(scrubber: Scrubber) -> None:
    results = scrubber.scrub_many(MIXED, POLICY)
    # stock Presidio takes "ORD-55231" for a place; a code is no place (``spans.code_holes``), so it stays
    assert results[0].counts == {"EMAIL_ADDRESS": 1, "PERSON": 1, "PHONE_NUMBER": 1}
    assert "ORD-55231" in results[0].text
    assert results[1].counts == {"CREDIT_CARD": 1, "IBAN_CODE": 1, "PERSON": 1}
    assert results[2].counts == {"PERSON": 1, "STREET_ADDRESS": 1}
    assert results[3].counts == {"IP_ADDRESS": 1, "LOCATION": 1}
    assert results[4].counts == {} and results[4].text == MIXED[4]
    for r in results:  # every counted value left exactly one placeholder
        assert sum(r.counts.values()) == len(re.findall(r"<[A-Z_]+>", r.text))
    assert merge_counts(r.counts for r in results) == {
        "CREDIT_CARD": 1, "EMAIL_ADDRESS": 1, "IBAN_CODE": 1, "IP_ADDRESS": 1,
        "LOCATION": 1, "PERSON": 3, "PHONE_NUMBER": 1, "STREET_ADDRESS": 1,
    }


def test_results_carry_no_removed_values(scrubber: Scrubber) -> None:
    secrets = ["Laura", "Schmidt", "laura.schmidt@example.de", "1234567", "4111", "DE89", "Pierre", "Dubois",
               "Elm", "62704", "Springfield", "John", "Carter", "203.0.113.9", "Frankfurt"]
    for r in scrubber.scrub_many(MIXED, POLICY):
        dumped = repr(asdict(r))
        for s in secrets:
            assert s not in dumped
        assert set(asdict(r)) == {"text", "counts"}


def test_overlaps_never_nest_or_leave_fragments(scrubber: Scrubber) -> None:
    # a town inside an address, a name that is also a town, an e-mail that contains a name
    texts = [
        "Send it to 12 Paris Road, Lyon 69001 for Paris Hilton.",
        "Mail victoria.london@example.com or call Victoria London.",
        "Contact: Wahab Dhawan\nH.No. 76\nMorar Street, Tirupati 472796\n08438788905",
    ]
    for r in scrubber.scrub_many(texts):
        assert not re.search(r"<[A-Z_]*<|>[A-Z_]*>", r.text), r.text
        assert not re.search(r"[^\W_]<|>[^\W_]", r.text), f"fragment glued to a placeholder: {r.text!r}"
    out = scrubber.scrub(texts[2]).text
    for frag in ("Wahab", "Dhawan", "76", "Morar", "Tirupati", "472796", "08438788905"):
        assert frag not in out


def test_factory_is_one_engine_per_process() -> None:
    assert get_scrubber() is get_scrubber()


def test_bad_threshold_is_rejected() -> None:
    with pytest.raises(ConfigError, match="score_threshold"):
        Scrubber(score_threshold=0)

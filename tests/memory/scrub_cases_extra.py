"""Extra labelled cases for tuning the scrubber (issue 11), written apart from bench/bench_scrub.py.

Each case is a text with the exact offsets of its PII values (with their type) and of its safe
spans (identifiers, dates, versions, error codes, units, menu paths, product names that must stay).
Categories follow issue 11: names in greetings, sign-offs and e-mail signatures, first names alone
in context, upper-case names in forms, initials, lower-case street addresses, international
addresses with flat numbers, postcodes and towns (the whole address must go), cities and countries;
and the safe text a support answer is made of.

Values come from Faker (seeded per locale) and from templates written here; the same seed gives
the same cases in every process. ``removed`` / ``kept`` score a scrubber's spans against them.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from faker import Faker


@dataclass(frozen=True)
class Label:
    """A labelled range: a PII value (``kind`` is its entity type) or safe text (``kind`` SAFE)."""

    start: int
    end: int
    kind: str
    category: str


@dataclass
class Case:
    """One text and its labels."""

    text: str
    labels: list[Label] = field(default_factory=list)


class _Builder:
    """Assembles a text from literal parts and labelled values, recording offsets."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.labels: list[Label] = []
        self.pos = 0

    def lit(self, s: str) -> _Builder:
        self.parts.append(s)
        self.pos += len(s)
        return self

    def val(self, s: str, kind: str, category: str) -> _Builder:
        self.labels.append(Label(self.pos, self.pos + len(s), kind, category))
        return self.lit(s)

    def case(self) -> Case:
        return Case("".join(self.parts), self.labels)


def _fk(locale: str, seed: int) -> Faker:
    f = Faker(locale)
    f.seed_instance(seed)
    return f


NAME_LOCALES = ("en_US", "en_GB", "en_IE", "en_AU", "de_DE", "fr_FR", "nl_NL", "it_IT", "es_ES", "pl_PL", "pt_BR")
PLACE_LOCALES = ("en_US", "en_GB", "en_AU", "de_DE", "fr_FR", "nl_NL", "it_IT", "es_ES", "pl_PL", "pt_BR")


def _person_cases(rng: random.Random) -> list[Case]:
    out: list[Case] = []
    for i, loc in enumerate(NAME_LOCALES):
        f = _fk(loc, 500 + i)
        for _ in range(4):
            first, last = f.first_name(), f.last_name()
            full = f"{first} {last}"
            b = _Builder()
            greeting = rng.choice(["Hi", "Hello", "Dear", "Good morning", "Hey"])
            out.append(b.lit(f"{greeting} ").val(full, "PERSON", "greeting").lit(
                ", thanks for your message about order ").val(f"ORD-{rng.randint(10000, 99999)}", "SAFE", "order")
                .lit(".").case())
            b = _Builder()
            out.append(b.lit(f"{greeting} ").val(first, "PERSON", "greeting_first").lit(
                ", your replacement ships tomorrow.").case())
            b = _Builder()
            sign = rng.choice(["Kind regards", "Best regards", "Thanks", "Cheers", "Best", "Many thanks"])
            out.append(b.lit("The router was reset remotely.\n\n" + sign + ",\n").val(full, "PERSON", "signoff").case())
            b = _Builder()
            out.append(b.lit(f"Let me know if it helps.\n{sign},\n").val(first, "PERSON", "signoff_first").case())
            b = _Builder()
            out.append(b.lit("Please see the attached log.\n\n--\n").val(full, "PERSON", "signature")
                       .lit(f"\n{f.job()}\nMobile: ").val(f.phone_number(), "PHONE_NUMBER", "signature_phone")
                       .lit("\n").case())
            b = _Builder()
            verb = rng.choice(["will call you back tomorrow", "will follow up by e-mail", "said the unit is fine",
                               "has called twice about it", "is out of office until Monday"])
            out.append(b.val(first, "PERSON", "first_alone").lit(f" {verb}.").case())
            b = _Builder()
            out.append(b.lit(rng.choice(["I spoke with ", "I already talked to ", "Please ask "]))
                       .val(first, "PERSON", "first_alone").lit(" about the refund.").case())
            b = _Builder()
            out.append(b.lit(rng.choice(["Name: ", "NAME: ", "Full name: ", "Account holder: "]))
                       .val(full.upper(), "PERSON", "upper_form").lit("\nPlan: Premium\nMobile: ")
                       .val(f.phone_number(), "PHONE_NUMBER", "form_phone").case())
            b = _Builder()
            initials = f"{first[0]}. {last}"
            out.append(b.lit(rng.choice(["Contact: ", "Approved by ", "Escalated to ", "Signed, "]))
                       .val(initials, "PERSON", "initials").lit(", see ticket ")
                       .val(f"TCK-{rng.randint(1000, 99999)}", "SAFE", "ticket").lit(".").case())
    return out


def _address_value(loc: str, f: Faker, rng: random.Random) -> str:
    n = f.building_number()
    flat = rng.randint(1, 40)
    if loc == "en_GB":
        return f"Flat {flat}, {n} {f.street_name()}, {f.city()} {f.postcode()}"
    if loc == "en_IE":
        return f"Apartment {flat}, {n} {f.street_name()}, {f.city()}"
    if loc == "en_AU":
        return f"Unit {flat}, {n} {f.street_name()}, {f.city()} {f.state_abbr()} {f.postcode()}"
    if loc == "en_US":
        return f"{n} {f.street_name()}, Apt {flat}, {f.city()}, {f.state_abbr()} {f.postcode()}"
    if loc == "de_DE":
        return f"{f.street_name()} {n}, Wohnung {flat}, {f.postcode()} {f.city()}"
    if loc == "fr_FR":
        return f"{n} {f.street_name()}, Appartement {flat}, {f.postcode()} {f.city()}"
    if loc == "nl_NL":
        return f"{f.street_name()} {n}-{flat}, {f.postcode()} {f.city()}"
    if loc == "it_IT":
        return f"{f.street_name()} {n}, interno {flat}, {f.postcode()} {f.city()}"
    if loc == "es_ES":
        return f"{f.street_name()}, {n}, {rng.randint(1, 9)}º {rng.choice('ABCD')}, {f.postcode()} {f.city()}"
    if loc == "pl_PL":
        return f"ul. {f.street_name()} {n}/{flat}, {f.postcode()} {f.city()}"
    if loc == "pt_BR":
        return f"{f.street_name()}, {n}, apto {flat}, {f.city()} - {f.estado_sigla()}, {f.postcode()}"
    raise KeyError(loc)


ADDRESS_LOCALES = ("en_US", "en_GB", "en_IE", "en_AU", "de_DE", "fr_FR", "nl_NL", "it_IT", "es_ES", "pl_PL", "pt_BR")


def _address_cases(rng: random.Random) -> list[Case]:
    out: list[Case] = []
    for i, loc in enumerate(ADDRESS_LOCALES):
        f = _fk(loc, 700 + i)
        for _ in range(5):
            b = _Builder()
            lead = rng.choice(["Please ship the replacement to ", "My new address is ", "Deliver to: ",
                               "Send the invoice to "])
            out.append(b.lit(lead).val(_address_value(loc, f, rng), "STREET_ADDRESS", f"intl_{loc}")
                       .lit(rng.choice([".", " please.", ", thanks."])).case())
    us, gb = _fk("en_US", 801), _fk("en_GB", 802)
    for f in (us, gb) * 6:
        b = _Builder()
        street = f"{f.building_number()} {f.street_name()}".lower()
        out.append(b.lit(rng.choice(["my address is ", "i live at ", "send it to ", "its "]))
                   .val(street, "STREET_ADDRESS", "lower_street").lit(rng.choice(["", " thanks", ", can you check"]))
                   .case())
    return out


def _place_cases(rng: random.Random) -> list[Case]:
    out: list[Case] = []
    for i, loc in enumerate(PLACE_LOCALES):
        f = _fk(loc, 900 + i)
        for _ in range(4):
            b = _Builder()
            out.append(b.lit(rng.choice(["I live in ", "We moved to ", "I'm based in ", "The unit was bought in "]))
                       .val(f.city(), "LOCATION", "city").lit(rng.choice([".", " last year.", " and it fails."]))
                       .case())
            b = _Builder()
            out.append(b.lit(rng.choice(["Do you ship to ", "Is the hub sold in ", "I'm travelling to "]))
                       .val(f.country(), "LOCATION", "country").lit("?").case())
            b = _Builder()
            out.append(b.lit("Our family moved from ").val(f.city(), "LOCATION", "city").lit(", ")
                       .val(f.country(), "LOCATION", "country").lit(" in ")
                       .val(str(rng.randint(2001, 2025)), "SAFE", "year").lit(".").case())
    return out


MENUS = ("Settings > Wi-Fi", "Settings > Network > Advanced", "Account > Billing > Invoices", "Menu > Schedule",
         "Home > Devices > Thermostat", "Profile > Security", "Settings > Notifications")
LABELS = ("Mobile:", "Email:", "Status:", "Plan:", "Serial:")
PRODUCTS = ("Echo Dot", "Nest Hub", "Galaxy Tab", "Pixel Buds", "Fire TV Stick", "Kindle Paperwhite")


def _safe_values(rng: random.Random) -> dict[str, Callable[[], str]]:
    def n(a: int, b: int) -> int:
        return rng.randint(a, b)

    return {
        "order": lambda: rng.choice([f"ORD-{n(10000, 99999)}", f"INV/{n(2020, 2026)}/{n(10000, 99999)}",
                                     f"#{n(1000000, 9999999)}", f"INV-{n(2020, 2026)}-{n(1000, 9999)}",
                                     f"SO{n(100000, 999999)}", f"RMA-{n(10000, 99999)}"]),
        "case": lambda: rng.choice([f"case {n(10000000, 99999999)}", f"ticket #{n(10000, 99999)}",
                                    f"CS-{n(100000, 999999)}", f"TCK-{n(1000, 99999)}"]),
        "date": lambda: rng.choice([f"{n(2024, 2026)}-{n(1, 12):02d}-{n(1, 28):02d}",
                                    f"{n(2024, 2026)}-{n(1, 12):02d}-{n(1, 28):02d}T{n(0, 23):02d}:{n(0, 59):02d}:00Z",
                                    f"{n(0, 23):02d}:{n(0, 59):02d} UTC"]),
        "version": lambda: rng.choice([f"v{n(1, 20)}.{n(0, 30)}.{n(0, 9)}", f"{n(1, 9)}.{n(0, 20)}.{n(0, 9)}",
                                       f"v{n(1, 9)}.{n(0, 9)}", f"{n(1, 9)}.{n(0, 9)}.{n(0, 9)}-beta"]),
        "error": lambda: rng.choice([f"E-{n(100, 999)}", f"E{n(10, 99)}", f"0x{n(0, 2**32 - 1):08X}",
                                     f"ERR_{rng.choice(['TIMEOUT', 'AUTH', 'QUOTA'])}", f"HTTP {n(400, 504)}"]),
        "unit": lambda: rng.choice([f"{n(10, 900)} Mbps", f"{rng.choice(['2.4', '5'])} GHz", f"{n(1, 8)} TB",
                                    f"{n(100, 900)} Mbit/s", f"{n(10, 99)} dBm", f"{n(500, 5000)} mAh"]),
        "menu": lambda: rng.choice(MENUS),
        "product": lambda: rng.choice(PRODUCTS),
    }


SAFE_TEMPLATES = (
    "Your order {order} ships on {date}.",
    "Refund for {order} was issued on {date}; see {case}.",
    "Firmware {version} fixes error {error} on the {product}.",
    "Go to {menu} and switch it off, then restart.",
    "The line is rated for {unit}; you measured {unit}.",
    "We reopened {case} after error {error} came back at {date}.",
    "Update the app to {version} and open {menu}.",
    "The {product} supports {unit} on firmware {version}.",
    "Invoice {order} is attached; reference {case}.",
    "Error {error} means the hub lost power at {date}.",
)
_SLOT = re.compile(r"\{(\w+)\}")


def _safe_cases(rng: random.Random, n: int = 160) -> list[Case]:
    vals = _safe_values(rng)
    out: list[Case] = []
    for i in range(n):
        template = SAFE_TEMPLATES[i % len(SAFE_TEMPLATES)]
        b = _Builder()
        last = 0
        for m in _SLOT.finditer(template):
            b.lit(template[last : m.start()]).val(vals[m.group(1)](), "SAFE", m.group(1))
            last = m.end()
        b.lit(template[last:])
        out.append(b.case())
    for label in LABELS:  # a form's field labels stay, its value goes
        b = _Builder()
        out.append(b.val(label, "SAFE", "label").lit(" ").val("+44 7700 900123", "PHONE_NUMBER", "form_phone").case())
    return out


@lru_cache(maxsize=1)
def cases() -> tuple[Case, ...]:
    """All extra cases (deterministic)."""
    rng = random.Random(20261129)
    return tuple(_person_cases(rng) + _address_cases(rng) + _place_cases(rng) + _safe_cases(rng))


_ALNUM = re.compile(r"[^\W_]+")


def _covered(spans: Sequence[tuple[int, int]], length: int) -> list[bool]:
    cover = [False] * length
    for a, b in spans:
        for i in range(max(0, a), min(length, b)):
            cover[i] = True
    return cover


def score(cs: Sequence[Case], replaced: Sequence[Sequence[tuple[int, int]]]) -> dict[str, tuple[int, int]]:
    """Per category: (hits, total). A PII value is hit when none of its letters or digits survives;
    a safe span is hit when no character of it is replaced."""
    out: dict[str, list[int]] = {}
    for case, spans in zip(cs, replaced, strict=True):
        cover = _covered(spans, len(case.text))
        for lab in case.labels:
            if lab.kind == "SAFE":
                hit = not any(cover[lab.start : lab.end])
                key = "safe:" + lab.category
            else:
                value = case.text[lab.start : lab.end]
                idx = [lab.start + m.start() + k for m in _ALNUM.finditer(value) for k in range(len(m.group()))]
                hit = all(cover[i] for i in idx)
                key = lab.category
            tally = out.setdefault(key, [0, 0])
            tally[0] += hit
            tally[1] += 1
    return {k: (v[0], v[1]) for k, v in sorted(out.items())}


def misses(cs: Sequence[Case], replaced: Sequence[Sequence[tuple[int, int]]], category: str) -> list[str]:
    """The texts of CATEGORY's labels that were missed (PII left, or safe text replaced)."""
    out = []
    for case, spans in zip(cs, replaced, strict=True):
        cover = _covered(spans, len(case.text))
        for lab in case.labels:
            if lab.category != category:
                continue
            if lab.kind == "SAFE":
                bad = any(cover[lab.start : lab.end])
            else:
                value = case.text[lab.start : lab.end]
                bad = not all(cover[lab.start + m.start() + k] for m in _ALNUM.finditer(value)
                              for k in range(len(m.group())))
            if bad:
                out.append(case.text)
    return out


def safe_kept_outside_stock(
    cs: Sequence[Case], ours: Sequence[Sequence[Any]], stock: Sequence[Sequence[Any]]
) -> tuple[int, int, list[str]]:
    """Safe labels that stock Presidio leaves alone: how many OURS keeps, how many there are, the lost texts.

    OURS and STOCK are each case's spans (anything with ``start`` and ``end``). A safe label that
    stock already replaces is left out: the project never drops what stock finds.
    """
    kept, total, lost = 0, 0, []
    for case, mine, theirs in zip(cs, ours, stock, strict=True):
        for lab in case.labels:
            if lab.kind != "SAFE" or any(s.start < lab.end and lab.start < s.end for s in theirs):
                continue
            hit = any(s.start < lab.end and lab.start < s.end for s in mine)
            kept += not hit
            total += 1
            if hit:
                lost.append(case.text[lab.start : lab.end])
    return kept, total, lost

"""Held-out PII evaluation set: documents the scrubber was never tuned on.

``bench/bench_scrub.py`` (and ``tests/memory/scrub_texts.py``) hold the sentences the scrubber's
recognizers were tuned on. This module builds a second set independently of both, and nobody
may tune ``aion_assets/memory/scrub/`` on it: its figures are reported as *held out*.

How it differs from the tuning set:
- *documents, not one-line templates*: each sample is a scene (a support chat, an e-mail with a
  signature, a web form, a shipping label, an agent's call note, a payment request...) assembled
  piece by piece, with greetings, sign-offs and lower-case chat lines written for this set;
- *other locales*: Faker's en_GB, en_IE, en_AU, en_NZ, en_IN, de_DE, de_AT, fr_FR, fr_CH, es_ES,
  it_IT, nl_NL, nl_BE, pt_BR, pt_PT, pl_PL and sv_SE;
- *real-world formats written here, not Faker's own* for addresses (flat and unit numbers,
  Eircodes, ``Unit 5/22 ...``, ``ul. ... 12/4``, ``CEP 01310-100``, per country) and phones
  (numbers valid for their country, built from libphonenumber's example numbers and printed
  in the international, national, E.164 or ``00`` form); e-mails built from the person's name;
  IBANs of 13 countries, grouped or not; cards of seven networks; IPv4 and compressed IPv6,
  sometimes with a port;
- *names where people put them*: "Hi Aoife,", "Thank you for contacting ...", "Cheers,\\nTom",
  signature blocks, "Mr/Frau/Mme + surname" (only the surname is labelled), initials, forms in
  capitals, a first name alone with a verb ("Rose will call you back") and lower-case chat;
- *safe text of another company* (``COMPANY``, a broadband and TV provider): product and plan
  names, partner services, menu paths, dates, times, order, invoice, case and tracking numbers,
  prices, speeds, firmware versions, error codes, serials; safe spans are labelled like PII so
  that what the scrubber wrongly removes is measured.

Every labelled span (``Gold``) is recorded while the document is assembled, so its offsets are
exact by construction: ``doc.text[g.start:g.end] == g.value``. ``generate(n, seed)`` is
deterministic: every random draw comes from one ``random.Random(seed)`` (Faker instances are
seeded from it).
"""

from __future__ import annotations

import ipaddress
import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LOCALES = (
    "en_GB", "en_IE", "en_AU", "en_NZ", "en_IN", "de_DE", "de_AT", "fr_FR", "fr_CH", "es_ES",
    "it_IT", "nl_NL", "nl_BE", "pt_BR", "pt_PT", "pl_PL", "sv_SE",
)
REGION = {loc: loc.split("_")[1] for loc in LOCALES}
# Locales whose Faker IBAN is the country's own (the others fall back to GB).
_OWN_IBAN = {"en_GB", "en_IE", "de_DE", "de_AT", "fr_FR", "fr_CH", "es_ES", "it_IT", "nl_NL", "nl_BE",
             "pt_BR", "pt_PT", "pl_PL"}

COMPANY = "Harbourline"
PRODUCTS = ("Harbourline", "Harbour Hub 3", "Fibre Max 900", "Mesh Booster", "TV Box Mini", "Talk Anytime",
            "Harbourline app")
PARTNERS = ("Netflix", "Disney+", "Spotify", "Google Nest", "Apple TV", "Xbox Live", "Prime Video")
MENUS = ("My Account", "Billing", "Parental Controls", "Wi-Fi Settings", "Data Saver", "Notifications",
         "Settings > Network", "Help & Support")

# Kinds of labelled spans; SAFE spans are text that must survive.
SAFE = "SAFE"
KINDS = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "IP_ADDRESS", "PERSON",
         "LOCATION", "STREET_ADDRESS", SAFE)


@dataclass(frozen=True)
class Gold:
    """One labelled span: ``kind`` is an entity type or ``SAFE``; ``slot`` says which form it took."""

    start: int
    end: int
    kind: str
    slot: str
    value: str


@dataclass
class Doc:
    """One held-out document and its labels."""

    text: str
    locale: str
    scene: str
    spans: list[Gold] = field(default_factory=list)


class _Builder:
    """Appends text and records the offsets of labelled pieces as they are written."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0
        self.spans: list[Gold] = []

    def say(self, text: str) -> _Builder:
        self.parts.append(text)
        self.pos += len(text)
        return self

    def mark(self, kind: str, slot: str, value: str) -> _Builder:
        self.spans.append(Gold(self.pos, self.pos + len(value), kind, slot, value))
        return self.say(value)

    def doc(self, locale: str, scene: str) -> Doc:
        return Doc("".join(self.parts), locale, scene, list(self.spans))


def _stable(faker: Any) -> Any:
    """FAKER with its city lists in a fixed order.

    Some locales (it_IT) build ``cities`` from a set, whose order changes with Python's hash seed,
    so the same Faker seed would give other cities in another process.
    """
    for provider in faker.providers:
        cities = getattr(provider, "cities", None)
        if isinstance(cities, list):
            provider.cities = sorted(cities)
    return faker


def _ascii(s: str) -> str:
    """Letters of S without accents, for e-mail local parts ("Hübel" -> "hubel")."""
    folded = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum())


class _Person:
    def __init__(self, first: str, last: str) -> None:
        self.first, self.last = first, last

    @property
    def full(self) -> str:
        return f"{self.first} {self.last}"


class _Draw:
    """Values for one locale. Every draw goes through ``rng`` or a Faker seeded from it."""

    def __init__(self, locale: str, rng: random.Random) -> None:
        from faker import Faker

        self.locale = locale
        self.region = REGION[locale]
        self.rng = rng
        self.f = _stable(Faker(locale))
        self.f.seed_instance(rng.randrange(2**31))
        self.gb = Faker("en_GB")  # English country names for English text
        self.gb.seed_instance(rng.randrange(2**31))
        self.us = Faker("en_US")
        self.us.seed_instance(rng.randrange(2**31))

    # -- people ----------------------------------------------------------------------------------
    def person(self) -> _Person:
        return _Person(self.f.first_name(), self.f.last_name())

    def title(self) -> str:
        by_lang = {"de": ("Herr", "Frau", "Dr."), "fr": ("M.", "Mme", "Madame"), "es": ("Sr.", "Sra."),
                   "it": ("Sig.", "Sig.ra", "Dott."), "pt": ("Sr.", "Sra."), "nl": ("Dhr.", "Mevr.")}
        english = ("Mr", "Mrs", "Ms", "Dr", "Mr.", "Ms.")
        return self.rng.choice(by_lang.get(self.locale[:2], english) + english)

    # -- structured ------------------------------------------------------------------------------
    def email(self, p: _Person | None = None) -> str:
        rng, f = self.rng, self.f
        p = p or self.person()
        first, last = _ascii(p.first) or "info", _ascii(p.last) or "mail"
        local = rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}_{last}{rng.randint(1, 99)}",
                            f"{last}.{first[0]}", f"{first}{rng.randint(70, 99)}", f"{first}.{last}+harbour"])
        domain = f.free_email_domain() if rng.random() < 0.6 else f.domain_name()
        value = f"{local}@{domain}"
        return value.capitalize() if rng.random() < 0.1 else value

    def phone(self) -> str:
        import phonenumbers as pn

        rng = self.rng
        if rng.random() < 0.2:  # Faker's own format for the locale, as people type it
            return self.f.phone_number()
        kind = rng.choice([pn.PhoneNumberType.MOBILE, pn.PhoneNumberType.FIXED_LINE])
        example = pn.example_number_for_type(self.region, kind)
        if example is None:  # every region of LOCALES has both kinds; say so if that ever changes
            raise ValueError(f"libphonenumber has no example {kind} number for {self.region}")
        national = str(example.national_number)
        for _ in range(50):
            keep = max(2, len(national) - rng.randint(4, 6))
            digits = national[:keep] + "".join(str(rng.randint(0, 9)) for _ in range(len(national) - keep))
            number = pn.parse("+" + str(example.country_code) + digits)
            if pn.is_valid_number(number):
                break
        else:
            number = example
        style = rng.choice(["intl", "intl", "national", "e164", "00"])
        if style == "national":
            return pn.format_number(number, pn.PhoneNumberFormat.NATIONAL)
        if style == "e164":
            return pn.format_number(number, pn.PhoneNumberFormat.E164)
        intl = pn.format_number(number, pn.PhoneNumberFormat.INTERNATIONAL)
        return "00" + intl[1:] if style == "00" else intl

    def iban(self) -> str:
        rng = self.rng
        source = self.f if self.locale in _OWN_IBAN else _faker_for(rng, rng.choice(sorted(_OWN_IBAN)))
        iban = source.iban()
        if rng.random() < 0.6:
            return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
        return iban

    def card(self) -> str:
        rng = self.rng
        network = rng.choice(["visa16", "mastercard", "amex", "discover", "jcb", "maestro", "diners"])
        digits = self.gb.credit_card_number(card_type=network)  # some locales rename the networks
        style = rng.choice(["grouped", "grouped", "raw", "dashes"])
        if style == "raw" or len(digits) not in (14, 15, 16):
            return digits
        sep = "-" if style == "dashes" else " "
        if len(digits) == 15:
            return sep.join((digits[:4], digits[4:10], digits[10:]))
        if len(digits) == 14:
            return sep.join((digits[:4], digits[4:10], digits[10:]))
        return sep.join(digits[i : i + 4] for i in range(0, 16, 4))

    def ip(self) -> str:
        r = self.rng.random()
        if r < 0.35:
            return self.f.ipv4_public()
        if r < 0.6:
            return self.f.ipv4_private()
        return str(ipaddress.IPv6Address(self.f.ipv6()))  # compressed form, as tools print it

    def ssn(self) -> str:
        value = self.us.ssn()
        return value.replace("-", " ") if self.rng.random() < 0.3 else value

    # -- places ----------------------------------------------------------------------------------
    def city(self) -> str:
        return str(self.f.city())

    def country(self) -> str:
        return str(self.gb.country())

    def region_name(self) -> str:
        for attr in ("state", "administrative_unit", "region"):
            try:
                return str(getattr(self.f, attr)())
            except AttributeError:
                continue
        return self.city()

    def street_line(self) -> str:
        """House number and street as written in this country."""
        f, rng = self.f, self.rng
        num = str(rng.randint(1, 240))
        street = str(f.street_name())
        if self.locale[:2] in ("de", "nl", "es", "it", "pt", "pl", "sv") or self.locale == "fr_CH":
            if self.locale == "pl_PL":
                return f"ul. {street} {num}"
            if self.locale[:2] in ("es", "pt") or self.locale == "pt_BR":
                return f"{street}, {num}"
            return f"{street} {num}"
        return f"{num} {street}"

    def address(self, lines: bool = False) -> str:
        """A full postal address, flat or unit number included, in the country's format.

        One line with ", " between the parts, or the lines of a label when LINES is true.
        """
        f, rng = self.f, self.rng
        loc = self.locale
        flat = rng.randint(1, 48)
        num = rng.randint(1, 240)
        street, city, pc = str(f.street_name()), self.city(), str(f.postcode())
        if loc == "en_GB":
            form = rng.choice([f"Flat {flat}|{num} {street}|{city}|{pc}", f"{num} {street}|{city}|{pc}",
                               f"Flat {flat}{rng.choice('ABC')}|{num} {street}|{city} {pc}"])
        elif loc == "en_IE":
            form = f"Apartment {flat}|{num} {street}|{city}|Co. {f.administrative_unit()}|{pc}"
        elif loc in ("en_AU", "en_NZ"):
            state = f" {f.state_abbr()}" if loc == "en_AU" else ""
            form = rng.choice([f"Unit {flat}/{num} {street}|{city}{state} {pc}",
                               f"{flat}/{num} {street}|{city}{state} {pc}"])
        elif loc == "en_IN":
            form = f"Flat {flat}0{rng.randint(1, 9)}|{street}|{city} - {pc}|{f.state()}"
        elif loc in ("de_DE", "de_AT"):
            extra = rng.choice(["", f", {rng.randint(1, 5)}. OG", f", Whg. {flat}", f"/{flat}"])
            form = f"{street} {num}{extra}|{pc} {city}"
        elif loc == "fr_FR":
            form = f"{num} {street}|Appt {flat}|{pc} {city}"
        elif loc == "fr_CH":
            form = f"{street} {num}|{pc} {city}"
        elif loc == "es_ES":
            form = f"{street}, {num}, {rng.randint(1, 9)}º {rng.choice('ABCD')}|{pc} {city}"
        elif loc == "it_IT":
            form = f"{street} {num}, int. {flat}|{pc} {city}"
        elif loc == "nl_NL":
            form = f"{street} {num}-{rng.randint(1, 3)}|{pc} {city}"
        elif loc == "nl_BE":
            form = f"{street} {num} bus {flat}|{pc} {city}"
        elif loc == "pt_BR":
            form = f"{street}, {num}, apto {flat}{rng.randint(1, 9)}|{city} - {f.estado_sigla()}|CEP {pc}"
        elif loc == "pt_PT":
            form = f"{street}, {num}, {rng.randint(1, 6)}º {rng.choice(['Esq.', 'Dto.'])}|{pc} {city}"
        elif loc == "pl_PL":
            form = f"ul. {street} {num}/{flat}|{pc} {city}"
        else:  # sv_SE
            form = f"{street} {num}, lgh {rng.randint(1001, 1504)}|{pc} {city}"
        return form.replace("|", "\n" if lines else ", ")

    # -- safe text -------------------------------------------------------------------------------
    def safe(self, slot: str) -> str:
        rng = self.rng
        months = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                  "October", "November", "December")
        days = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
        if slot == "product":
            return rng.choice(PRODUCTS)
        if slot == "partner":
            return rng.choice(PARTNERS)
        if slot == "menu":
            return rng.choice(MENUS)
        if slot == "date":
            d, m = rng.randint(1, 28), rng.randint(1, 12)
            return rng.choice([f"{d} {months[m - 1]} 2026", f"{months[m - 1]} {d}", f"{d:02d}/{m:02d}/2026",
                               f"2026-{m:02d}-{d:02d}", f"{days[rng.randrange(6)]} {d} {months[m - 1][:3]}"])
        if slot == "day":
            return rng.choice(days)
        if slot == "time":
            return rng.choice([f"{rng.randint(8, 11)}am", f"{rng.randint(1, 5)}pm", f"{rng.randint(8, 19)}:{rng.choice(['00', '15', '30', '45'])}"])
        if slot == "order":
            return rng.choice([f"HL-{rng.randint(100, 999)}-{rng.randint(10000, 99999)}",
                               f"#{rng.randint(1000000, 9999999)}", f"ORD{rng.randint(100000, 999999)}"])
        if slot == "invoice":
            return f"INV/2026/{rng.randint(1, 99999):05d}"
        if slot == "case":
            return rng.choice([f"case {rng.randint(10000000, 99999999)}", f"CS-{rng.randint(10000, 99999)}"])
        if slot == "tracking":
            return rng.choice([f"JD{rng.randint(10**15, 10**16 - 1)}", f"1Z{rng.randint(10**13, 10**14 - 1)}"])
        if slot == "price":
            a, c = rng.randint(3, 120), rng.randint(0, 99)
            return rng.choice([f"£{a}.{c:02d}", f"€{a},{c:02d}", f"{a}.{c:02d} EUR", f"R$ {a},{c:02d}",
                               f"A${a}.{c:02d}", f"₹{a * 80}"])
        if slot == "speed":
            return f"{rng.choice([50, 100, 300, 500, 900])} Mbps"
        if slot == "version":
            return f"{rng.randint(1, 9)}.{rng.randint(0, 40)}.{rng.randint(0, 9)}"
        if slot == "error":
            return rng.choice([f"Error {rng.randint(600, 799)}", f"E{rng.randint(10, 99)}", "DNS_PROBE_FINISHED_NXDOMAIN",
                               f"code 0x{rng.randint(0, 0xFFFF):04x}"])
        if slot == "serial":
            return f"HH3-{rng.randint(1000, 9999)}-{rng.choice('ABCDEFGH')}{rng.randint(100, 999)}"
        if slot == "items":
            return rng.choice([f"{rng.randint(2, 6)} x Mesh Booster", f"1 x {rng.choice(PRODUCTS[1:5])}",
                               f"{rng.randint(2, 4)} cables"])
        if slot == "discount":
            return rng.choice([f"{rng.randint(5, 40)}% off", f"{rng.randint(2, 12)} months free"])
        if slot == "duration":
            return rng.choice([f"{rng.randint(2, 6)} weeks", f"{rng.randint(3, 20)} days", "a month"])
        raise KeyError(slot)


def _faker_for(rng: random.Random, locale: str) -> Any:
    """A Faker of LOCALE seeded from RNG."""
    from faker import Faker

    f = _stable(Faker(locale))
    f.seed_instance(rng.randrange(2**31))
    return f


# -- scenes -------------------------------------------------------------------------------------------
# Each scene writes one document into a builder. ``s`` marks a safe span, ``v`` a PII value.
Scene = Callable[[_Builder, _Draw], None]


def _safe(b: _Builder, d: _Draw, slot: str) -> None:
    b.mark(SAFE, slot, d.safe(slot))


def _name(b: _Builder, d: _Draw, p: _Person, form: str) -> None:
    """Write person P in FORM; only the name itself is labelled (titles are not)."""
    if form == "full":
        b.mark("PERSON", "full", p.full)
    elif form == "first":
        b.mark("PERSON", "first", p.first)
    elif form == "lower":
        b.mark("PERSON", "lower", p.full.lower())
    elif form == "upper":
        b.mark("PERSON", "upper", p.full.upper())
    elif form == "title":
        b.say(d.title() + " ").mark("PERSON", "title_last", p.last)
    elif form == "initial":
        b.mark("PERSON", "initial", f"{p.first[0]}. {p.last}")
    else:
        raise KeyError(form)


def chat_open(b: _Builder, d: _Draw) -> None:
    rng = d.rng
    customer, agent = d.person(), d.person()
    b.say(rng.choice(["Hi ", "Hello ", "Hey ", "Good morning ", "Dear "]))
    _name(b, d, customer, rng.choice(["first", "first", "full", "title"]))
    b.say(rng.choice([", thanks for getting in touch with ", "! Thank you for choosing ", ", welcome to "]))
    b.mark(SAFE, "product", COMPANY)
    b.say(rng.choice([" chat. I'm ", ". My name is ", " support, this is "]))
    _name(b, d, agent, "first")
    b.say(" and I can see your ")
    _safe(b, d, "product")
    b.say(" order ")
    _safe(b, d, "order")
    b.say(" is due on ")
    _safe(b, d, "date")
    b.say(".")


def chat_lower(b: _Builder, d: _Draw) -> None:
    rng = d.rng
    b.say(rng.choice(["hi its ", "hiya, ", "hello this is ", "hey, "]))
    _name(b, d, d.person(), "lower")
    b.say(rng.choice([" here, ", " - ", ". "]))
    b.say(rng.choice(["my ", "the "]))
    _safe(b, d, "product")
    b.say(" keeps dropping since ")
    _safe(b, d, "day")
    b.say(rng.choice([", i'm at ", ", we live at ", ", address is "]))
    b.mark("STREET_ADDRESS", "lower_street", d.street_line().lower())
    b.say(" if an engineer needs to come")


def email_signature(b: _Builder, d: _Draw) -> None:
    rng = d.rng
    p = d.person()
    b.say(rng.choice(["Hello team,\n\n", "Hi there,\n\n", "To whom it may concern,\n\n"]))
    b.say("Since the upgrade to ")
    _safe(b, d, "speed")
    b.say(" my ")
    _safe(b, d, "partner")
    b.say(" app buffers every evening. The router shows ")
    _safe(b, d, "error")
    b.say(" and firmware ")
    _safe(b, d, "version")
    b.say(".\n\n")
    b.say(rng.choice(["Kind regards,\n", "Best wishes,\n", "Many thanks,\n", "Regards,\n", "Mit freundlichen Grüßen,\n"]))
    _name(b, d, p, rng.choice(["full", "full", "initial"]))
    b.say("\n" + str(d.f.job()) + ", " + str(d.f.company()) + "\n")
    b.say(rng.choice(["M: ", "Tel. ", "Phone: ", "", "Mob "]))
    b.mark("PHONE_NUMBER", "phone", d.phone())
    b.say("\n")
    b.mark("EMAIL_ADDRESS", "email_sig", d.email(p))


def web_form(b: _Builder, d: _Draw) -> None:
    rng = d.rng
    p = d.person()

    def ask(label: str) -> None:
        b.mark(SAFE, "form_label", label)
        b.say(": ")

    ask(rng.choice(["Full name", "Name", "Account holder"]))
    _name(b, d, p, rng.choice(["full", "upper"]))
    b.say("\n")
    ask(rng.choice(["Email", "E-mail address"]))
    b.mark("EMAIL_ADDRESS", "email_form", d.email(p))
    b.say("\n")
    ask(rng.choice(["Mobile", "Phone", "Contact number"]))
    b.mark("PHONE_NUMBER", "phone_form", d.phone())
    b.say("\n")
    ask(rng.choice(["Installation address", "Address", "Service address"]))
    b.mark("STREET_ADDRESS", "address", d.address())
    b.say("\n")
    ask("Plan")
    _safe(b, d, "product")
    b.say("\n")
    ask("Preferred date")
    _safe(b, d, "date")


def shipping_label(b: _Builder, d: _Draw) -> None:
    rng = d.rng
    p = d.person()
    b.say(rng.choice(["Deliver to:\n", "Ship to:\n", "Recipient:\n"]))
    _name(b, d, p, rng.choice(["full", "title", "upper"]))
    b.say("\n")
    b.mark("STREET_ADDRESS", "address_lines", d.address(lines=True))
    b.say("\nTracking ")
    _safe(b, d, "tracking")
    b.say(", contents: ")
    _safe(b, d, "items")


def call_note(b: _Builder, d: _Draw) -> None:
    rng = d.rng
    b.say(rng.choice(["Spoke to ", "Called ", "Callback from "]))
    _name(b, d, d.person(), rng.choice(["full", "title", "initial"]))
    b.say(" about ")
    _safe(b, d, "case")
    b.say("; booked an engineer for ")
    _safe(b, d, "date")
    b.say(" at ")
    _safe(b, d, "time")
    b.say(". Best number ")
    b.mark("PHONE_NUMBER", "phone_note", d.phone())
    b.say(rng.choice([". ", ", "]))
    _name(b, d, d.person(), "first")
    b.say(rng.choice([" will call you back.", " from our billing team will follow up.", " will confirm by text."]))


def card_payment(b: _Builder, d: _Draw) -> None:
    rng = d.rng
    b.say(rng.choice(["Please take the ", "can you charge the ", "Pay "]))
    _safe(b, d, "price")
    b.say(" for ")
    _safe(b, d, "invoice")
    b.say(rng.choice([" from my card ", " to ", " with card number "]))
    b.mark("CREDIT_CARD", "card", d.card())
    b.say(rng.choice([" instead.", ", the old one expired.", " thanks", ". Cardholder: "]))
    if b.parts[-1].endswith(": "):
        _name(b, d, d.person(), rng.choice(["full", "upper"]))


def bank_payment(b: _Builder, d: _Draw) -> None:
    rng = d.rng
    b.say(rng.choice(["Refund to ", "Direct debit from now on: IBAN ", "my iban is ", "Bank details\nIBAN: "]))
    b.mark("IBAN_CODE", "iban", d.iban())
    b.say(rng.choice([", account holder ", "\nAccount name: ", " - in the name of "]))
    _name(b, d, d.person(), rng.choice(["full", "upper", "title"]))
    b.say(". Reference ")
    _safe(b, d, "invoice")
    b.say(".")


def network(b: _Builder, d: _Draw) -> None:
    rng = d.rng
    ip = d.ip()
    b.say(rng.choice(["Your ", "The "]))
    _safe(b, d, "product")
    b.say(rng.choice([" reports WAN address ", " was last seen at ", " blocked logins from "]))
    b.mark("IP_ADDRESS", "ip", ip)
    if ":" not in ip and rng.random() < 0.4:
        b.say(":" + str(rng.choice([443, 8080, 3389])))
    b.say(". Open ")
    _safe(b, d, "menu")
    b.say(rng.choice([" and restart it.", " to check the serial ", " in the app."]))
    if b.parts[-1].endswith("serial "):
        _safe(b, d, "serial")
        b.say(".")


def moving(b: _Builder, d: _Draw) -> None:
    rng = d.rng
    b.say(rng.choice(["We're moving from ", "I'm relocating from ", "moving out of "]))
    b.mark("LOCATION", "city", d.city())
    b.say(rng.choice([" to ", " over to "]))
    b.mark("LOCATION", "city", d.city())
    b.say(" on ")
    _safe(b, d, "date")
    b.say(rng.choice([". Is ", ", is "]))
    _safe(b, d, "product")
    b.say(" available in ")
    b.mark("LOCATION", "region", d.region_name())
    b.say("?")


def travel(b: _Builder, d: _Draw) -> None:
    rng = d.rng
    b.say(rng.choice(["Does ", "will "]))
    _safe(b, d, "product")
    b.say(rng.choice([" work while I'm in ", " roam in ", " work abroad in "]))
    b.mark("LOCATION", "country", d.country())
    b.say(rng.choice([" for ", " during "]))
    _safe(b, d, "duration")
    b.say(rng.choice(["? I'm usually in ", "? Home is "]))
    b.mark("LOCATION", "city", d.city())
    b.say(".")


def address_change(b: _Builder, d: _Draw) -> None:
    rng = d.rng
    b.say(rng.choice(["New address from ", "Please move my service on ", "Address change, effective "]))
    _safe(b, d, "date")
    b.say(": ")
    b.mark("STREET_ADDRESS", "address", d.address())
    b.say(rng.choice([". Keep ", ". Same plan, "]))
    _safe(b, d, "product")
    b.say(rng.choice([" please.", " and "]))
    if b.parts[-1] == " and ":
        _safe(b, d, "partner")
        b.say(".")


def thanks_signoff(b: _Builder, d: _Draw) -> None:
    rng = d.rng
    p = d.person()
    b.say(rng.choice(["Thank you for contacting ", "Thanks for your patience, ", "Sorry for the wait, "]))
    _name(b, d, p, rng.choice(["full", "first"]))
    b.say(rng.choice([". Your ", ". The "]))
    _safe(b, d, "menu")
    b.say(" page now shows ")
    _safe(b, d, "price")
    b.say(rng.choice([".\n\nCheers,\n", ".\n\nThanks!\n– ", ".\nBest, ", ".\n\nTalk soon,\n"]))
    _name(b, d, d.person(), "first")
    b.say(rng.choice(["", "\n" + COMPANY + " Support", " x"]))


def ssn_form(b: _Builder, d: _Draw) -> None:
    rng = d.rng
    b.say(rng.choice(["W-9 attached. Taxpayer ", "For the US account, payee "]))
    _name(b, d, d.person(), rng.choice(["full", "upper"]))
    b.say(rng.choice([", SSN ", ", social security no. "]))
    b.mark("US_SSN", "ssn", d.ssn())
    b.say(", invoice ")
    _safe(b, d, "invoice")
    b.say(".")


def safe_only(b: _Builder, d: _Draw) -> None:
    rng = d.rng
    b.say(rng.choice(["Your ", "the ", "Good news: your "]))
    _safe(b, d, "product")
    b.say(" order ")
    _safe(b, d, "order")
    b.say(" ships on ")
    _safe(b, d, "date")
    b.say(rng.choice([". Link ", ". Pair it with ", ". Then connect "]))
    _safe(b, d, "partner")
    b.say(" from ")
    _safe(b, d, "menu")
    b.say(rng.choice([" and you get ", ", plan includes "]))
    _safe(b, d, "discount")
    b.say(".")


def safe_numbers(b: _Builder, d: _Draw) -> None:
    rng = d.rng
    _safe(b, d, "case")
    b.say(rng.choice([" is closed. ", " was escalated. "]))
    b.say("Tracking ")
    _safe(b, d, "tracking")
    b.say(", serial ")
    _safe(b, d, "serial")
    b.say(", ")
    _safe(b, d, "error")
    b.say(" cleared after firmware ")
    _safe(b, d, "version")
    b.say(rng.choice([" on ", " at "]))
    _safe(b, d, "time")
    b.say(".")


SCENES: dict[str, Scene] = {
    "chat_open": chat_open, "chat_lower": chat_lower, "email_signature": email_signature, "web_form": web_form,
    "shipping_label": shipping_label, "call_note": call_note, "card_payment": card_payment,
    "bank_payment": bank_payment, "network": network,
    "moving": moving, "travel": travel, "address_change": address_change, "thanks_signoff": thanks_signoff,
    "ssn_form": ssn_form, "safe_only": safe_only, "safe_numbers": safe_numbers,
}


def generate(n: int, seed: int = 2026) -> list[Doc]:
    """N held-out documents, scenes in turn, locales drawn; the same (N, SEED) gives the same documents."""
    rng = random.Random(seed)
    draws = {loc: _Draw(loc, rng) for loc in LOCALES}
    names = list(SCENES)
    docs = []
    for i in range(n):
        scene = names[i % len(names)]
        locale = rng.choice(LOCALES)
        b = _Builder()
        SCENES[scene](b, draws[locale])
        docs.append(b.doc(locale, scene))
    return docs


def short_texts(n: int, seed: int = 2027, lo: int = 60, hi: int = 120) -> list[str]:
    """N held-out documents of LO..HI characters (for the throughput run); deterministic for SEED."""
    out: list[str] = []
    batch = 0
    while len(out) < n:
        out += [d.text for d in generate(max(4 * n, 200), seed + batch) if lo <= len(d.text) <= hi]
        batch += 1
        if batch > 20:
            raise ValueError(f"could not find {n} held-out texts of {lo}-{hi} characters")
    return out[:n]

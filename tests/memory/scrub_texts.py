"""Generated support texts for the scrubber's property tests (with and without PII).

Built differently from bench/bench_scrub.py's samples: other templates (greetings, sign-offs,
e-mail signatures, chat-style lower case), Faker values from nine locales, and a support
vocabulary of an invented thermostat company. Pools are drawn once with fixed seeds, so the
Hypothesis strategies below shrink over template and value choices, not over Faker state.
"""

from __future__ import annotations

import random
from functools import lru_cache

from faker import Faker
from hypothesis import strategies as st

LOCALES = ("en_US", "en_GB", "en_CA", "en_AU", "de_DE", "fr_FR", "nl_NL", "es_ES", "it_IT")
COMPANY = ("Lumio", "Brightwater Home")
# What a thermostat company's answers say to every user: kept by the learned vocabulary.
VOCABULARY = ("Room Sensor", "Apple HomeKit", "Amazon Alexa", "Siri", "Eco Mode", "Away Mode", "Lumio Hub")
SAFE = (
    "Open Settings and tap Lock.",
    "The Room Sensor battery lasts about 12 months.",
    "Eco Mode lowers the target by 2 degrees.",
    "Firmware 4.2.1 fixes error E-402 on the Lumio Hub.",
    "Pair it with Apple HomeKit or Amazon Alexa, then ask Siri.",
    "Press and hold the dial for 10 seconds to reset it.",
    "The refund takes 3 to 5 business days.",
    "Your plan costs $4.99 per month.",
    "the away mode turns on after 30 minutes",
    "is the room sensor compatible with the old hub?",
    "Ticket TCK-88231 was closed yesterday.",
    "Away Mode is now on for your home.",
)
PII_TEMPLATES = (
    ("Hi {v}, thanks for reaching out to Lumio!", "name"),
    ("Thank you for contacting {v}. How can I help?", "name"),
    ("Kind regards,\n{v}", "name"),
    ("Best,\n{v}\nLumio Support", "name"),
    ("{v} will call you back tomorrow.", "first"),
    ("Regards,\n{v}", "first"),
    ("hi this is {v}, my thermostat is offline", "lower_name"),
    ("Please write to {v} with the photos.", "email"),
    ("You can reach me on {v} after 6pm.", "phone"),
    ("My card {v} was charged twice.", "card"),
    ("SSN {v} is on the form.", "ssn"),
    ("Please refund to IBAN {v}.", "iban"),
    ("The hub at {v} keeps dropping off.", "ip"),
    ("Ship the replacement to:\n{v}", "address"),
    ("my address is {v}", "lower_street"),
    ("We moved to {v} last month.", "city"),
    ("Is the Lumio Hub sold in {v}?", "country"),
)


@lru_cache(maxsize=1)
def pools() -> dict[str, tuple[str, ...]]:
    """Value pools per slot, drawn once from Faker with fixed seeds."""
    out: dict[str, list[str]] = {k: [] for k in ("name", "first", "lower_name", "email", "phone", "card", "ssn",
                                                 "iban", "ip", "address", "lower_street", "city", "country")}
    for i, loc in enumerate(LOCALES):
        fk = Faker(loc)
        fk.seed_instance(1000 + i)
        for _ in range(6):
            out["name"].append(f"{fk.first_name()} {fk.last_name()}")
            out["first"].append(fk.first_name())
            out["lower_name"].append(f"{fk.first_name()} {fk.last_name()}".lower())
            out["email"].append(fk.email())
            out["phone"].append(fk.phone_number())
            out["iban"].append(fk.iban())
            out["address"].append(fk.address())
            out["city"].append(fk.city())
            out["country"].append(fk.country())
    us = Faker("en_US")
    us.seed_instance(7)
    for _ in range(12):
        out["card"].append(us.credit_card_number())
        out["ssn"].append(us.ssn())
        out["ip"].append(us.ipv4_public() if len(out["ip"]) % 2 else us.ipv6())
        out["lower_street"].append(f"{us.building_number()} {us.street_name()}".lower())
    return {k: tuple(v) for k, v in out.items()}


@st.composite
def sentence(draw: st.DrawFn, pii: bool) -> str:
    """One support sentence; with PII when PII is true."""
    if not pii:
        return draw(st.sampled_from(SAFE))
    template, slot = draw(st.sampled_from(PII_TEMPLATES))
    return template.format(v=draw(st.sampled_from(pools()[slot])))


@st.composite
def support_text(draw: st.DrawFn, with_pii: bool | None = None) -> str:
    """A support message of 1-4 sentences; WITH_PII None means either kind may appear."""
    n = draw(st.integers(1, 4))
    parts = []
    for _ in range(n):
        pii = draw(st.booleans()) if with_pii is None else (with_pii and (not parts or draw(st.booleans())))
        parts.append(draw(sentence(pii)))
    sep = draw(st.sampled_from([" ", "\n", "\n\n"]))
    return sep.join(parts)


def corpus(n: int, seed: int = 11) -> list[str]:
    """N generated texts (about half with PII), deterministic for SEED, for batch properties."""
    rng = random.Random(seed)
    p = pools()
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 4)):
            if rng.random() < 0.5:
                parts.append(rng.choice(SAFE))
            else:
                template, slot = rng.choice(PII_TEMPLATES)
                parts.append(template.format(v=rng.choice(p[slot])))
        out.append(rng.choice([" ", "\n"]).join(parts))
    return out

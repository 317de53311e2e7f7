"""Globex, a fictional mobile and broadband provider: the demo domain ``globex/billing``.

What is text (its spec, catalogue and topics) is in ``templates/globex.yaml``; this module is the
code that invents the values those topics are asked about: per plan a price, data, a contract
term, an early termination fee, a roaming pass and two charge codes; company-wide the due date,
late fee, autopay discount and refund times. The order of the random draws is part of the
domain: changing it changes every seed's content.
"""

from __future__ import annotations

import random

from pydantic import BaseModel, ConfigDict, Field

from aion_assets.core.errors import ConfigError
from aion_assets.demo.generator import Company, World, money, spec_of, syllable_name, unique
from aion_assets.demo.loader import TEMPLATES, CompanyTemplate, Text


class GlobexCatalogue(BaseModel):
    """``catalogue`` of ``globex.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The self-service portal named in answers ("My Globex").
    portal: Text
    #: First words of plan names ("Nimbus 40").
    plan_words: tuple[str, ...] = Field(min_length=1)
    #: Last words of roaming pass names ("Velvex World").
    pass_suffixes: tuple[str, ...] = Field(min_length=1)
    #: What charge codes stand for; the first plans get them in this order, later ones at random.
    charges: tuple[str, ...] = Field(min_length=1)
    periods: tuple[str, ...] = Field(min_length=1)


_CHARGES_PER_PLAN = 2
#: Plans that take their charges in catalogue order (so the first plans cover every charge).
_ORDERED_PLANS = 6


def items_per_product(template: CompanyTemplate[GlobexCatalogue]) -> int:
    """Question items per plan: one per plan topic and one per charge code."""
    return len(template.topics["plan"]) + _CHARGES_PER_PLAN


def build(rng: random.Random, n_products: int, template: CompanyTemplate[GlobexCatalogue]) -> World:
    """Invent N_PRODUCTS plans with their charge codes and the company-wide facts (global topics first)."""
    spec = spec_of(template)
    company = spec.company
    cat = template.catalogue
    if len(template.topics["charge"]) != 1:
        raise ConfigError(f"{template.source}: topics.charge: exactly one topic expected (the charge-code question)")
    charge_topic = template.topics["charge"][0]
    world = World(spec)
    used: set[str] = set()
    charges = cat.charges
    for i in range(n_products):
        plan = unique(rng, used, lambda r: f"{r.choice(cat.plan_words)} {r.choice((10, 20, 40, 60, 80, 120, 200))}")
        values = {
            "company": company,
            "plan": plan,
            "monthly": money(rng, 12, 89),
            "wrong_money": money(rng, 12, 89),
            "data_gb": str(rng.choice((5, 15, 25, 50, 100, 150))),
            "term": str(rng.choice((12, 18, 24))),
            "etf": money(rng, 29, 199),
            "pass_name": f"{syllable_name(rng)} {rng.choice(cat.pass_suffixes)}",
            "pass_price": money(rng, 2, 12),
            "pass_mb": str(rng.choice((200, 500, 750, 1000))),
        }
        for topic in template.topics["plan"]:
            world.items.append((topic, values))
        for j in range(_CHARGES_PER_PLAN):
            cv = {
                "company": company,
                "code": unique(rng, used, lambda r: f"{r.choice('BCFGKRT')}{r.choice('XQZ')}-{r.randint(100, 999)}"),
                "charge_name": (
                    charges[(_CHARGES_PER_PLAN * i + j) % len(charges)] if i < _ORDERED_PLANS else rng.choice(charges)
                ),
                "amount": money(rng, 1, 49),
                "period": rng.choice(cat.periods),
            }
            world.items.append((charge_topic, cv))
    glob = {
        "company": company,
        "portal": cat.portal,
        "due_day": rng.choice(("5th", "12th", "15th", "20th", "28th")),
        "late_fee": money(rng, 3, 15),
        "grace": str(rng.choice((3, 5, 7, 10))),
        "autopay_discount": money(rng, 1, 5),
        "refund_days": str(rng.choice((4, 6, 8, 12))),
        "ref_prefix": "RF" + str(rng.randint(10, 99)),
    }
    world.items[:0] = [(t, glob) for t in template.topics["global"]]
    return world


COMPANY = Company(
    name="globex/billing",
    template_file=TEMPLATES / "globex.yaml",
    catalogue=GlobexCatalogue,
    topic_groups=("plan", "charge", "global"),
    build=build,
    items_per_product=items_per_product,
)

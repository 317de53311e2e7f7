"""Acme, a fictional maker of home devices: the demo domain ``acme/support``.

What is text (its spec, catalogue and topics) is in ``templates/acme.yaml``; this module is the
code that invents the values those topics are asked about: per product a model number, a name,
prices, a warranty, a reset procedure, a spare part, battery figures, firmware and two error
codes with their meaning and fix; company-wide opening hours, returns and express shipping.
The order of the random draws is part of the domain: changing it changes every seed's content.
"""

from __future__ import annotations

import random
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from aion_assets.demo.generator import Company, World, money, spec_of, syllable_name, unique
from aion_assets.demo.loader import TEMPLATES, CompanyTemplate, placeholders_of

#: What a fix's numbers and names are drawn from, per error code (see ``_error_values``).
_FIX_DRAWS = ("mins", "secs", "button", "tool", "hours")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProductKind(_Frozen):
    """A kind of device and the spare part customers ask about."""

    kind: str
    part: str


class ErrorMeaning(_Frozen):
    """What an error code means and how to fix it; the fix's ``{mins}``-style numbers are drawn per code."""

    meaning: str
    meaning_key: str
    fix: str
    fix_key: str

    @field_validator("fix", "fix_key")
    @classmethod
    def _known_draws(cls, text: str) -> str:
        unknown = placeholders_of(text) - set(_FIX_DRAWS)
        if unknown:
            raise ValueError(f"unknown placeholder(s) {sorted(unknown)}; a fix may use {list(_FIX_DRAWS)}")
        return text


class AcmeCatalogue(_Frozen):
    """``catalogue`` of ``acme.yaml``."""

    products: tuple[ProductKind, ...] = Field(min_length=1)
    covered: tuple[str, ...] = Field(min_length=1)
    error_meanings: tuple[ErrorMeaning, ...] = Field(min_length=2)
    buttons: tuple[str, ...] = Field(min_length=1)
    colors: tuple[str, ...] = Field(min_length=1)
    #: ``{company}`` is filled in ("Acme Home").
    apps: tuple[str, ...] = Field(min_length=1)
    tools: tuple[str, ...] = Field(min_length=1)

    @field_validator("apps")
    @classmethod
    def _company_only(cls, apps: tuple[str, ...]) -> tuple[str, ...]:
        unknown = set().union(*(placeholders_of(a) for a in apps)) - {"company"}
        if unknown:
            raise ValueError(f"unknown placeholder(s) {sorted(unknown)}; an app name may use only {{company}}")
        return apps


_LETTERS = "BCDFGHKLMNPRSTVXZ"
_ERRORS_PER_PRODUCT = 2


def items_per_product(template: CompanyTemplate[AcmeCatalogue]) -> int:
    """Question items per product: one per product topic, the error topic once per drawn code."""
    topics = template.topics["product"]
    return len(topics) + sum(_ERRORS_PER_PRODUCT - 1 for t in topics if t.kind == "error")


def build(rng: random.Random, n_products: int, template: CompanyTemplate[AcmeCatalogue]) -> World:
    """Invent N_PRODUCTS products and the company-wide facts (global topics first)."""
    spec = spec_of(template)
    company = spec.company
    cat = template.catalogue
    world = World(spec)
    apps = tuple(a.format(company=company) for a in cat.apps)
    used: set[str] = set()
    for _ in range(n_products):
        prefix = unique(rng, used, lambda r: r.choice(_LETTERS) + r.choice(_LETTERS))
        model = unique(rng, used, lambda r: f"{prefix}-{r.randint(100, 9899)}")  # noqa: B023 (called at once)
        product = rng.choice(cat.products)
        kind, part = product.kind, product.part
        name = f"{company} {unique(rng, used, lambda r: syllable_name(r))} {kind}"
        values: dict[str, str] = {
            "company": company,
            "model": model,
            "name": name,
            "part": part,
            "price": money(rng, 49, 899),
            "wrong_price": money(rng, 49, 899),
            "ship_days": str(rng.randint(2, 6)),
            "warranty_years": str(rng.choice((2, 3, 4, 5))),
            "wrong_years": "1",
            "covered": rng.choice(cat.covered),
            "serial_prefix": prefix + str(rng.randint(10, 99)),
            "button": rng.choice(cat.buttons),
            "seconds": str(rng.choice((5, 8, 12, 15, 20))),
            "color": rng.choice(cat.colors),
            "part_no": unique(
                rng,
                used,
                lambda r: f"{prefix}{r.randint(1000, 9999)}-{r.choice('ABCR')}",  # noqa: B023
            ),
            "part_price": money(rng, 9, 79),
            "months": str(rng.choice((3, 4, 6, 9, 12))),
            "runtime": str(rng.randint(6, 30) * 5),
            "wrong_runtime": str(rng.randint(6, 30) * 5),
            "charge_hours": str(rng.choice((2, 3, 4, 5))),
            "fw": f"{rng.randint(1, 6)}.{rng.randint(0, 19)}.{rng.randint(0, 9)}",
            "app": rng.choice(apps),
        }
        for topic in template.topics["product"]:
            if topic.kind == "error":
                for err in rng.sample(cat.error_meanings, _ERRORS_PER_PRODUCT):
                    world.items.append((topic, _error_values(rng, used, values, err, cat)))
            else:
                world.items.append((topic, values))
    days = rng.choice(("Monday to Friday", "Monday to Saturday", "every day"))
    open_h, close_h = rng.choice((7, 8, 9)), rng.choice((17, 18, 19, 20))
    glob = {
        "company": company,
        "days": days,
        "open_time": f"{open_h}:{rng.choice(('00', '30'))}",
        "close_time": f"{close_h}:{rng.choice(('00', '30'))}",
        "tz": rng.choice(("CET", "ET", "GMT")),
        "return_days": str(rng.choice((14, 21, 45, 60))),
        "label_fee": money(rng, 3, 9),
        "refund_days": str(rng.choice((3, 5, 7, 10))),
        "express_fee": money(rng, 9, 24),
        "express_days": "1",
        "cutoff": f"{rng.choice((11, 12, 13, 14))}:00",
    }
    world.items[:0] = [(t, glob) for t in template.topics["global"]]
    return world


def _error_values(
    rng: random.Random, used: set[str], values: dict[str, str], err: ErrorMeaning, cat: AcmeCatalogue
) -> dict[str, str]:
    """The product's values plus one invented error code, its meaning and its fix."""
    v = dict(values)
    v["code"] = unique(rng, used, lambda r: f"E{r.randint(10, 99)}{r.choice('ABCDFH')}")
    draws: dict[str, Any] = {
        "mins": rng.choice((10, 15, 20, 30)),
        "secs": rng.choice((3, 5, 7)),
        "button": values["button"],
        "tool": rng.choice(cat.tools),
        "hours": rng.choice((2, 4, 6)),
    }
    v.update(
        meaning=err.meaning,
        meaning_key=err.meaning_key,
        fix=err.fix.format(**draws) + ".",
        fix_key=err.fix_key.format(**draws),
    )
    return v


COMPANY = Company(
    name="acme/support",
    template_file=TEMPLATES / "acme.yaml",
    catalogue=AcmeCatalogue,
    topic_groups=("product", "global"),
    build=build,
    items_per_product=items_per_product,
)

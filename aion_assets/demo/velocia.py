"""Velocia, a fictional maker of electric bikes: the stranger domain ``velocia/service``.

A third company that the scrubber was never tuned on (issue 11): long answers with numbered
procedures and several numbers each, partner services, menu paths, a support line. It is not one
of the demo's own domains (``aion demo`` ingests acme and globex); ``tests/test_stranger_tenant.py``
posts it with nothing configured and runs the loop on it.

What is text is in ``templates/velocia.yaml``; this module invents the values: per bike a model
code, a name, a motor, a battery, range and charging figures, a partner service with its pairing
steps, two error codes with their fix, service, warranty and specs; company-wide the support
line and hours and the return procedure. The order of the random draws is part of the domain.
"""

from __future__ import annotations

import random
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from aion_assets.demo.generator import Company, World, spec_of, unique
from aion_assets.demo.loader import TEMPLATES, CompanyTemplate, Text, placeholders_of

#: What a fix's numbers and names are drawn from, per error code (see ``_error_values``).
_FIX_DRAWS = ("mins", "secs", "mm", "hours", "button")
_ERRORS_PER_BIKE = 2


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ErrorMeaning(_Frozen):
    """What an error code means and how to clear it; the fix's ``{mins}``-style numbers are drawn per code."""

    meaning: Text
    meaning_key: Text
    fix: Text
    fix_key: Text

    @field_validator("fix", "fix_key")
    @classmethod
    def _known_draws(cls, text: str) -> str:
        unknown = placeholders_of(text) - set(_FIX_DRAWS)
        if unknown:
            raise ValueError(f"unknown placeholder(s) {sorted(unknown)}; a fix may use {list(_FIX_DRAWS)}")
        return text


class Menus(_Frozen):
    """The app's menu labels that answers name in paths ("Settings > Connected Services")."""

    settings: Text
    services: Text
    update: Text
    help: Text
    case: Text
    orders: Text
    return_: Text = Field(alias="return")


class VelociaCatalogue(_Frozen):
    """``catalogue`` of ``velocia.yaml``."""

    app: Text
    service_point: Text
    #: Bike family names ("Kestrel"), then a number and a style: "Velocia Kestrel 7 Trail".
    families: tuple[str, ...] = Field(min_length=1)
    styles: tuple[str, ...] = Field(min_length=1)
    motors: tuple[str, ...] = Field(min_length=1)
    displays: tuple[str, ...] = Field(min_length=1)
    buttons: tuple[str, ...] = Field(min_length=1)
    partners: tuple[str, ...] = Field(min_length=1)
    chargers: tuple[str, ...] = Field(min_length=1)
    couriers: tuple[str, ...] = Field(min_length=1)
    #: Assist levels, lowest first (the first is "eco", the last "turbo" in answers).
    assist: tuple[str, ...] = Field(min_length=2)
    led_colors: tuple[str, ...] = Field(min_length=1)
    prompts: tuple[str, ...] = Field(min_length=1)
    menus: Menus
    error_meanings: tuple[ErrorMeaning, ...] = Field(min_length=_ERRORS_PER_BIKE)


def items_per_product(template: CompanyTemplate[VelociaCatalogue]) -> int:
    """Question items per bike: one per bike topic, the error topic once per drawn code."""
    topics = template.topics["bike"]
    return len(topics) + sum(_ERRORS_PER_BIKE - 1 for t in topics if t.kind == "error")


def _gbp(rng: random.Random, lo: int, hi: int) -> str:
    return f"£{rng.randint(lo, hi)}.{rng.choice(('00', '50', '95', '99'))}"


def build(rng: random.Random, n_products: int, template: CompanyTemplate[VelociaCatalogue]) -> World:
    """Invent N_PRODUCTS bikes and the company-wide facts (global topics first)."""
    spec = spec_of(template)
    company = spec.company
    cat = template.catalogue
    menus = cat.menus
    world = World(spec)
    used: set[str] = set()
    common = {
        "company": company,
        "app": cat.app,
        "service_point": cat.service_point,
        "menu_settings": menus.settings,
        "menu_services": menus.services,
        "menu_update": menus.update,
        "menu_help": menus.help,
        "menu_case": menus.case,
        "menu_orders": menus.orders,
        "menu_return": menus.return_,
        "eco": cat.assist[0],
        "turbo": cat.assist[-1],
    }
    for _ in range(n_products):
        family = rng.choice(cat.families)
        size = rng.choice((3, 5, 7, 9))
        bike = unique(rng, used, lambda r: f"{company} {family} {size} {r.choice(cat.styles)}")  # noqa: B023
        model = unique(rng, used, lambda r: f"V{family[0]}{size}-{r.randint(1000, 9899)}")  # noqa: B023
        wh = rng.choice((400, 500, 625, 750))
        lo = wh // 10 + rng.randint(-5, 10)
        motor_name = f"{rng.choice(cat.motors)} M{rng.choice((50, 65, 85, 90))}"
        values: dict[str, str] = {
            **common,
            "bike": bike,
            "model": model,
            "motor": motor_name,
            "battery": f"PowerPack {wh}",
            "battery_wh": str(wh),
            "range_lo": str(lo),
            "range_hi": str(lo + rng.randint(30, 70)),
            "turbo_range": str(lo // 2 + rng.randint(0, 10)),
            "charger": rng.choice(cat.chargers),
            "led": rng.choice(cat.led_colors),
            "charge_h": str(rng.choice((3, 4, 5, 6))),
            "charge80": str(rng.choice((90, 120, 150, 180))),
            "button": rng.choice(cat.buttons),
            "display": f"{rng.choice(cat.displays)} display",
            "partner": rng.choice(cat.partners),
            "hold_s": str(rng.choice((3, 5, 8, 10))),
            "prompt": rng.choice(cat.prompts),
            "pair_code": f"{rng.randint(1000, 9999)}",
            "sync_min": str(rng.choice((2, 5, 10, 15))),
            "retry_h": str(rng.choice((2, 6, 12, 24))),
            "service_km": str(rng.choice((1500, 2000, 3000, 5000))),
            "service_months": str(rng.choice((6, 12, 18))),
            "service_price": _gbp(rng, 59, 149),
            "fw": f"{rng.randint(2, 7)}.{rng.randint(0, 19)}.{rng.randint(0, 9)}",
            "min_battery": str(rng.choice((30, 40, 50))),
            "update_min": str(rng.choice((8, 12, 15, 20))),
            "price": _gbp(rng, 1499, 5999),
            "frame_years": str(rng.choice((5, 7, 10))),
            "warranty_years": str(rng.choice((2, 3))),
            "cycles": str(rng.choice((500, 800, 1000))),
            "register_days": str(rng.choice((14, 30, 60))),
            "frame_prefix": f"WV{rng.randint(10, 99)}",
            "weight": f"{rng.randint(19, 34)}.{rng.randint(0, 9)}",
            "max_load": str(rng.choice((120, 130, 140, 150, 180, 200))),
            "torque": str(rng.choice((40, 55, 65, 75, 85))),
            "assist_kmh": str(rng.choice((25, 32, 45))),
            "psi_front": str(rng.choice((35, 40, 45, 50))),
            "psi_rear": str(rng.choice((40, 45, 50, 55))),
            "psi_min": str(rng.choice((20, 25, 30))),
            "recur_days": str(rng.choice((3, 7, 14))),
            "case_prefix": f"VS{rng.randint(100, 999)}",
        }
        for topic in template.topics["bike"]:
            if topic.kind == "error":
                for err in rng.sample(cat.error_meanings, _ERRORS_PER_BIKE):
                    world.items.append((topic, _error_values(rng, used, values, err)))
            else:
                world.items.append((topic, values))
    glob = {
        **common,
        "phone": f"+44 20 7946 0{rng.randint(100, 999)}",  # Ofcom's range for drama: never a real line
        "days": rng.choice(("Monday to Friday", "Monday to Saturday", "every day")),
        "open_time": f"{rng.choice((7, 8, 9))}:{rng.choice(('00', '30'))}",
        "close_time": f"{rng.choice((17, 18, 19, 20))}:00",
        "tz": "UK time",
        "reply_h": str(rng.choice((4, 8, 12, 24))),
        "return_days": str(rng.choice((14, 30, 45))),
        "return_km": str(rng.choice((50, 100, 150))),
        "courier": rng.choice(cat.couriers),
        "pickup_days": str(rng.choice((2, 3, 5))),
        "restock_fee": _gbp(rng, 25, 99),
        "refund_days": str(rng.choice((5, 7, 10))),
    }
    world.items[:0] = [(t, glob) for t in template.topics["global"]]
    return world


def _error_values(rng: random.Random, used: set[str], values: dict[str, str], err: ErrorMeaning) -> dict[str, str]:
    """The bike's values plus one invented error code, its meaning and its fix."""
    v = dict(values)
    v["code"] = unique(rng, used, lambda r: f"{r.choice('BMSTW')}{r.randint(10, 99)}")
    draws: dict[str, Any] = {
        "mins": rng.choice((10, 15, 20, 30)),
        "secs": rng.choice((3, 5, 8)),
        "mm": rng.choice((5, 8, 10)),
        "hours": rng.choice((12, 24, 48)),
        "button": values["button"],
    }
    v.update(
        meaning=err.meaning,
        meaning_key=err.meaning_key,
        fix=err.fix.format(**draws) + ".",
        fix_key=err.fix_key.format(**draws),
    )
    return v


COMPANY = Company(
    name="velocia/service",
    template_file=TEMPLATES / "velocia.yaml",
    catalogue=VelociaCatalogue,
    topic_groups=("bike", "global"),
    build=build,
    items_per_product=items_per_product,
)

"""Seeded generators of fictional support domains that a base model cannot know.

The demo domain is how the project shows that the loop really learns (issue 7, "It must really
learn"): invented model numbers, prices, error codes, procedures and hours that no pretrained
model has seen, asked in several paraphrases as real traffic does, answered by the base model
vaguely or wrongly, and corrected by humans in the house style. Everything comes from templates
and a seeded random generator, never from text tuned to the metric, and two different domains
(``acme/support`` and ``globex/billing``) go through the same code path so that "a domain it
has never seen" is a real test.

Public API:
    generate_demo_domain(seed, n_facts, paraphrases_per_question, ...) -> DemoDomain
    generate_domain(name, ...) -> DemoDomain           # "acme/support" or "globex/billing"
    split_for(interaction_id, eval_share) -> "train" | "eval"
    write_curated_jsonl(domain, out_dir) -> {"train": Path, "eval": Path}
    scenario_items(domain, n) / write_scenarios_yaml(domain, path)
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from aion_assets.core.errors import ConfigError
from aion_assets.seal.style import HouseStyle

Split = Literal["train", "eval"]
DEFAULT_EVAL_SHARE = 0.2

# ----------------------------------------------------------------------------------------------
# Split


def split_for(interaction_id: str, eval_share: float = DEFAULT_EVAL_SHARE) -> Split:
    """Deterministic split of one interaction: ``eval`` when sha256(id) falls in the eval share.

    The split depends on the id only, so an example never moves between splits as data grows.
    """
    if not 0.0 < eval_share < 1.0:
        raise ConfigError(f"eval_share must be in (0, 1), got {eval_share}")
    digest = hashlib.sha256(str(interaction_id).encode("utf-8")).digest()
    return "eval" if int.from_bytes(digest[:8], "big") / 2**64 < eval_share else "train"


# ----------------------------------------------------------------------------------------------
# Domain objects


@dataclass(frozen=True)
class DomainSpec:
    """Who the domain belongs to and how its answers look."""

    tenant_id: str
    domain: str
    agent_id: str
    company: str
    style: HouseStyle
    system_prompt: str
    model_version: str = "aion-base"


@dataclass(frozen=True)
class DemoQuestion:
    """One fact item: a question kind about an entity, its correct body and its key facts."""

    question_id: str
    kind: str
    body: str
    facts: tuple[str, ...]
    paraphrases: tuple[str, ...]


@dataclass(frozen=True)
class DemoExample:
    """One interaction (a paraphrase of a question) and the human self-edit correcting it."""

    interaction: dict[str, Any]
    self_edit: dict[str, Any]
    question_id: str
    facts: tuple[str, ...]
    split: Split


@dataclass(frozen=True)
class DemoDomain:
    """A generated domain: its spec, its questions and the traffic with its corrections."""

    spec: DomainSpec
    seed: int
    questions: tuple[DemoQuestion, ...]
    examples: tuple[DemoExample, ...]
    eval_share: float = DEFAULT_EVAL_SHARE
    catalog_terms: tuple[str, ...] = ()

    @property
    def style(self) -> HouseStyle:
        """The domain's house style (greeting and sign-off)."""
        return self.spec.style

    def scrub_allow_list(self) -> list[str]:
        """Terms the tenant's scrub policy must keep: its catalog, not personal data.

        Presidio's NER takes invented product and company names ("Acme Support", "Helix 20",
        "Boost" button) for persons or places; without this allow-list (``tenants.config["scrub"]
        ["allow_list"]``) the house greeting and many key facts would reach training as
        ``<PERSON>``. It lists the greeting and sign-off lines, the catalog's names and every key
        fact - what a tenant configures for its own product catalog.
        """
        terms = [self.style.greeting, *self.style.sign_off.splitlines(), *self.catalog_terms]
        terms += [f for q in self.questions for f in q.facts]
        return [t for t in dict.fromkeys(t.strip() for t in terms) if t]

    def interactions(self) -> list[dict[str, Any]]:
        """Interaction rows in the memory store's shape (JSON-serializable)."""
        return [dict(e.interaction) for e in self.examples]

    def self_edits(self) -> list[dict[str, Any]]:
        """Self-edit rows in the memory store's shape, ``interaction_id`` pointing at the above."""
        return [dict(e.self_edit) for e in self.examples]

    def curated_rows(self, split: Split | None = None, min_reward: float = 0.5) -> list[dict[str, Any]]:
        """Rows in the curated SFT format, as the curation step would produce them.

        Approved edits with ``reward_score >= min_reward``; each row has ``prompt``,
        ``response``, ``metadata`` (with ``facts``, ``split``, ids) and ``messages``.
        """
        rows = []
        for e in self.examples:
            edit = e.self_edit
            if edit["status"] != "approved" or edit["reward_score"] < min_reward:
                continue
            if split is not None and e.split != split:
                continue
            rows.append(_curated_row(self.spec, e))
        return rows

    def coverage(self) -> dict[str, int]:
        """How many questions have at least one train / eval paraphrase, and both."""
        train = {e.question_id for e in self.examples if e.split == "train"}
        evals = {e.question_id for e in self.examples if e.split == "eval"}
        return {
            "questions": len(self.questions),
            "train": len(train),
            "eval": len(evals),
            "both": len(train & evals),
        }


def _curated_row(spec: DomainSpec, e: DemoExample) -> dict[str, Any]:
    prompt = e.interaction["input_text"]
    response = e.self_edit["edited_output"]
    metadata = {
        "tenant_id": spec.tenant_id,
        "agent_id": spec.agent_id,
        "domain": spec.domain,
        "interaction_id": e.interaction["id"],
        "self_edit_id": e.self_edit["id"],
        "question_id": e.question_id,
        "facts": list(e.facts),
        "reward_score": e.self_edit["reward_score"],
        "split": e.split,
    }
    return {
        "prompt": prompt,
        "response": response,
        "metadata": metadata,
        "messages": [
            {"role": "system", "content": spec.system_prompt},
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": response},
        ],
    }


# ----------------------------------------------------------------------------------------------
# Templates: a topic is a kind of question; a world builder invents the entities it is asked about


@dataclass(frozen=True)
class _Topic:
    kind: str
    questions: tuple[str, ...]
    answer: str
    facts: tuple[str, ...]  # format strings over the same values, each a key fact of the answer
    vague: tuple[str, ...]  # what an uninformed base model says instead


@dataclass
class _World:
    spec: DomainSpec
    items: list[tuple[_Topic, dict[str, str]]] = field(default_factory=list)


_OPENERS = ("", "", "", "Hi, ", "Hello, ", "Hey, ", "Good morning, ", "Quick question: ", "Hi there! ")
_CLOSERS = ("", "", "", " Thanks!", " Thank you.", " Thanks in advance.", " Appreciate the help.")
_GENERIC_VAGUE = (
    (
        "I'm sorry, I don't have specific information about that. Please check the product manual or "
        "the manufacturer's website for details."
    ),
    "That depends on several factors. I recommend contacting customer support for accurate information.",
    (
        "I'm not able to confirm that right now, but you can usually find this information on the "
        "official website or in your account."
    ),
)


def _syllable_name(rng: random.Random, n: int = 2) -> str:
    starts = ("Vel", "Quo", "Zan", "Tor", "Bri", "Kel", "Mor", "Dra", "Lum", "Cor", "Fen", "Sar", "Ox", "Tal")
    ends = ("trix", "ra", "vex", "lia", "dor", "nix", "ven", "tek", "ora", "lyn", "mar", "zo")
    return rng.choice(starts) + "".join(rng.choice(ends) for _ in range(n - 1))


def _money(rng: random.Random, lo: int, hi: int, cents: tuple[str, ...] = ("99", "00", "50", "95")) -> str:
    return f"${rng.randint(lo, hi)}.{rng.choice(cents)}"


def _unique(rng: random.Random, used: set[str], make: Callable[[random.Random], str]) -> str:
    for _ in range(1000):
        value = make(rng)
        if value not in used:
            used.add(value)
            return value
    raise ConfigError("demo domain: ran out of unique invented values; lower n_facts")


_ACME_PRODUCT_TOPICS = (
    _Topic(
        "price",
        (
            "How much does the {model} cost?",
            "What's the price of the {model}?",
            "how much is the {name}?",
            "What does the {model} sell for?",
            "Can you tell me the current price for the {model}?",
            "price of {model}?",
            "I'm thinking of buying the {name}. How much is it?",
            "What would I pay for a {model}?",
        ),
        "The {name} ({model}) costs {price}, VAT included. It ships within {ship_days} business days.",
        ("{price}", "{ship_days} business days"),
        (
            "The {model} usually sells for around {wrong_price}, but prices vary by retailer.",
            "Prices for the {model} depend on the retailer and region. Please check the official website.",
        ),
    ),
    _Topic(
        "warranty",
        (
            "What warranty comes with the {model}?",
            "How long is the warranty on the {name}?",
            "Is the {model} covered by a warranty?",
            "warranty period for {model}?",
            "How many years of warranty do I get with the {model}?",
            "What does the {model} warranty cover?",
            "My {model} broke, am I still under warranty after two years?",
        ),
        "The {model} comes with a {warranty_years}-year limited warranty covering the {covered}. "
        "To file a claim, have your serial number ready; it starts with {serial_prefix}.",
        ("{warranty_years}-year", "{covered}", "{serial_prefix}"),
        (
            "Most electronics come with a one-year manufacturer warranty. Check your receipt for details.",
            "The {model} typically has a {wrong_years}-year warranty, depending on where you bought it.",
        ),
    ),
    _Topic(
        "error",
        (
            "My {model} shows error {code}. What does it mean?",
            "What is error {code} on the {model}?",
            "error {code} on my {name}, how do I fix it?",
            "The {model} keeps displaying {code}. Help?",
            "How do I clear error code {code} on a {model}?",
            "Got {code} on the {model} display, what now?",
            "What should I do about the {code} error on my {model}?",
        ),
        "Error {code} on the {model} means {meaning}. To fix it, {fix}",
        ("{meaning_key}", "{fix_key}"),
        (
            "Error {code} usually points to a generic fault. Try turning the device off and on again.",
            "Error codes like {code} can have many causes. Please consult the user manual.",
        ),
    ),
    _Topic(
        "reset",
        (
            "How do I factory reset the {model}?",
            "How can I reset my {name} to factory settings?",
            "reset instructions for {model}?",
            "What's the procedure to reset a {model}?",
            "I need to wipe my {model} and start fresh. How?",
            "How do you do a hard reset on the {model}?",
            "Steps to restore the {model} to defaults?",
        ),
        "To factory-reset the {model}, switch it off, then hold the {button} button for {seconds} seconds "
        "until the ring light blinks {color}. All settings and schedules are erased.",
        ("{button}", "{seconds} seconds", "{color}"),
        (
            "To reset most devices, hold the power button for about 10 seconds.",
            "You can usually reset the {model} from its settings menu or with a reset pin.",
        ),
    ),
    _Topic(
        "part",
        (
            "Which replacement {part} fits the {model}?",
            "Where do I get a new {part} for my {model}?",
            "part number of the {model} {part}?",
            "How much is a replacement {part} for the {name}?",
            "I need a spare {part} for the {model}. What should I order?",
            "How often should I change the {part} on the {model}?",
        ),
        "The replacement {part} for the {model} is part number {part_no}, priced at {part_price}. "
        "We recommend replacing it every {months} months.",
        ("{part_no}", "{part_price}", "{months} months"),
        (
            "Replacement parts are available from most retailers. Check the manual for the right part.",
            "A replacement {part} usually costs around {wrong_price} and should be changed once a year.",
        ),
    ),
    _Topic(
        "runtime",
        (
            "How long does the {model} battery last?",
            "What's the battery life of the {name}?",
            "How long does it take to charge the {model}?",
            "runtime of {model} on one charge?",
            "How many minutes does the {model} run before it needs charging?",
            "Battery question: how long will my {model} run?",
        ),
        "The {model} runs up to {runtime} minutes on a full charge and recharges fully in "
        "{charge_hours} hours.",
        ("{runtime} minutes", "{charge_hours} hours"),
        (
            "Battery life depends on usage, but most models run for one to two hours.",
            "The {model} usually lasts around {wrong_runtime} minutes per charge.",
        ),
    ),
    _Topic(
        "firmware",
        (
            "What is the latest firmware for the {model}?",
            "Which firmware version should my {model} run?",
            "Is there a firmware update for the {name}?",
            "latest {model} firmware version?",
            "How do I update the firmware of my {model}?",
            "My {model} seems outdated. Which software version is current?",
        ),
        "The latest firmware for the {model} is version {fw}. Install it in the {app} app under "
        "Settings > Device > Firmware.",
        ("{fw}", "{app}"),
        (
            "Firmware updates are installed automatically when your device is connected to Wi-Fi.",
            "The latest version should be shown in the companion app. Make sure the {model} is online.",
        ),
    ),
)

_ACME_GLOBAL_TOPICS = (
    _Topic(
        "hours",
        (
            "When is your support line open?",
            "What are your opening hours?",
            "what time can I call support?",
            "Are you open on weekends?",
            "When can I reach a human at {company}?",
            "support hours?",
            "Until what time is customer service available?",
        ),
        "Our support line is open {days} from {open_time} to {close_time} {tz}. On public holidays we "
        "answer by email only.",
        ("{days}", "{open_time}", "{close_time}"),
        (
            "Customer service is usually available during normal business hours, Monday to Friday.",
            "Support hours vary by region. Please check the contact page.",
        ),
    ),
    _Topic(
        "returns",
        (
            "What is your return policy?",
            "How many days do I have to return a product?",
            "Can I return something I bought?",
            "return window?",
            "I want to send my order back. Is that possible?",
            "How do returns work at {company}?",
        ),
        "You can return any product within {return_days} days of delivery for a full refund. "
        "The prepaid return label costs {label_fee} and the refund arrives within "
        "{refund_days} business days.",
        ("{return_days} days", "{label_fee}", "{refund_days} business days"),
        (
            "Most stores offer a 30-day return policy. Please keep your receipt.",
            "Returns are usually accepted within a few weeks if the product is unused.",
        ),
    ),
    _Topic(
        "express",
        (
            "Do you offer express shipping?",
            "How much is express delivery?",
            "How fast can you ship?",
            "express shipping cost?",
            "Can I get my order faster?",
            "What does next-day delivery cost?",
        ),
        "Yes: express delivery costs {express_fee} and arrives within {express_days} business day. "
        "Orders placed before {cutoff} ship the same day.",
        ("{express_fee}", "{cutoff}"),
        (
            "Express shipping is available in most regions for an additional fee.",
            "Shipping options depend on your location. You will see them at checkout.",
        ),
    ),
)


def _build_acme(rng: random.Random, n_products: int) -> _World:
    company = "Acme"
    spec = DomainSpec(
        tenant_id="acme",
        domain="support",
        agent_id="acme-support-bot",
        company=company,
        style=HouseStyle(
            greeting="Hi there, thanks for reaching out to Acme Support!",
            sign_off="Best regards,\nThe Acme Support Team",
        ),
        system_prompt="You are the customer support assistant of Acme, a maker of home devices.",
    )
    world = _World(spec)
    kinds = (
        ("robot vacuum", "brush roll"),
        ("air purifier", "HEPA filter"),
        ("smart thermostat", "sensor module"),
        ("espresso machine", "water filter"),
        ("cordless drill", "battery pack"),
        ("label printer", "print head"),
        ("e-bike", "brake pad set"),
        ("baby monitor", "camera lens cover"),
        ("window robot", "cleaning pad"),
    )
    covered = (
        "motor and battery",
        "electronics and housing",
        "display and mainboard",
        "pump and heating element",
    )
    # (meaning, its key fact, the fix, the fix's key fact); the fix's numbers are drawn per code.
    meanings = (
        (
            "the dust bin sensor is blocked",
            "dust bin sensor",
            "empty the bin and wipe the sensor window",
            "wipe the sensor window",
        ),
        (
            "the main motor is overheating",
            "overheating",
            "let it cool for {mins} minutes before restarting",
            "{mins} minutes",
        ),
        (
            "the water tank is not seated",
            "water tank",
            "remove the tank and push it back until it clicks",
            "until it clicks",
        ),
        (
            "the Wi-Fi module lost its pairing",
            "Wi-Fi module",
            "hold the {button} button for {secs} seconds to re-pair",
            "{secs} seconds",
        ),
        (
            "the battery temperature is too low",
            "battery temperature",
            "charge it indoors for {mins} minutes",
            "{mins} minutes",
        ),
        (
            "a wheel is jammed",
            "wheel is jammed",
            "remove the wheel cover and clear hair with the {tool}",
            "wheel cover",
        ),
        (
            "the filter is clogged",
            "filter is clogged",
            "rinse the filter and let it dry for {hours} hours",
            "{hours} hours",
        ),
        (
            "the door switch is open",
            "door switch",
            "shut the door until it clicks and press {button} once",
            "press {button} once",
        ),
    )
    buttons = ("Home", "Power", "Mode", "Reset", "Dock", "Boost", "Menu")
    colors = ("blue", "amber", "green", "white", "purple", "red")
    apps = (f"{company} Home", f"{company} Connect", f"{company} Link")
    tools = ("cleaning tool", "included brush", "cutting blade")
    used: set[str] = set()
    letters = "BCDFGHKLMNPRSTVXZ"
    for _ in range(n_products):
        prefix = _unique(rng, used, lambda r: r.choice(letters) + r.choice(letters))
        model = _unique(rng, used, lambda r: f"{prefix}-{r.randint(100, 9899)}")  # noqa: B023 (called at once)
        kind, part = rng.choice(kinds)
        name = f"{company} {_unique(rng, used, lambda r: _syllable_name(r))} {kind}"
        values: dict[str, str] = {
            "company": company,
            "model": model,
            "name": name,
            "part": part,
            "price": _money(rng, 49, 899),
            "wrong_price": _money(rng, 49, 899),
            "ship_days": str(rng.randint(2, 6)),
            "warranty_years": str(rng.choice((2, 3, 4, 5))),
            "wrong_years": "1",
            "covered": rng.choice(covered),
            "serial_prefix": prefix + str(rng.randint(10, 99)),
            "button": rng.choice(buttons),
            "seconds": str(rng.choice((5, 8, 12, 15, 20))),
            "color": rng.choice(colors),
            "part_no": _unique(
                rng,
                used,
                lambda r: f"{prefix}{r.randint(1000, 9999)}-{r.choice('ABCR')}",  # noqa: B023
            ),
            "part_price": _money(rng, 9, 79),
            "months": str(rng.choice((3, 4, 6, 9, 12))),
            "runtime": str(rng.randint(6, 30) * 5),
            "wrong_runtime": str(rng.randint(6, 30) * 5),
            "charge_hours": str(rng.choice((2, 3, 4, 5))),
            "fw": f"{rng.randint(1, 6)}.{rng.randint(0, 19)}.{rng.randint(0, 9)}",
            "app": rng.choice(apps),
        }
        for topic in _ACME_PRODUCT_TOPICS:
            if topic.kind == "error":
                for meaning, key, fix, fix_key in rng.sample(meanings, 2):
                    v = dict(values)
                    v["code"] = _unique(rng, used, lambda r: f"E{r.randint(10, 99)}{r.choice('ABCDFH')}")
                    draws = {
                        "mins": rng.choice((10, 15, 20, 30)),
                        "secs": rng.choice((3, 5, 7)),
                        "button": values["button"],
                        "tool": rng.choice(tools),
                        "hours": rng.choice((2, 4, 6)),
                    }
                    v.update(
                        meaning=meaning,
                        meaning_key=key,
                        fix=fix.format(**draws) + ".",
                        fix_key=fix_key.format(**draws),
                    )
                    world.items.append((topic, v))
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
        "label_fee": _money(rng, 3, 9),
        "refund_days": str(rng.choice((3, 5, 7, 10))),
        "express_fee": _money(rng, 9, 24),
        "express_days": "1",
        "cutoff": f"{rng.choice((11, 12, 13, 14))}:00",
    }
    world.items[:0] = [(t, glob) for t in _ACME_GLOBAL_TOPICS]
    return world


_GLOBEX_PLAN_TOPICS = (
    _Topic(
        "plan_price",
        (
            "How much is the {plan} plan per month?",
            "What does {plan} cost?",
            "monthly fee for {plan}?",
            "I'm on {plan}. What should my monthly bill be?",
            "Price of the {plan} tariff?",
            "How much would I pay each month on {plan}?",
        ),
        "The {plan} plan costs {monthly} per month and includes {data_gb} GB of data.",
        ("{monthly}", "{data_gb} GB"),
        (
            "Plan prices change from time to time. Please log in to your account to see the current price.",
            "The {plan} plan is around {wrong_money} per month, depending on promotions.",
        ),
    ),
    _Topic(
        "termination",
        (
            "What is the early termination fee for {plan}?",
            "Can I cancel {plan} before the contract ends?",
            "How long is the {plan} contract?",
            "cancel {plan} early - cost?",
            "What happens if I leave {plan} early?",
            "minimum term of {plan}?",
        ),
        "{plan} has a minimum term of {term} months. Cancelling earlier costs an early termination "
        "fee of {etf}.",
        ("{term} months", "{etf}"),
        (
            "Early termination fees depend on your contract. Please check your agreement.",
            "You can usually cancel at any time, though a fee may apply.",
        ),
    ),
    _Topic(
        "roaming",
        (
            "Does {plan} include roaming?",
            "How much is roaming on {plan}?",
            "roaming add-on for {plan}?",
            "I'm travelling abroad on {plan}. What will data cost?",
            "What's the travel pass price for {plan}?",
        ),
        "{plan} does not include roaming; the {pass_name} travel pass costs {pass_price} per day "
        "and adds {pass_mb} MB of data.",
        ("{pass_name}", "{pass_price}", "{pass_mb} MB"),
        (
            "Roaming charges depend on the destination country. Check the roaming page before travelling.",
            "Most plans include roaming in the EU at no extra cost.",
        ),
    ),
)

_GLOBEX_CHARGE_TOPIC = _Topic(
    "charge_code",
    (
        "What is charge code {code} on my bill?",
        "My invoice shows {code}. What is that?",
        "what does {code} mean on the statement?",
        "Why was I charged {code}?",
        "There's a line {code} on my invoice, can you explain?",
        "Explain billing code {code} please.",
    ),
    "Charge code {code} is the {charge_name}, billed at {amount} {period}.",
    ("{charge_name}", "{amount}"),
    (
        "Charge codes refer to services on your account. Please contact billing for an itemized explanation.",
        "That code is probably a one-time fee. You can dispute it if you did not expect it.",
    ),
)

_GLOBEX_GLOBAL_TOPICS = (
    _Topic(
        "due_date",
        (
            "When is my bill due?",
            "What's the payment due date?",
            "When do I have to pay my invoice?",
            "due date for payments?",
            "What happens if I pay late?",
            "Is there a late fee?",
        ),
        "Invoices are due on the {due_day} of each month. A late payment adds a fee of {late_fee} after "
        "{grace} days of grace.",
        ("{due_day}", "{late_fee}", "{grace} days"),
        (
            "Bills are generally due 30 days after the invoice date.",
            "Late fees may apply. Please check your invoice for the due date.",
        ),
    ),
    _Topic(
        "autopay",
        (
            "Is there a discount for autopay?",
            "Do I save anything with direct debit?",
            "autopay discount?",
            "How do I set up automatic payments?",
            "Why should I switch to autopay?",
        ),
        "Autopay by direct debit saves {autopay_discount} per month. Set it up in {portal} under "
        "Billing > Payment method.",
        ("{autopay_discount}", "{portal}"),
        (
            "Automatic payments can be set up in your online account.",
            "Some providers offer a small discount for autopay. Check your account settings.",
        ),
    ),
    _Topic(
        "refund",
        (
            "How long does a refund take?",
            "When will I get my money back?",
            "refund processing time?",
            "I was overcharged. How do refunds work?",
            "How are refunds paid out?",
        ),
        "Approved refunds are paid to your original payment method within {refund_days} business days; "
        "quote your refund reference starting with {ref_prefix}.",
        ("{refund_days} business days", "{ref_prefix}"),
        (
            "Refunds usually take a few weeks to process.",
            "Refund times depend on your bank. Please allow up to 30 days.",
        ),
    ),
)


def _build_globex(rng: random.Random, n_products: int) -> _World:
    company = "Globex"
    portal = "My Globex"
    spec = DomainSpec(
        tenant_id="globex",
        domain="billing",
        agent_id="globex-billing-assistant",
        company=company,
        style=HouseStyle(
            greeting="Dear customer, thank you for contacting Globex Billing.",
            sign_off="Kind regards,\nGlobex Billing Services",
        ),
        system_prompt="You are the billing assistant of Globex, a mobile and broadband provider.",
    )
    world = _World(spec)
    used: set[str] = set()
    charges = (
        "number porting fee",
        "paper invoice surcharge",
        "SIM replacement fee",
        "static IP add-on",
        "router rental",
        "international call bundle",
        "device instalment",
        "premium SMS pass-through",
        "late reconnection fee",
        "streaming add-on",
        "insurance cover",
        "extra data booster",
    )
    periods = ("per month", "once", "per invoice", "per month for 24 months")
    words = ("Nimbus", "Helix", "Aurora", "Stratus", "Zenith", "Pulse", "Vertex", "Orbit", "Quasar", "Ember")
    for i in range(n_products):
        plan = _unique(rng, used, lambda r: f"{r.choice(words)} {r.choice((10, 20, 40, 60, 80, 120, 200))}")
        values = {
            "company": company,
            "plan": plan,
            "monthly": _money(rng, 12, 89),
            "wrong_money": _money(rng, 12, 89),
            "data_gb": str(rng.choice((5, 15, 25, 50, 100, 150))),
            "term": str(rng.choice((12, 18, 24))),
            "etf": _money(rng, 29, 199),
            "pass_name": f"{_syllable_name(rng)} {rng.choice(('Day', 'World', 'Go'))}",
            "pass_price": _money(rng, 2, 12),
            "pass_mb": str(rng.choice((200, 500, 750, 1000))),
        }
        for topic in _GLOBEX_PLAN_TOPICS:
            world.items.append((topic, values))
        for j in range(2):
            cv = {
                "company": company,
                "code": _unique(
                    rng, used, lambda r: f"{r.choice('BCFGKRT')}{r.choice('XQZ')}-{r.randint(100, 999)}"
                ),
                "charge_name": charges[(2 * i + j) % len(charges)] if i < 6 else rng.choice(charges),
                "amount": _money(rng, 1, 49),
                "period": rng.choice(periods),
            }
            world.items.append((_GLOBEX_CHARGE_TOPIC, cv))
    glob = {
        "company": company,
        "portal": portal,
        "due_day": rng.choice(("5th", "12th", "15th", "20th", "28th")),
        "late_fee": _money(rng, 3, 15),
        "grace": str(rng.choice((3, 5, 7, 10))),
        "autopay_discount": _money(rng, 1, 5),
        "refund_days": str(rng.choice((4, 6, 8, 12))),
        "ref_prefix": "RF" + str(rng.randint(10, 99)),
    }
    world.items[:0] = [(t, glob) for t in _GLOBEX_GLOBAL_TOPICS]
    return world


_BUILDERS: dict[str, tuple[Callable[[random.Random, int], _World], int]] = {
    # name -> (builder, question items per product/plan)
    "acme/support": (_build_acme, 8),
    "globex/billing": (_build_globex, 5),
}
DOMAINS = tuple(_BUILDERS)
#: Invented names of the catalog (not personal data) that a tenant's scrub policy allows.
_CATALOG_KEYS = (
    "company",
    "name",
    "model",
    "plan",
    "pass_name",
    "app",
    "portal",
    "button",
    "part",
    "charge_name",
)


# ----------------------------------------------------------------------------------------------
# Generation


def generate_domain(
    name: str = "acme/support",
    seed: int = 7,
    n_facts: int = 80,
    paraphrases_per_question: int = 6,
    eval_share: float = DEFAULT_EVAL_SHARE,
    noise_share: float = 0.05,
    start: datetime | None = None,
) -> DemoDomain:
    """Generate one fictional domain.

    Args:
        name: ``"acme/support"`` (home-device support) or ``"globex/billing"`` (telecom billing).
        seed: everything (names, values, paraphrases, ids, rewards) follows from it.
        n_facts: number of question items (each with its own key facts).
        paraphrases_per_question: interactions per question (different wordings of it).
        eval_share: share of interactions whose id hashes into the eval split.
        noise_share: share of edits that are low-reward or rejected (noise the curation drops).
        start: timestamp of the first interaction (default 2026-03-02 08:00 UTC).

    Returns:
        A DemoDomain; identical arguments give an identical domain.

    Raises:
        ConfigError: unknown domain name or impossible sizes.
    """
    if name not in _BUILDERS:
        raise ConfigError(f"unknown demo domain {name!r}; choose one of {sorted(_BUILDERS)}")
    if n_facts < 1 or paraphrases_per_question < 1:
        raise ConfigError("n_facts and paraphrases_per_question must be at least 1")
    builder, per_product = _BUILDERS[name]
    rng = random.Random(f"{name}:{seed}")
    world = builder(rng, max(1, -(-n_facts // per_product)))
    if len(world.items) < n_facts:
        world = builder(random.Random(f"{name}:{seed}"), -(-n_facts // per_product) + 1)
    items = world.items[:n_facts]
    spec = world.spec
    t0 = start or datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    questions: list[DemoQuestion] = []
    examples: list[DemoExample] = []
    clock = t0
    for qi, (topic, values) in enumerate(items):
        qid = f"{spec.tenant_id}-{spec.domain}-q{qi:03d}"
        body = topic.answer.format(**values)
        facts = tuple(f.format(**values) for f in topic.facts)
        paraphrases = _paraphrases(rng, topic, values, paraphrases_per_question)
        questions.append(DemoQuestion(qid, topic.kind, body, facts, tuple(paraphrases)))
        for pi, text in enumerate(paraphrases):
            clock += timedelta(minutes=rng.randint(3, 95))
            examples.append(
                _example(rng, spec, qid, pi, text, body, facts, topic, values, clock, noise_share, eval_share)
            )
    catalog = sorted(
        {values[k] for _, values in items for k in _CATALOG_KEYS if k in values} | {spec.company}
    )
    return DemoDomain(
        spec=spec,
        seed=seed,
        questions=tuple(questions),
        examples=tuple(examples),
        eval_share=eval_share,
        catalog_terms=tuple(catalog),
    )


def generate_demo_domain(
    seed: int = 7,
    n_facts: int = 80,
    paraphrases_per_question: int = 6,
    eval_share: float = DEFAULT_EVAL_SHARE,
    noise_share: float = 0.05,
) -> DemoDomain:
    """The demo domain ``acme/support`` (see :func:`generate_domain` for the arguments)."""
    return generate_domain(
        "acme/support",
        seed=seed,
        n_facts=n_facts,
        paraphrases_per_question=paraphrases_per_question,
        eval_share=eval_share,
        noise_share=noise_share,
    )


def _paraphrases(rng: random.Random, topic: _Topic, values: dict[str, str], n: int) -> list[str]:
    """``n`` distinct wordings: the question templates cycled, with varied openers and closers."""
    templates = list(topic.questions)
    rng.shuffle(templates)
    out: list[str] = []
    seen: set[str] = set()
    attempts = 0
    while len(out) < n:
        base = templates[len(out) % len(templates)].format(**values)
        opener, closer = rng.choice(_OPENERS), rng.choice(_CLOSERS)
        text = opener + (
            base[0].lower() + base[1:] if opener and not base.startswith(("I ", "I'm")) else base
        )
        text = text + closer
        attempts += 1
        if text in seen and attempts < 50 * n:
            continue
        seen.add(text)
        out.append(text)
    return out


def _example(
    rng: random.Random,
    spec: DomainSpec,
    qid: str,
    pi: int,
    question: str,
    body: str,
    facts: tuple[str, ...],
    topic: _Topic,
    values: dict[str, str],
    when: datetime,
    noise_share: float,
    eval_share: float,
) -> DemoExample:
    interaction_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    edit_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    vague = rng.choice(topic.vague + _GENERIC_VAGUE)
    output_text = vague.format(**{"wrong_years": "1", **values})
    noisy = rng.random() < noise_share
    if noisy:
        # Noise as reviewers produce it: a half-fixed answer with a low score, or a rejected one.
        edited = (
            spec.style.wrap(output_text) if rng.random() < 0.5 else output_text + " Sorry for the trouble."
        )
        reward = round(rng.uniform(0.05, 0.45), 2)
        status = rng.choice(("rejected", "approved"))
    else:
        edited = spec.style.wrap(body)
        reward = round(min(1.0, rng.betavariate(5, 2) * 0.4 + 0.6), 2)
        status = "approved"
    meta = {"domain": spec.domain, "question_id": qid, "paraphrase": pi, "facts": list(facts)}
    interaction = {
        "id": interaction_id,
        "tenant_id": spec.tenant_id,
        "agent_id": spec.agent_id,
        "user_id": f"user-{rng.randint(1, 400):04d}",
        "input_text": question,
        "output_text": output_text,
        "model_version": spec.model_version,
        "channel": rng.choice(("web", "web", "app", "email", "chat")),
        "timestamp": when.isoformat(),
        "metadata": meta,
    }
    self_edit = {
        "id": edit_id,
        "interaction_id": interaction_id,
        "tenant_id": spec.tenant_id,
        "editor_type": "human",
        "original_output": output_text,
        "edited_output": edited,
        "reason_code": "factual_correction" if not noisy else rng.choice(("style", "other")),
        "reward_score": reward,
        "status": status,
        "reviewer": f"reviewer-{rng.randint(1, 5)}@{spec.tenant_id}.example",
        "timestamp": (when + timedelta(minutes=rng.randint(10, 600))).isoformat(),
        "metadata": dict(meta),
    }
    return DemoExample(interaction, self_edit, qid, facts, split_for(interaction_id, eval_share))


# ----------------------------------------------------------------------------------------------
# Export


def write_jsonl(rows: Iterable[dict[str, Any]], path: Path) -> int:
    """Write rows as JSONL (atomically: a temp file renamed into place). Returns the row count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
            n += 1
    tmp.replace(path)
    return n


def write_curated_jsonl(domain: DemoDomain, out_dir: Path, min_reward: float = 0.5) -> dict[str, Path]:
    """Write ``train.jsonl`` and ``eval.jsonl`` (curated format, split by hash of the interaction id)."""
    out_dir = Path(out_dir)
    paths = {}
    for split in ("train", "eval"):
        path = out_dir / f"{split}.jsonl"
        write_jsonl(domain.curated_rows(split=split, min_reward=min_reward), path)  # type: ignore[arg-type]
        paths[split] = path
    return paths


def scenario_items(domain: DemoDomain, n: int = 12) -> list[dict[str, Any]]:
    """Scenario prompts for ``tests/llm_evals/<tenant>/<domain>.yaml`` from held-out paraphrases.

    One eval-split paraphrase for each of ``n`` questions spread over the kinds; assertions
    require the key facts and forbid the generic deflections a base model gives.
    """
    by_q = {q.question_id: q for q in domain.questions}
    chosen: list[dict[str, Any]] = []
    seen_q: set[str] = set()
    evals = [e for e in domain.examples if e.split == "eval"]
    kinds_order = sorted({q.kind for q in domain.questions})
    # Round-robin over kinds so the scenarios cover every kind of question.
    while len(chosen) < n and len(seen_q) < len(by_q):
        added = False
        for kind in kinds_order:
            for e in evals:
                q = by_q[e.question_id]
                if q.kind == kind and e.question_id not in seen_q:
                    seen_q.add(e.question_id)
                    chosen.append(
                        {
                            "id": f"{q.question_id}-p{e.interaction['metadata']['paraphrase']}",
                            "prompt": e.interaction["input_text"],
                            "reference": domain.style.wrap(q.body),
                            "facts": list(q.facts),
                            "assertions": {
                                "must_contain": [q.facts[0]],
                                "must_not_contain": ["As an AI", "I don't have specific information"],
                                "max_length": 600,
                            },
                        }
                    )
                    added = True
                    break
            if len(chosen) >= n:
                break
        if not added:
            break
    return chosen


def write_scenarios_yaml(domain: DemoDomain, path: Path, n: int = 12) -> Path:
    """Write the scenario file for the domain (see :mod:`aion_assets.seal.evaluation.scenarios` for the format)."""
    import yaml  # local: only the export needs it

    doc = {
        "tenant": domain.spec.tenant_id,
        "domain": domain.spec.domain,
        "generated_by": f"aion_assets.demo.domains (seed={domain.seed})",
        "style": domain.style.to_dict(),
        "system_prompt": domain.spec.system_prompt,
        "scenarios": scenario_items(domain, n),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    class _Dumper(yaml.SafeDumper):
        pass

    def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        # Multi-line answers as literal blocks, so the file reads like the answers look.
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    _Dumper.add_representer(str, _str)
    text = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
    path.write_text(text, encoding="utf-8")
    return path

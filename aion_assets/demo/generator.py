"""The generic generator of fictional support domains: traffic, corrections and facts from templates.

A demo domain is how the project shows that the loop really learns (issue 7, "It must really
learn"): invented model numbers, prices, error codes, procedures and hours that no pretrained
model has seen, asked in several paraphrases as real traffic does, answered by the base model
vaguely or wrongly, and corrected by humans in the house style. Everything comes from a company's
template data (``templates/*.yaml``) and a seeded random generator, never from text tuned to the
metric. A company module (``acme.py``, ``globex.py``) invents the values its topics are asked
about (a :class:`World`); this module turns any world into questions, interactions and self-edits
the same way, so "a domain it has never seen" goes through the very same code path.

Who edited each answer (human, model or rule) and which training questions quote a customer's
details are decided afterwards by :mod:`aion_assets.demo.traffic`, with random generators of its
own, so the draws here (and with them ids, splits and held-out questions) do not depend on it; so
is the uncorrected traffic (interactions without an edit: most of the traffic). Each interaction
goes to the agent of its channel (``DomainSpec.agent_for``).

The split and the row shape are the pipeline's own (``aion_assets.seal.datasets.rows``): an
example's split is ``split_of(interaction_id, eval_share)`` and a curated row is
``Example(...).to_row(split)``, so the demo's rows are what curation produces from its edits.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from aion_assets.core.errors import ConfigError
from aion_assets.demo.loader import CHANNELS, CompanyTemplate, Topic, common_phrases, load_company
from aion_assets.demo.objects import DEFAULT_EVAL_SHARE, DemoDomain, DemoExample, DemoQuestion, DomainSpec
from aion_assets.demo.traffic import (
    TRAFFIC_CHANNELS,
    Asked,
    uncorrected_traffic,
    with_customers,
    with_editors,
    worded,
)
from aion_assets.seal.datasets.rows import split_of

# ----------------------------------------------------------------------------------------------
# What a company module provides


@dataclass
class World:
    """The invented entities of one company: its spec and (topic, values) items in question order."""

    spec: DomainSpec
    items: list[tuple[Topic, dict[str, str]]] = field(default_factory=list)


@dataclass(frozen=True)
class Company:
    """A fictional company: its template file and the code that invents its values.

    ``build(rng, n_products, template)`` returns a World with about ``items_per_product(template)``
    question items per product (plus the company-wide ones); the generator asks for enough
    products to reach ``n_facts``.
    """

    name: str
    template_file: Path
    catalogue: type[BaseModel]
    topic_groups: tuple[str, ...]
    build: Callable[[random.Random, int, Any], World]
    items_per_product: Callable[[Any], int]

    def template(self) -> CompanyTemplate[Any]:
        """The company's validated template (read on every call: generation is not hot)."""
        template = load_company(self.template_file, self.catalogue, self.topic_groups)
        if template.name != self.name:
            raise ConfigError(f"{self.template_file}: name: {template.name!r}, expected {self.name!r}")
        return template


def spec_of(template: CompanyTemplate[Any]) -> DomainSpec:
    """The DomainSpec of a company's template."""
    s = template.spec
    return DomainSpec(
        tenant_id=s.tenant_id,
        domain=s.domain,
        agent_id=s.agent_ids()[0],
        company=s.company,
        style=s.style.house_style(),
        system_prompt=s.system_prompt,
        agents=s.agent_ids(),
        channel_agents=tuple((c, s.agent_for(c)) for c in CHANNELS),
        pii_share=s.pii_share,
        customer_ref=s.customer_ref,
        rule_topics=s.rule_topics,
    )


def syllable_name(rng: random.Random, n: int = 2) -> str:
    """An invented name of N syllables from ``common.yaml`` ("Velvex")."""
    syllables = common_phrases().name_syllables
    return rng.choice(syllables.starts) + "".join(rng.choice(syllables.ends) for _ in range(n - 1))


def money(rng: random.Random, lo: int, hi: int, cents: tuple[str, ...] = ("99", "00", "50", "95")) -> str:
    """An invented price between LO and HI dollars ("$129.99")."""
    return f"${rng.randint(lo, hi)}.{rng.choice(cents)}"


def unique(rng: random.Random, used: set[str], make: Callable[[random.Random], str]) -> str:
    """A value from MAKE not yet in USED (added to it).

    Raises:
        ConfigError: no new value after 1000 draws (too many facts for the value space).
    """
    for _ in range(1000):
        value = make(rng)
        if value not in used:
            used.add(value)
            return value
    raise ConfigError("demo domain: ran out of unique invented values; lower n_facts")


# ----------------------------------------------------------------------------------------------
# Generation


def generate(
    company: Company,
    seed: int = 7,
    n_facts: int = 80,
    paraphrases_per_question: int = 6,
    eval_share: float = DEFAULT_EVAL_SHARE,
    noise_share: float = 0.05,
    start: datetime | None = None,
    uncorrected_per_question: int = 13,
) -> DemoDomain:
    """Generate COMPANY's domain (see :func:`aion_assets.demo.domains.generate_domain` for the arguments).

    Raises:
        ConfigError: impossible sizes or shares, or a bad template (the message names the file and key).
    """
    if n_facts < 1 or paraphrases_per_question < 1:
        raise ConfigError("n_facts and paraphrases_per_question must be at least 1")
    if uncorrected_per_question < 0:
        raise ConfigError(f"uncorrected_per_question must be at least 0, got {uncorrected_per_question}")
    if not 0.0 < eval_share < 1.0:
        raise ConfigError(f"eval_share must be in (0, 1), got {eval_share}")
    template = company.template()
    per_product = company.items_per_product(template)
    rng = random.Random(f"{company.name}:{seed}")
    world = company.build(rng, max(1, -(-n_facts // per_product)), template)
    if len(world.items) < n_facts:
        world = company.build(random.Random(f"{company.name}:{seed}"), -(-n_facts // per_product) + 1, template)
    items = world.items[:n_facts]
    spec = world.spec
    clock = start or datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    questions: list[DemoQuestion] = []
    examples: list[DemoExample] = []
    for qi, (topic, values) in enumerate(items):
        _check_placeholders(template, topic, values)
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
    kinds = {q.question_id: q.kind for q in questions}
    key = f"{company.name}:{seed}"
    examples = with_customers(with_editors(examples, spec, kinds, key), spec, key)
    extra = world.items[n_facts:]
    for topic, values in extra:
        _check_placeholders(template, topic, values)
    uncorrected = uncorrected_traffic(
        spec, _asked(spec, items, extra, examples), examples, key, uncorrected_per_question * n_facts
    )
    keys = template.catalogue_keys
    catalog = sorted({values[k] for _, values in items for k in keys if k in values} | {spec.company})
    return DemoDomain(
        spec=spec,
        seed=seed,
        questions=tuple(questions),
        examples=tuple(examples),
        eval_share=eval_share,
        catalog_terms=tuple(catalog),
        uncorrected=tuple(uncorrected),
    )


def _asked(
    spec: DomainSpec,
    items: list[tuple[Topic, dict[str, str]]],
    extra: list[tuple[Topic, dict[str, str]]],
    examples: list[DemoExample],
) -> list[Asked]:
    """What uncorrected traffic asks: the questions with a training paraphrase (ids as in ``generate``)
    and the builder's items beyond ``n_facts`` (entities outside the question set, ids ``...-x000``)."""
    trained = {e.question_id for e in examples if e.split == "train"}
    prefix = f"{spec.tenant_id}-{spec.domain}"
    asked = [Asked(f"{prefix}-q{qi:03d}", topic, values, topic.answer.format(**values))
             for qi, (topic, values) in enumerate(items)]
    asked = [a for a in asked if a.question_id in trained]
    asked += [Asked(f"{prefix}-x{xi:03d}", topic, values, topic.answer.format(**values))
              for xi, (topic, values) in enumerate(extra)]
    return asked


def _check_placeholders(template: CompanyTemplate[Any], topic: Topic, values: dict[str, str]) -> None:
    """A topic text naming a value the builder does not provide is a template error, not a KeyError."""
    missing = topic.placeholders() - set(values) - {"wrong_years"}
    if missing:
        raise ConfigError(
            f"{template.source}: topic {topic.kind!r} uses unknown placeholder(s) {sorted(missing)}; "
            f"the builder provides {sorted(values)}"
        )


def _paraphrases(rng: random.Random, topic: Topic, values: dict[str, str], n: int) -> list[str]:
    """``n`` distinct wordings: the question templates cycled, with varied openers and closers."""
    phrases = common_phrases()
    templates = list(topic.questions)
    rng.shuffle(templates)
    out: list[str] = []
    seen: set[str] = set()
    attempts = 0
    while len(out) < n:
        base = templates[len(out) % len(templates)].format(**values)
        opener, closer = rng.choice(phrases.openers), rng.choice(phrases.closers)
        text = worded(base, opener, closer)
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
    topic: Topic,
    values: dict[str, str],
    when: datetime,
    noise_share: float,
    eval_share: float,
) -> DemoExample:
    interaction_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    edit_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    vague = rng.choice(topic.vague + common_phrases().generic_vague)
    # A vague answer may guess a one-year warranty whatever the topic's values hold.
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
    user_id = f"user-{rng.randint(1, 400):04d}"
    channel = rng.choice(TRAFFIC_CHANNELS)
    interaction = {
        "id": interaction_id,
        "tenant_id": spec.tenant_id,
        "agent_id": spec.agent_for(channel),
        "user_id": user_id,
        "input_text": question,
        "output_text": output_text,
        "model_version": spec.model_version,
        "channel": channel,
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
    return DemoExample(interaction, self_edit, qid, facts, split_of(interaction_id, eval_share))


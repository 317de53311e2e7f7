"""What makes a demo domain's traffic look like production's: three kinds of editors, customers' details.

The generator (:mod:`aion_assets.demo.generator`) draws the questions, ids, splits, answers and
rewards with one seeded random generator; this module changes the generated examples afterwards
with generators of its own (seeded from the company and seed too), so adding it moved none of
those draws: the held-out questions, the scenario files and every id stay what they were.

- **Editors** (``self_edits.editor_type``): on the topics the tenant's canned-answer rules cover
  (``spec.rule_topics``) half the corrections are ``rule`` edits (the approved article, a fixed
  reward); the others are ``human`` (about two in three) or ``model`` edits (a larger model's
  correction, scored by a reward model); the low-reward noise comes mostly from the model.
- **Customers' details**: ``spec.pii_share`` of the *training* interactions quote the customer's
  name, e-mail, phone number, street address or the tenant's own reference ("order AC-1234567")
  in a sentence before or after the question (``common.yaml``'s ``customers``). Held-out
  (evaluation) questions stay as they are, so the evaluation set does not move.
- **Uncorrected traffic** (:func:`uncorrected_traffic`): most real interactions are answered well
  enough that nobody edits them. About ``uncorrected_per_question`` of them per question (other
  wordings of the training questions, and questions about the builder's entities left out of the
  question set), answered in the house style, routed by channel like the rest, ``spec.pii_share``
  of them quoting a customer; never a held-out paraphrase. They have no self-edit, so curation
  (approved edits only) never reads them: the dataset is the same with or without them.
"""

from __future__ import annotations

import dataclasses
import random
import string
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aion_assets.core.errors import ConfigError
from aion_assets.demo.loader import CustomerRef, Customers, Topic, common_phrases
from aion_assets.demo.objects import DemoExample, DemoInteraction, DomainSpec

#: Share of rule edits on the topics a tenant's rules cover.
RULE_SHARE = 0.5
#: Share of model edits among the other corrections, and among the noise.
MODEL_SHARE = 0.35
MODEL_NOISE_SHARE = 0.6
#: A rule has no judge: its reward is the confidence the tenant gives its rules.
RULE_REWARD = 0.8
#: The channels traffic comes in on, web twice as often as any other (each goes to its agent).
TRAFFIC_CHANNELS: tuple[str, ...] = ("web", "web", "app", "email", "chat")


def with_editors(
    examples: Sequence[DemoExample], spec: DomainSpec, kinds: Mapping[str, str], key: str
) -> list[DemoExample]:
    """EXAMPLES with each edit's ``editor_type`` (and a rule's reason and reward) decided.

    Args:
        kinds: question id -> topic kind (``rule_topics`` names kinds).
        key: the company name and seed (``"acme/support:7"``); the same key gives the same editors.
    """
    rng = random.Random(f"{key}:editors")
    out = []
    for e in examples:
        edit = dict(e.self_edit)
        noisy = edit["reason_code"] != "factual_correction"
        draw = rng.random()
        if noisy:
            editor = "model" if draw < MODEL_NOISE_SHARE else "human"
        elif kinds.get(e.question_id) in spec.rule_topics and draw < RULE_SHARE:
            editor = "rule"
        else:
            editor = "model" if rng.random() < MODEL_SHARE else "human"
        edit["editor_type"] = editor
        if editor == "rule":
            edit.update(reason_code="canned_answer", reward_score=RULE_REWARD)
        if editor != "human":
            name = f"{spec.tenant_id}-kb-rules" if editor == "rule" else f"{spec.tenant_id}-corrector-model"
            edit["metadata"] = {**edit["metadata"], "editor": name}
        out.append(dataclasses.replace(e, self_edit=edit))
    return out


def with_customers(examples: Sequence[DemoExample], spec: DomainSpec, key: str) -> list[DemoExample]:
    """EXAMPLES with ``spec.pii_share`` of the training questions quoting a customer's details.

    The quoted values are in each example's ``pii`` (what the scrubber must remove); the
    interaction's metadata says which kinds (``pii``: ``["name", "email", ...]``), never a value.
    """
    if not spec.pii_share or spec.customer_ref is None:
        return list(examples)
    customers = common_phrases().customers
    rng = random.Random(f"{key}:customers")
    out = []
    for e in examples:
        if e.split != "train" or rng.random() >= spec.pii_share:
            out.append(e)
            continue
        inter, quoted = quoting_customer(rng, customers, spec.customer_ref, e.interaction)
        out.append(dataclasses.replace(e, interaction=inter, pii=quoted))
    return out


def quoting_customer(
    rng: random.Random, customers: Customers, ref: CustomerRef, interaction: Mapping[str, Any]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """INTERACTION with an invented customer's details in a sentence before or after its question,
    and the values quoted (what the scrubber must remove); its metadata's ``pii`` names the kinds."""
    values = customer(rng, customers, ref)
    before = rng.random() < 0.5
    template = rng.choice(customers.before if before else customers.after)
    used = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    sentence = template.format(**values)
    inter = dict(interaction)
    inter["input_text"] = sentence + inter["input_text"] if before else inter["input_text"] + sentence
    inter["metadata"] = {**inter["metadata"], "pii": used}
    quoted = tuple(dict.fromkeys(values[f"{u}_value"] if f"{u}_value" in values else values[u] for u in used))
    return inter, quoted


def customer(rng: random.Random, customers: Customers, ref: CustomerRef) -> dict[str, str]:
    """An invented customer's details: ``name``, ``email``, ``phone``, ``address`` and ``ref``
    (with its label, "order AC-1234567"; ``ref_value`` is the bare reference)."""
    first, last = rng.choice(customers.first_names), rng.choice(customers.last_names)
    number = f"{ref.prefix}{rng.randrange(10 ** (ref.digits - 1), 10**ref.digits)}"
    return {
        "name": f"{first} {last}",
        "email": f"{first}.{last}@{rng.choice(customers.mail_domains)}".lower(),
        # 555-01xx numbers are reserved for fiction.
        "phone": f"+1 {rng.randint(201, 989)} 555 01{rng.randint(0, 99):02d}",
        "address": f"{rng.randint(2, 180)} {rng.choice(customers.streets)}, {rng.choice(customers.towns)}",
        "ref": f"{ref.label} {number}",
        "ref_value": number,
    }


def worded(question: str, opener: str, closer: str) -> str:
    """QUESTION as a customer types it: OPENER ("Hi, ") and CLOSER (" Thanks!") around it, its first
    letter lowered after an opener (but not in "I ..." / "I'm ...")."""
    if opener and not question.startswith(("I ", "I'm")):
        question = question[0].lower() + question[1:]
    return opener + question + closer


@dataclass(frozen=True)
class Asked:
    """Something customers ask about: a question id, its topic and values, the house answer's body."""

    question_id: str
    topic: Topic
    values: dict[str, str]
    body: str


def uncorrected_traffic(
    spec: DomainSpec,
    asked: Sequence[Asked],
    examples: Sequence[DemoExample],
    key: str,
    n: int,
) -> list[DemoInteraction]:
    """N interactions nobody corrected: questions of ASKED, answered well in the house style.

    Each is a wording of an ASKED question (its templates with the customers' openers and
    closers), from a random user, on a random channel (and its agent), at a random time within
    the span of EXAMPLES; ``spec.pii_share`` of them quote a customer's details. No wording
    contains a held-out (``eval`` split) question of EXAMPLES, so the evaluation does not see
    them. Ids and draws come from generators seeded with KEY of their own, so EXAMPLES (and
    every id, split and held-out question) do not depend on them.

    Raises:
        ConfigError: N is negative, or ASKED or EXAMPLES is empty while N is not.
    """
    if n < 0:
        raise ConfigError(f"the number of uncorrected interactions must be at least 0, got {n}")
    if not n:
        return []
    if not asked or not examples:
        raise ConfigError(
            "uncorrected traffic: no training question to ask (every paraphrase is held out); "
            "lower eval_share, raise n_facts or pass uncorrected_per_question=0"
        )
    phrases = common_phrases()
    held_out = {e.interaction["input_text"] for e in examples if e.split == "eval"}
    times = [datetime.fromisoformat(e.interaction["timestamp"]) for e in examples]
    first, span = min(times), (max(times) - min(times)).total_seconds()
    rng = random.Random(f"{key}:uncorrected")
    out: list[DemoInteraction] = []
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 50 * n:
            raise ConfigError(
                "uncorrected traffic: no wording left that is not a held-out question; "
                "lower eval_share or pass uncorrected_per_question=0"
            )
        item = rng.choice(asked)
        text = worded(
            rng.choice(item.topic.questions).format(**item.values),
            rng.choice(phrases.openers),
            rng.choice(phrases.closers),
        )
        if any(h in text for h in held_out):
            continue
        channel = rng.choice(TRAFFIC_CHANNELS)
        when = first + timedelta(seconds=round(rng.uniform(0.0, span)))
        interaction = {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "tenant_id": spec.tenant_id,
            "agent_id": spec.agent_for(channel),
            "user_id": f"user-{rng.randint(1, 400):04d}",
            "input_text": text,
            "output_text": spec.style.wrap(item.body),
            "model_version": spec.model_version,
            "channel": channel,
            "timestamp": when.isoformat(),
            "metadata": {"domain": spec.domain, "question_id": item.question_id},
        }
        out.append(DemoInteraction(interaction, item.question_id))
    return _with_customers_quoted(out, spec, key)


def _with_customers_quoted(
    traffic: Sequence[DemoInteraction], spec: DomainSpec, key: str
) -> list[DemoInteraction]:
    """TRAFFIC with ``spec.pii_share`` of it quoting a customer (none of it is held out)."""
    if not spec.pii_share or spec.customer_ref is None:
        return list(traffic)
    customers = common_phrases().customers
    rng = random.Random(f"{key}:uncorrected-customers")
    out = []
    for t in traffic:
        if rng.random() >= spec.pii_share:
            out.append(t)
            continue
        inter, quoted = quoting_customer(rng, customers, spec.customer_ref, t.interaction)
        out.append(dataclasses.replace(t, interaction=inter, pii=quoted))
    return out

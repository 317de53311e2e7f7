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
"""

from __future__ import annotations

import dataclasses
import random
import string
from collections.abc import Mapping, Sequence

from aion_assets.demo.loader import CustomerRef, Customers, common_phrases
from aion_assets.demo.objects import DemoExample, DomainSpec

#: Share of rule edits on the topics a tenant's rules cover.
RULE_SHARE = 0.5
#: Share of model edits among the other corrections, and among the noise.
MODEL_SHARE = 0.35
MODEL_NOISE_SHARE = 0.6
#: A rule has no judge: its reward is the confidence the tenant gives its rules.
RULE_REWARD = 0.8


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
        values = customer(rng, customers, spec.customer_ref)
        before = rng.random() < 0.5
        template = rng.choice(customers.before if before else customers.after)
        used = [name for _, name, _, _ in string.Formatter().parse(template) if name]
        sentence = template.format(**values)
        inter = dict(e.interaction)
        inter["input_text"] = sentence + inter["input_text"] if before else inter["input_text"] + sentence
        inter["metadata"] = {**inter["metadata"], "pii": used}
        quoted = tuple(dict.fromkeys(values[f"{u}_value"] if f"{u}_value" in values else values[u] for u in used))
        out.append(dataclasses.replace(e, interaction=inter, pii=quoted))
    return out


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

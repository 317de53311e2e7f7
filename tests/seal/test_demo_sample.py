"""Protects: the demo sample looks like production traffic (issue 14). Each demo tenant has two
agents, both configured in its domain (so the route table routes both) and both with real
traffic; self-edits come from all three editor types (human, model, rule) in plausible shares;
some training questions quote customers' details (names, e-mails, phones, addresses, the
tenant's order or account numbers) while no held-out question does; and the pipeline's own
curation and scrubbing, with the policy the demo tenant configures and the vocabulary learned
from its answers, leaves none of those values in the curated rows."""

from __future__ import annotations

from collections import Counter

import pytest

from aion_assets.demo import DOMAINS, generate_domain
from aion_assets.memory.models import Tenant
from aion_assets.memory.scrub.engine import get_scrubber
from aion_assets.memory.scrub.policy import VocabularySettings, scrub_policy
from aion_assets.seal.datasets.curate import scrub_examples
from aion_assets.seal.datasets.tenant_config import validate_tenant_config
from aion_assets.seal.datasets.vocabulary import Answer, learn_vocabulary
from aion_assets.seal.promotion import agents_of


@pytest.mark.parametrize("name", DOMAINS)
def test_two_agents_three_editors_and_pii_in_training_questions_only(name: str) -> None:
    d = generate_domain(name)
    agents = Counter(e.interaction["agent_id"] for e in d.examples)
    assert len(agents) == 2 and set(agents) == set(d.spec.agents), agents
    assert min(agents.values()) >= 0.1 * len(d.examples), agents
    # Both agents are in the tenant's domain: the promotion decision and route table name both.
    config = validate_tenant_config(d.spec.tenant_id, {"agents": d.agents_config(), "scrub": d.scrub_config()})
    assert agents_of(config, d.spec.domain) == sorted(agents)

    editors = Counter(e.self_edit["editor_type"] for e in d.examples)
    assert set(editors) == {"human", "model", "rule"}, editors
    assert editors["human"] > editors["model"] > 0.05 * len(d.examples), editors
    assert editors["rule"] > 0.05 * len(d.examples), editors
    # Every editor's approved corrections are usable (curation keeps each kind).
    curated = Counter(r["metadata"]["editor_type"] for r in d.curated_rows())
    assert set(curated) == {"human", "model", "rule"}, curated

    quoting = [e for e in d.examples if e.pii]
    assert 0.08 * len(d.examples) < len(quoting) < 0.25 * len(d.examples)
    assert all(e.split == "train" for e in quoting)  # the held-out questions are untouched
    assert all(v in e.interaction["input_text"] for e in quoting for v in e.pii)
    kinds = Counter(k for e in quoting for k in e.interaction["metadata"]["pii"])
    assert set(kinds) == {"name", "email", "phone", "address", "ref"}, kinds


@pytest.mark.parametrize("name", DOMAINS)
def test_scrubbing_removes_every_quoted_value_from_the_curated_rows(name: str) -> None:
    d = generate_domain(name)
    answers = [
        Answer(i["user_id"], i["input_text"], (i["output_text"], e.self_edit["edited_output"]))
        for e in d.examples
        for i in [e.interaction]
    ]
    vocab = learn_vocabulary(d.spec.tenant_id, answers, VocabularySettings())
    tenant = Tenant.model_validate(
        {"tenant_id": d.spec.tenant_id, "config": {"scrub": d.scrub_config()},
         "created_at": d.examples[0].interaction["timestamp"], "retention_days": None, "adaptation_opt_out": False}
    )
    policy = scrub_policy(tenant, vocab.terms)
    quoting = [e for e in d.examples if e.pii and e.self_edit["status"] == "approved"]
    rows = list(scrub_examples((d.example_of(e) for e in quoting), get_scrubber(), policy))
    removed: Counter[str] = Counter()
    for (row, counts), e in zip(rows, quoting, strict=True):
        removed.update(counts)
        texts = " ".join((row.prompt, row.response, *(row.facts or ())))
        surnames = [v.split()[-1] for v, kind in zip(e.pii, e.interaction["metadata"]["pii"], strict=True)
                    if kind == "name"]
        left = [v for v in (*e.pii, *surnames) if v in texts]
        assert not left, (left, row.prompt)
    ref = d.spec.customer_ref
    assert ref is not None
    assert removed["PERSON"] >= len(quoting) and removed[ref.entity_type] > 0, removed
    assert {"EMAIL_ADDRESS", "PHONE_NUMBER", "STREET_ADDRESS"} <= set(removed), removed

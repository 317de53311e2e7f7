"""Protects: the demo sample looks like production traffic (issue 14). Each demo tenant has two
agents, both configured in its domain (so the route table routes both) and both with real
traffic; self-edits come from all three editor types (human, model, rule) in plausible shares;
some training questions quote customers' details (names, e-mails, phones, addresses, the
tenant's order or account numbers) while no held-out question does; and the pipeline's own
curation and scrubbing, with the policy the demo tenant configures and the vocabulary learned
from its answers, leaves none of those values in the curated rows. Most of the traffic is
uncorrected (about 1,500 interactions per tenant in all): spread over both agents by channel,
quoting customers as often, never a held-out question, seeded, and moving no draw of the
corrected sample (ids, splits, held-out questions, scenarios), whose curated rows it leaves as
they are."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest

from aion_assets.demo import DOMAINS, generate_domain, scenario_items
from aion_assets.demo.traffic import TRAFFIC_CHANNELS
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


@pytest.mark.parametrize("name", DOMAINS)
def test_uncorrected_traffic_is_most_of_it_on_both_agents_with_pii_and_no_held_out_question(name: str) -> None:
    d = generate_domain(name)
    corrected, uncorrected = [e.interaction for e in d.examples], [u.interaction for u in d.uncorrected]
    assert len(corrected) == 480 and len(uncorrected) == 1040 and len(d.interactions()) == 1520
    ids = [i["id"] for i in d.interactions()]
    assert len(set(ids)) == len(ids)
    assert not {i["id"] for i in uncorrected} & {e["interaction_id"] for e in d.self_edits()}  # no edit

    # Routed by channel as the corrected traffic is: both agents, in about the same shares.
    assert all(i["channel"] in TRAFFIC_CHANNELS and i["agent_id"] == d.spec.agent_for(i["channel"])
               for i in uncorrected)
    share = {a: n / len(uncorrected) for a, n in Counter(i["agent_id"] for i in uncorrected).items()}
    before = {a: n / len(corrected) for a, n in Counter(i["agent_id"] for i in corrected).items()}
    assert set(share) == set(d.spec.agents) and min(share.values()) >= 0.1, share
    assert all(abs(share[a] - before[a]) < 0.06 for a in share), (share, before)

    # About one in six quotes a customer, every kind of detail, each value in the question.
    quoting = [u for u in d.uncorrected if u.pii]
    assert 0.12 * len(uncorrected) < len(quoting) < 0.21 * len(uncorrected), len(quoting)
    assert all(v in u.interaction["input_text"] for u in quoting for v in u.pii)
    kinds = {k for u in quoting for k in u.interaction["metadata"]["pii"]}
    assert kinds == {"name", "email", "phone", "address", "ref"}, kinds
    assert not any("pii" in u.interaction["metadata"] for u in d.uncorrected if not u.pii)

    # Never a held-out paraphrase (nor a scenario prompt), even inside a longer message.
    held_out = {e.interaction["input_text"] for e in d.examples if e.split == "eval"}
    held_out |= {s["prompt"] for s in scenario_items(d, 20)}
    assert held_out
    assert not [i["input_text"] for i in uncorrected if any(h in i["input_text"] for h in held_out)]

    # Training questions (and entities outside the question set) answered well: the house answer.
    bodies = {q.question_id: q.body for q in d.questions}
    trained = {e.question_id for e in d.examples if e.split == "train"}
    asked = Counter(u.question_id for u in d.uncorrected)
    assert len(asked) > 0.8 * len(d.questions)
    assert all(q in trained or "-x" in q for q in asked), asked
    for u in d.uncorrected:
        out = u.interaction["output_text"]
        assert d.style.adheres(out)
        if u.question_id in bodies:
            assert out == d.style.wrap(bodies[u.question_id])
    # Within the corrected traffic's span, from many users.
    times = [datetime.fromisoformat(i["timestamp"]) for i in corrected]
    assert all(min(times) <= datetime.fromisoformat(i["timestamp"]) <= max(times) for i in uncorrected)
    assert len({i["user_id"] for i in uncorrected}) > 200


@pytest.mark.parametrize("name", DOMAINS)
def test_uncorrected_traffic_is_seeded_and_moves_no_draw_of_the_corrected_sample(name: str) -> None:
    d, again, without = generate_domain(name), generate_domain(name), generate_domain(name, uncorrected_per_question=0)
    assert d.uncorrected == again.uncorrected
    assert generate_domain(name, seed=8).uncorrected != d.uncorrected
    assert without.uncorrected == () and len(without.interactions()) == 480
    # Ids, splits, texts, edits, held-out questions and scenarios are those of the sample without it.
    assert d.examples == without.examples and d.questions == without.questions
    assert scenario_items(d, 20) == scenario_items(without, 20)
    # What trains is the approved edits only: the same rows with and without the uncorrected traffic.
    assert d.curated_rows() == without.curated_rows() and len(d.curated_rows()) > 400
    assert d.self_edits() == without.self_edits()

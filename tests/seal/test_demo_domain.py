"""Protects: the demo domains that show the loop really learns: generation is deterministic per
seed, the train/eval split is the pipeline's (``rows.split_of``, a stable function of the
interaction id) and both splits cover the facts, corrections state the facts in the house style
while the base-style answers do not, the curated JSONL rows are the pipeline's row contract
(``rows.Example``), and the committed scenario files are what the generator produces."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from aion_assets.core.errors import ConfigError
from aion_assets.demo import (
    DEFAULT_EVAL_SHARE,
    DOMAINS,
    generate_demo_domain,
    generate_domain,
    scenario_items,
    write_curated_jsonl,
    write_scenarios_yaml,
)
from aion_assets.seal.datasets.rows import Example, split_of
from aion_assets.seal.evaluation.metrics import fact_recall
from aion_assets.seal.evaluation.scenarios import load_for

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", DOMAINS)
def test_same_seed_same_domain_other_seed_other_domain(name: str) -> None:
    a, b = generate_domain(name, seed=11, n_facts=30), generate_domain(name, seed=11, n_facts=30)
    assert a == b
    c = generate_domain(name, seed=12, n_facts=30)
    assert [q.body for q in a.questions] != [q.body for q in c.questions]
    assert {e.interaction["id"] for e in a.examples}.isdisjoint({e.interaction["id"] for e in c.examples})


def test_split_is_a_stable_function_of_the_id() -> None:
    # The demo uses the pipeline's split (one split function): the default share is the pipeline's.
    assert DEFAULT_EVAL_SHARE == 0.2
    ids = [str(uuid.UUID(int=i * 7919 + 1, version=4)) for i in range(4000)]
    splits = [split_of(i, DEFAULT_EVAL_SHARE) for i in ids]
    assert splits == [split_of(i, DEFAULT_EVAL_SHARE) for i in ids]
    share = splits.count("eval") / len(splits)
    assert 0.17 < share < 0.23
    # A larger eval share only moves examples from train to eval, never back.
    assert all(split_of(i, 0.3) == "eval" for i, s in zip(ids, splits, strict=True) if s == "eval")
    # An impossible share is refused by the generator (split_of itself does not validate).
    for bad in (1.5, 1.0, 0.0):
        with pytest.raises(ConfigError, match="eval_share"):
            generate_domain("acme/support", n_facts=2, eval_share=bad)


@pytest.mark.parametrize("name", DOMAINS)
def test_domain_shape_and_split_coverage(name: str) -> None:
    d = generate_domain(name)  # defaults: 80 facts x 6 paraphrases
    assert len(d.questions) == 80 and len(d.examples) == 480
    assert len({e.interaction["input_text"] for e in d.examples}) == 480  # paraphrases are distinct
    for e in d.examples:
        assert e.split == split_of(e.interaction["id"], d.eval_share)
        assert e.self_edit["interaction_id"] == e.interaction["id"]
        assert e.interaction["metadata"]["domain"] == d.spec.domain
        assert e.interaction["metadata"]["facts"] == list(e.facts)
        assert 0.0 <= e.self_edit["reward_score"] <= 1.0
    coverage = d.coverage()
    assert coverage["train"] == 80  # every fact can be learned
    assert coverage["both"] >= 50  # and most are tested on held-out paraphrases
    train, evals = d.curated_rows("train"), d.curated_rows("eval")
    assert {r["metadata"]["interaction_id"] for r in train}.isdisjoint(
        r["metadata"]["interaction_id"] for r in evals
    )
    assert 0.15 < len(evals) / (len(train) + len(evals)) < 0.25


@pytest.mark.parametrize("name", DOMAINS)
def test_edits_teach_facts_and_style_that_the_base_answers_lack(name: str) -> None:
    d = generate_domain(name)
    good = [
        e for e in d.examples if e.self_edit["status"] == "approved" and e.self_edit["reward_score"] >= 0.6
    ]
    noise = [e for e in d.examples if e not in good]
    assert len(good) > 0.9 * len(d.examples)
    assert 0 < len(noise) < 0.1 * len(d.examples)  # a few low-reward / rejected edits as real data has
    for e in good:
        assert d.style.adheres(e.self_edit["edited_output"])
        assert fact_recall(e.self_edit["edited_output"], e.facts) == 1.0
    base_recall = sum(fact_recall(e.interaction["output_text"], e.facts) or 0.0 for e in d.examples) / len(
        d.examples
    )
    assert base_recall < 0.05
    assert not any(d.style.adheres(e.interaction["output_text"]) for e in d.examples)


def test_the_two_domains_differ() -> None:
    acme, globex = generate_domain("acme/support"), generate_domain("globex/billing")
    assert (acme.spec.tenant_id, acme.spec.domain) == ("acme", "support")
    assert (globex.spec.tenant_id, globex.spec.domain) == ("globex", "billing")
    assert acme.style != globex.style
    assert {q.kind for q in acme.questions}.isdisjoint({q.kind for q in globex.questions})
    with pytest.raises(ConfigError, match="unknown demo domain"):
        generate_domain("initech/sales")


def test_curated_jsonl_format(tmp_path: Path) -> None:
    d = generate_demo_domain(n_facts=20, paraphrases_per_question=5)
    paths = write_curated_jsonl(d, tmp_path)
    rows = {s: [json.loads(x) for x in p.read_text().splitlines()] for s, p in paths.items()}
    assert rows["train"] and rows["eval"]
    for split, split_rows in rows.items():
        for row in split_rows:
            # The pipeline's row contract (rows.Example.to_row): one row shape for demo and pipeline.
            assert set(row) == {"id", "prompt", "response", "metadata", "messages"}
            assert row == Example.from_row(row).to_row(split)
            assert row["id"] == row["metadata"]["interaction_id"]
            assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
            assert row["messages"][0]["content"] == d.spec.system_prompt
            assert row["messages"][1]["content"] == row["prompt"]
            assert row["messages"][2]["content"] == row["response"]
            assert row["metadata"]["split"] == split == split_of(row["metadata"]["interaction_id"], DEFAULT_EVAL_SHARE)
            assert row["metadata"]["reward_score"] >= 0.5 and row["metadata"]["facts"]
    assert write_curated_jsonl(d, tmp_path / "again")["train"].read_bytes() == paths["train"].read_bytes()


def test_scenarios_come_from_held_out_paraphrases_and_match_the_repo_files(tmp_path: Path) -> None:
    for name in DOMAINS:
        tenant, domain = name.split("/")
        d = generate_domain(name)
        items = scenario_items(d, 12)
        assert len(items) == 12 and len({i["prompt"] for i in items}) == 12
        eval_prompts = {e.interaction["input_text"] for e in d.examples if e.split == "eval"}
        assert all(i["prompt"] in eval_prompts for i in items)
        fresh = write_scenarios_yaml(d, tmp_path / tenant / f"{domain}.yaml")
        committed = REPO / "tests" / "llm_evals" / tenant / f"{domain}.yaml"
        assert committed.read_text() == fresh.read_text(), f"regenerate {committed} with write_scenarios_yaml"
        suite = load_for(tenant, domain, root=tmp_path)
        assert suite.style == d.style and len(suite) == 12


@pytest.mark.parametrize("name", DOMAINS)
def test_learned_vocabulary_keeps_the_catalog_and_the_house_frame(name: str) -> None:
    # Presidio's NER takes invented names ("Acme Support", "Helix 20") for persons or places. The
    # demo tenant lists only its company name; the rest is learned from its answers (issue 11).
    from aion_assets.memory.models import Tenant
    from aion_assets.memory.scrub.engine import get_scrubber
    from aion_assets.memory.scrub.policy import VocabularySettings, scrub_policy
    from aion_assets.seal.datasets.vocabulary import Answer, learn_vocabulary

    d = generate_domain(name)
    assert d.scrub_allow_list() == [d.spec.company]
    answers = [
        Answer(i["user_id"], i["input_text"], (i["output_text"], e.self_edit["edited_output"]))
        for e in d.examples
        for i in [e.interaction]
    ]
    vocab = learn_vocabulary(d.spec.tenant_id, answers, VocabularySettings())
    config = {"scrub": {"allow_list": d.scrub_allow_list()}}
    tenant = Tenant.model_validate(
        {"tenant_id": d.spec.tenant_id, "config": config, "created_at": d.examples[0].interaction["timestamp"]}
        | {"retention_days": None, "adaptation_opt_out": False}
    )
    policy = scrub_policy(tenant, vocab.terms)
    answers_out = [d.style.wrap(q.body) for q in d.questions]
    assert [r.text for r in get_scrubber().scrub_many(answers_out, policy)] == answers_out
    # Questions: stock NER sometimes takes a customer's ordinary word beside a code for a name
    # ("latest BV-6010"), which no answer's vocabulary covers; nearly all survive whole.
    prompts = [q.paraphrases[0] for q in d.questions]
    kept = sum(r.text == p for r, p in zip(get_scrubber().scrub_many(prompts, policy), prompts, strict=True))
    assert kept >= 0.95 * len(prompts)

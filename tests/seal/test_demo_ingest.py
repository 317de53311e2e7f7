"""Protects: one row shape for the demo and the pipeline. A demo domain posted through the HTTP
API (``demo.ingest.post_domain``, then the scripted reviewer ``review_domain``: the path ``aion demo``
uses) and curated by the pipeline's own ``curate`` gives exactly the demo's ``curated_rows`` (same
ids, texts, facts, timestamps and split), on SQLite and PostgreSQL; the uncorrected traffic is
stored with the rest but changes neither those rows nor what the vocabulary learns from; and
posting and reviewing the sample again stores and decides nothing new."""

from __future__ import annotations

import dataclasses

from aion_assets.app import create_app
from aion_assets.core.auth import TokenVerifier, mint_token
from aion_assets.core.db import make_engine
from aion_assets.core.serve import serve_in_thread
from aion_assets.demo import DEFAULT_EVAL_SHARE, DemoDomain, generate_domain
from aion_assets.demo.ingest import configure_demo_tenant, post_domain, review_domain
from aion_assets.memory.client import MemoryClient
from aion_assets.memory.store import MemoryStore
from aion_assets.seal.datasets.curate import curate
from aion_assets.seal.datasets.rows import split_of
from aion_assets.seal.datasets.vocabulary import answers_of
from tests.conftest import Database

SECRET = "demo-ingest-secret-" + "d" * 24


def _small_domain(tenant: str, uncorrected_per_question: int = 13) -> DemoDomain:
    # Seed 4: 30 corrected interactions (and 130 uncorrected), 4 rejected edits and 6 eval ids
    # (fixed, so the assertions below cannot flake); a fresh tenant keeps other tests' "globex"
    # rows out of the comparison. (The tenant id is in the spec only, so the generated traffic
    # keeps the template's; post_domain sends no tenant id, the token's is used.)
    d = generate_domain("globex/billing", seed=4, n_facts=10, paraphrases_per_question=3, noise_share=0.2,
                        uncorrected_per_question=uncorrected_per_question)
    return dataclasses.replace(d, spec=dataclasses.replace(d.spec, tenant_id=tenant))


def test_posted_sample_curates_to_the_demo_rows(database: Database, tenant: str) -> None:
    domain = _small_domain(tenant)
    engine = make_engine(database.url)
    store = MemoryStore(engine)
    owner = make_engine(database.admin_url)  # tenant settings change only through the schema owner
    configure_demo_tenant(MemoryStore(owner), domain)
    owner.dispose()
    token = mint_token(SECRET, tenant_id=tenant, roles=["writer", "reviewer"], subject=f"demo@{tenant}")
    app = create_app(make_engine(database.url), TokenVerifier(SECRET))
    with serve_in_thread(app) as base, MemoryClient(base, token) as client:
        post_domain(client, domain, review=False)
        assert store.counts(tenant)["edits"]["pending"] == len(domain.examples)
        reviewer = f"demo@{tenant}"  # the token's subject
        reviewed = review_domain(client, domain, reviewer=reviewer)
        counts = store.counts(tenant)
        post_domain(client, domain, review=False)  # fixed ids: nothing new
        assert review_domain(client, domain, reviewer=reviewer) == {"approved": 0, "rejected": 0}  # no second review
        post_domain(client, domain)
        assert store.counts(tenant) == counts

    decided = [e.self_edit["status"] for e in domain.examples]
    # Every interaction, corrected or not, stored once (the second post stored no duplicate).
    assert len(domain.examples) == 30 and len(domain.uncorrected) == 130
    assert counts["interactions"] == len(domain.interactions()) == 160
    assert counts["edits"]["approved"] == decided.count("approved") == reviewed["approved"]
    assert reviewed["rejected"] == decided.count("rejected")
    assert counts["edits"]["rejected"] == decided.count("rejected") > 0  # the noise reached the store

    tenant_config = store.get_tenant(tenant).config  # type: ignore[union-attr]
    pipeline = [
        ex.to_row(split_of(ex.interaction_id, DEFAULT_EVAL_SHARE))
        for ex in curate(store.iter_approved_edits(tenant), tenant_config=tenant_config, min_reward=0.5)
    ]
    demo = sorted(domain.curated_rows(), key=lambda r: r["id"])
    assert demo and pipeline == demo
    assert {r["metadata"]["split"] for r in demo} == {"train", "eval"}
    # What trains does not depend on the uncorrected traffic: the rows of the sample without it,
    # and the vocabulary learns from the approved edits' answers only.
    assert pipeline == sorted(_small_domain(tenant, 0).curated_rows(), key=lambda r: r["id"])
    learned_from = sorted(a.message for a in answers_of(store.iter_approved_edits(tenant, min_reward=0.0)))
    approved = [e.interaction["input_text"] for e in domain.examples if e.self_edit["status"] == "approved"]
    assert learned_from == sorted(approved)
    engine.dispose()

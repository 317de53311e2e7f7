"""Protects: a tenant the project has never seen goes through the loop with nothing configured (issue 11).

The third generator (``velocia/service``: an e-bike service desk whose product, partner and menu
names the scrubber was never tuned on; long answers with numbered steps and several numbers) is
posted through the HTTP API under a fresh tenant with no tenant configuration at all, then
``aion_assets.runs.run_partition`` (what ``aion seal run`` calls) learns its vocabulary, scrubs,
builds the dataset (every blocking check passes, ``no_pii_left`` included) and trains an adapter
of the tiny test model. The share of the company's catalogue terms kept in the dataset's responses
is at least 0.98 (issue 11's target; printed).

Known limit (scrub engine, issue 11 part A): the engine may detect a value in one place of a text
and not in another ("If B41 comes back" vs "Error B41 on"); a value below the vocabulary's K
users then stays half-scrubbed and the PII check's probe blocks the run, rightly. The traffic here
is large enough that every error code is vocabulary; the engine should replace every occurrence
of a value it detected once in a text.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.seal.conftest import build_tiny_llama

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::dagster.PreviewWarning")]
SECRET = "stranger-tenant-secret-" + "s" * 20


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The embedded default (SQLite, local artifacts) with the tiny Llama as the only base model."""
    from aion_assets.core.settings import get_settings

    for key in [k for k in os.environ if k.startswith("AION_")]:
        monkeypatch.delenv(key)
    tiny = build_tiny_llama(tmp_path / "tiny")
    config = {
        "base_models": {"tiny": {"path": str(tiny)}},
        "defaults": {
            "base_model": "tiny",
            "hyperparameters": {
                "r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"], "max_steps": 2,
                "max_train_minutes": 2, "batch_size": 4, "max_seq_len": 96, "precision": "fp32",
            },
        },
    }
    (tmp_path / "seal.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "dagster").mkdir()
    monkeypatch.setenv("AION_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AION_SEAL_CONFIG", str(tmp_path / "seal.yaml"))
    monkeypatch.setenv("AION_SCENARIOS_DIR", str(tmp_path / "scenarios"))
    monkeypatch.setenv("AION_JWT_SECRET", SECRET)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def _occurrences(term: str, text: str) -> int:
    return len(re.findall(r"(?<!\w)" + re.escape(term) + r"(?!\w)", text))


def test_a_tenant_never_seen_runs_the_loop_unconfigured(embedded: Any) -> None:
    from aion_assets.app import create_app
    from aion_assets.core.artifacts import artifact_store_from_uri
    from aion_assets.core.auth import TokenVerifier, mint_token
    from aion_assets.core.db import make_engine
    from aion_assets.core.migrate import upgrade
    from aion_assets.core.serve import serve_in_thread
    from aion_assets.demo import generate_domain
    from aion_assets.demo.domains import STRANGER_DOMAINS
    from aion_assets.demo.ingest import post_domain
    from aion_assets.memory.client import MemoryClient
    from aion_assets.memory.store import MemoryStore
    from aion_assets.runs import run_partition

    settings = embedded
    upgrade(settings.db_url)
    tenant = f"velocia-{uuid.uuid4().hex[:8]}"
    # 8 customers ask each question (640 interactions): every error code then reaches K = 5 users.
    # With 6, a code answered to 4 users is (rightly) no vocabulary, stock NER flags only one of its
    # mentions in an answer, and no_pii_left's probe blocks the run: see the module docstring.
    domain = generate_domain(STRANGER_DOMAINS[0], paraphrases_per_question=8)
    domain = dataclasses.replace(domain, spec=dataclasses.replace(domain.spec, tenant_id=tenant))
    engine = make_engine(settings.db_url)
    token = mint_token(SECRET, tenant_id=tenant, roles=["writer", "reviewer"], subject=f"gateway@{tenant}")
    with serve_in_thread(create_app(engine, TokenVerifier(SECRET))) as base, MemoryClient(base, token) as client:
        post_domain(client, domain)  # nothing configured: no agent domain, no allow-list, no curation
    stored = MemoryStore(engine).get_tenant(tenant)
    assert stored is not None and stored.config == {}

    out = run_partition(settings, tenant, domain.spec.domain, max_steps=2, max_eval_rows=8, echo=lambda _m: None)
    assert out["success"], out["failures"]
    dataset_checks = {k: v for k, v in out["checks"].items() if k != "candidate_not_worse_than_baseline"}
    assert dataset_checks and all(dataset_checks.values()), out["checks"]
    assert out["adapter"] and out["adapter"]["version"]

    # The catalogue kept: occurrences of each catalogue term in the curated responses, before and after.
    store = artifact_store_from_uri(settings.artifacts)
    rows = [
        json.loads(line)
        for key in (out["dataset"]["train_key"], out["dataset"]["eval_key"])
        for line in store.get_bytes(str(key)).splitlines()
    ]
    originals = {r["id"]: r["response"] for r in domain.curated_rows()}
    assert {r["id"] for r in rows} == set(originals)
    total = kept = 0
    for row in rows:
        for term in domain.catalog_terms:
            n = _occurrences(term, originals[row["id"]])
            total += n
            kept += min(n, _occurrences(term, row["response"]))
    share = kept / total
    print(f"\nstranger tenant {STRANGER_DOMAINS[0]}: catalogue terms kept {kept}/{total} = {share:.4f}")
    assert total > 1000 and share >= 0.98

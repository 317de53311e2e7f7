"""``GET /datasets/sft`` through HTTP (FastAPI TestClient over the real app), on both backends.

Protects: JSONL rows of the caller's tenant only, scrubbed of PII, one per interaction (best edit),
filtered by min_reward / agent_id / since / split / domain; the same train/eval split as the
dataset asset; 422 naming the bad query parameter; 401/403; the export counter.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from aion_assets.app import create_app
from aion_assets.core.auth import TokenVerifier, mint_token
from aion_assets.core.db import make_engine
from aion_assets.memory.models import EditorType, EditStatus, SelfEditIn
from aion_assets.memory.store import MemoryStore
from aion_assets.seal.datasets.api import router
from aion_assets.seal.datasets.rows import split_of
from tests.conftest import Database
from tests.pipeline.conftest import seed, set_tenant

SECRET = "pipeline-test-secret-" + "y" * 20


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    app = create_app(make_engine(database.url, pool_size=2), TokenVerifier(SECRET))
    app.include_router(router, tags=["datasets"])  # the lead mounts it in create_app
    with TestClient(app) as c:
        yield c


def _auth(tenant: str, *roles: str) -> dict[str, str]:
    token = mint_token(SECRET, tenant_id=tenant, roles=list(roles) or ["reviewer"])
    return {"Authorization": f"Bearer {token}"}


def _rows(response) -> list[dict]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines() if line]


def test_export_streams_scrubbed_rows_of_the_callers_tenant(
    client: TestClient, database: Database, tenant: str
) -> None:
    store = MemoryStore(make_engine(database.url, pool_size=2))
    ids = seed(store, tenant, 12, domain="support", agent_id="bot-a")
    seed(store, tenant, 3, domain="billing", agent_id="bot-b", reward=0.7)
    other = f"other-{uuid.uuid4().hex[:8]}"
    seed(store, other, 4)
    # A second, better edit of the first interaction: it must win.
    best, _ = store.add_self_edit(
        tenant,
        SelfEditIn(interaction_id=ids[0], editor_type=EditorType.human, edited_output="Best answer.", reward_score=1.0),
    )
    store.review_self_edit(tenant, best.id, EditStatus.approved, "r")

    rows = _rows(client.get("/datasets/sft", headers=_auth(tenant)))
    assert len(rows) == 15 and {r["metadata"]["tenant_id"] for r in rows} == {tenant}
    assert len({r["id"] for r in rows}) == 15
    assert next(r for r in rows if r["id"] == str(ids[0]))["response"] == "Best answer."
    text = json.dumps(rows)
    assert "maria.gonzalez+orders@example.com" not in text and "4111 1111 1111 1111" not in text
    for r in rows:
        assert r["metadata"]["split"] == split_of(r["id"], 0.2)
        assert [m["role"] for m in r["messages"]] == ["system", "user", "assistant"]

    billing = _rows(client.get("/datasets/sft?domain=billing", headers=_auth(tenant)))
    assert {r["metadata"]["domain"] for r in billing} == {"billing"}
    assert len(_rows(client.get("/datasets/sft?min_reward=0.8", headers=_auth(tenant)))) == 12
    bot_b = _rows(client.get("/datasets/sft?agent_id=bot-b", headers=_auth(tenant)))
    assert {r["metadata"]["agent_id"] for r in bot_b} == {"bot-b"}
    evals = _rows(client.get("/datasets/sft?split=eval", headers=_auth(tenant)))
    trains = _rows(client.get("/datasets/sft?split=train", headers=_auth(tenant)))
    assert len(evals) + len(trains) == 15 and not {r["id"] for r in evals} & {r["id"] for r in trains}
    future = datetime(2100, 1, 1, tzinfo=UTC).isoformat()
    assert _rows(client.get("/datasets/sft", params={"since": future}, headers=_auth(tenant))) == []

    metrics = client.get("/metrics").text
    assert 'aion_dataset_export_rows_total{split="train"}' in metrics


def test_tenant_config_sets_domain_and_threshold(client: TestClient, database: Database, tenant: str) -> None:
    engine = make_engine(database.url, pool_size=2)
    seed(MemoryStore(engine), tenant, 4, domain=None, agent_id="bot-a", reward=0.6)
    set_tenant(
        engine,
        tenant,
        config={
            "agents": {"bot-a": {"domain": "Sales", "system_prompt": "You sell."}},
            "curation": {"min_reward": 0.7},
        },
    )
    assert _rows(client.get("/datasets/sft", headers=_auth(tenant))) == []
    rows = _rows(client.get("/datasets/sft?min_reward=0.5", headers=_auth(tenant)))
    assert {r["metadata"]["domain"] for r in rows} == {"sales"}
    assert rows[0]["messages"][0] == {"role": "system", "content": "You sell."}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("min_reward=1.5", "min_reward"),
        ("min_reward=abc", "min_reward"),
        ("split=test", "split"),
        ("since=yesterday", "since"),
        ("agent_id=%20bad", "agent_id"),
        ("domain=a/b", "domain"),
    ],
)
def test_bad_query_parameters_are_named(client: TestClient, tenant: str, query: str, field: str) -> None:
    response = client.get(f"/datasets/sft?{query}", headers=_auth(tenant))
    assert response.status_code == 422
    assert response.json()["field"] == field


def test_auth_is_required(client: TestClient, tenant: str) -> None:
    assert client.get("/datasets/sft").status_code == 401
    assert client.get("/datasets/sft", headers=_auth(tenant, "writer")).status_code == 403

"""Protects: every text that leaves in a dataset is scrubbed (finding 5, issue 11), and opt-out is honoured.

PII is posted through the HTTP API in every free-text field a row carries (prompt, response,
``agent_id``, ``model_version``, ``reason_code``, the listed ``facts``) and in ``user_id``; none of it
comes out of ``GET /datasets/sft`` nor of the ``sft_dataset`` files the assets write, on both
backends (the same customer, greeted by name in answers to six users, is not learned as
vocabulary either). A tenant that opted out of adaptation gets 403 from the export. The export
scrubs with the learned vocabulary and learns it anew when approvals arrive.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest
from fastapi.testclient import TestClient

from aion_assets.app import create_app
from aion_assets.core.auth import TokenVerifier, mint_token
from aion_assets.core.db import make_engine
from tests.pipeline.conftest import Backend, set_tenant

pytestmark = pytest.mark.filterwarnings("ignore::dagster.PreviewWarning")
SECRET = "export-fields-secret-" + "f" * 20
AGENT = "john.smith@example.com"
PII = [
    AGENT,
    "Jane Doe",
    "415 555 0199",
    "jane.doe@example.org",
    "078-05-1120",
    "Maria Gonzalez",
    "maria.gonzalez@example.com",
    "4111 1111 1111 1111",
    "DE89 3704 0044 0532 0130 00",
]


@pytest.fixture
def client(backend: Backend) -> Iterator[TestClient]:
    with TestClient(create_app(make_engine(backend.database.url, pool_size=2), TokenVerifier(SECRET))) as c:
        yield c


def _auth(tenant: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(SECRET, tenant_id=tenant, roles=['writer', 'reviewer'])}"}


def _post_pii(client: TestClient, tenant: str, n: int = 6) -> None:
    auth = _auth(tenant)
    for i in range(n):
        r = client.post(
            "/interactions",
            json={
                "agent_id": AGENT,
                "user_id": f"jane.doe.{i}",
                "model_version": "call Jane Doe at +1 415 555 0199",
                "input_text": "Hi, I'm Maria Gonzalez, my email is maria.gonzalez@example.com. Where is my Quorvex?",
                "output_text": "Please wait.",
                "metadata": {"domain": "support", "facts": ["Maria Gonzalez", "maria.gonzalez@example.com"]},
            },
            headers=auth,
        )
        assert r.status_code == 201, r.text
        r = client.post(
            "/self-edits",
            json={
                "interaction_id": r.json()["id"],
                "editor_type": "human",
                "edited_output": (
                    "Dear Maria Gonzalez, your Quorvex ships today; we wrote to maria.gonzalez@example.com."
                ),
                "reason_code": "cust jane.doe@example.org SSN 078-05-1120",
                "reward_score": 0.9,
                "metadata": {"facts": ["card 4111 1111 1111 1111", "IBAN DE89 3704 0044 0532 0130 00", "Jane Doe"]},
            },
            headers=auth,
        )
        assert r.status_code == 201, r.text
        assert client.post(f"/self-edits/{r.json()['id']}/approve", headers=auth).status_code == 200


def _assert_clean(rows: list[dict[str, Any]]) -> None:
    text = json.dumps(rows, ensure_ascii=False)
    leaked = [value for value in PII if value in text]
    assert not leaked, leaked
    for row in rows:
        meta = row["metadata"]
        assert "<EMAIL_ADDRESS>" in meta["agent_id"]
        assert "<EMAIL_ADDRESS>" in meta["reason_code"] and "<US_SSN>" in meta["reason_code"]
        assert "<PHONE_NUMBER>" in meta["model_version"]
        assert any("<CREDIT_CARD>" in f for f in meta["facts"]) and any("<IBAN_CODE>" in f for f in meta["facts"])
        assert "Quorvex" in row["response"]  # the product survives (learned or never detected)
        assert "user_id" not in meta


def test_no_field_of_the_export_or_the_dataset_carries_pii(backend: Backend, client: TestClient, tenant: str) -> None:
    from aion_assets.memory.assets import interactions
    from aion_assets.seal.datasets.assets import scrubbed_edits, sft_dataset, tenant_vocabulary
    from aion_assets.seal.partitions import TENANT_DOMAINS

    _post_pii(client, tenant)
    response = client.get("/datasets/sft", headers=_auth(tenant))
    assert response.status_code == 200, response.text
    exported = [json.loads(line) for line in response.text.splitlines() if line]
    assert len(exported) == 6
    _assert_clean(exported)

    instance = dg.DagsterInstance.ephemeral()
    partition = f"{tenant}/support"
    instance.add_dynamic_partitions(TENANT_DOMAINS, [partition])
    dg.materialize([interactions], resources=backend.resources(), instance=instance)
    result = dg.materialize(
        [tenant_vocabulary, scrubbed_edits, sft_dataset],
        partition_key=partition,
        resources=backend.resources(),
        instance=instance,
        run_config={"ops": {"seal__sft_dataset": {"config": {"min_rows": 1}}}},
    )
    assert result.success
    (mat,) = result.asset_materializations_for_node(sft_dataset.op.name)
    store = backend.artifact_store()
    keys = [str(mat.metadata[name].value) for name in ("train_key", "eval_key")]
    rows = [json.loads(line) for key in keys for line in store.get_bytes(key).splitlines() if line]
    assert len(rows) == 6
    _assert_clean(rows)
    (smat,) = result.asset_materializations_for_node(scrubbed_edits.op.name)
    _assert_clean([json.loads(line) for line in store.get_bytes(smat.metadata["key"].value).splitlines()])


def test_export_of_an_opted_out_tenant_is_refused(backend: Backend, client: TestClient, tenant: str) -> None:
    _post_pii(client, tenant, n=1)
    set_tenant(make_engine(backend.database.url, pool_size=1), tenant, adaptation_opt_out=True)
    response = client.get("/datasets/sft", headers=_auth(tenant))
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "forbidden" and "opted out of adaptation" in body["message"]
    assert not any(value in response.text for value in PII)


def test_export_learns_the_vocabulary_anew_when_approvals_arrive(client: TestClient, tenant: str) -> None:
    # "Velocia Marlow 5 Trail" is a bike the scrubber takes for a person and places. Said to four
    # users it is not vocabulary yet (K = 5); a fifth approved answer makes it one, and the next
    # export (the per-process vocabulary is learned again when the approvals change) keeps it.
    auth = _auth(tenant)
    answer = "Hello, the Velocia Marlow 5 Trail ships today."

    def post(i: int) -> None:
        r = client.post(
            "/interactions",
            json={"agent_id": "desk", "user_id": f"rider-{i}", "input_text": "When does my bike ship?",
                  "output_text": "Soon.", "metadata": {"domain": "support"}},
            headers=auth,
        )
        edit = client.post(
            "/self-edits",
            json={"interaction_id": r.json()["id"], "editor_type": "human", "edited_output": answer,
                  "reward_score": 0.9},
            headers=auth,
        )
        assert client.post(f"/self-edits/{edit.json()['id']}/approve", headers=auth).status_code == 200

    for i in range(4):
        post(i)
    first = client.get("/datasets/sft", headers=auth)
    assert first.status_code == 200 and "Velocia Marlow 5 Trail" not in first.text
    post(4)
    second = client.get("/datasets/sft", headers=auth)
    rows = [json.loads(line) for line in second.text.splitlines() if line]
    assert len(rows) == 5 and all(r["response"] == answer for r in rows)

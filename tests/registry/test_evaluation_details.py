"""Protects: ``GET /models/{id}/evaluation`` (issue 13's promotion page needs it): the scenario outcomes
of both models and the held-out answers where candidate and baseline differ most, read from the
evaluation report where ``seal/evaluation_report`` writes it; a report that cannot be read is named
with the reason, never a 500; reads need a role; another tenant's version is a 404.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from aion_assets.core.artifacts import LocalArtifactStore
from aion_assets.core.auth import mint_token
from aion_assets.registry.evaluation import examples_key, summarise
from aion_assets.seal.evaluation.report import report_prefix
from tests.registry.conftest import SECRET, build_app, manifest_hash

Headers = Callable[..., dict[str, str]]


def rows() -> list[dict[str, Any]]:
    """Per-example results shaped as EvaluationReport.iter_examples writes them."""
    out: list[dict[str, Any]] = []
    for role, scores, passes in (("baseline", [0.1, 0.5, 0.2], [True, False]),
                                 ("candidate", [0.9, 0.5, 0.3], [True, True]),
                                 ("control", [0.1, 0.1, 0.1], [False, False])):
        for k, score in enumerate(scores):
            out.append({"role": role, "model_version": role, "id": f"e{k}", "source": "eval", "prompt": f"question {k}",
                        "reference": f"ref {k}", "answer": f"{role} answer {k}", "rougeL_body": score})
        for k, passed in enumerate(passes):
            out.append({"role": role, "model_version": role, "id": f"s{k}", "source": "scenario",
                        "prompt": f"scenario {k}", "answer": f"{role} s{k}", "passed": passed})
    return out


@pytest.mark.parametrize("tenant_id", ["acme", "acme/eu@x"], ids=["plain", "quoted"])
def test_examples_key_is_where_the_evaluation_asset_writes(tenant_id: str) -> None:
    written = f"{report_prefix(tenant_id, 'support', 'run-1')}/examples.jsonl"
    assert examples_key(tenant_id, "support", "run-1") == written
    for bad in ("..", "a/b", ""):
        with pytest.raises(ValueError, match="evaluation_run_id"):
            examples_key(tenant_id, "support", bad)


def test_summarise_ranks_by_the_size_of_the_difference() -> None:
    scenarios, diffs = summarise(rows(), metric="rougeL_body", top=2)
    outcomes = [(s.id, s.baseline_passed, s.candidate_passed) for s in scenarios]
    assert outcomes == [("s0", True, True), ("s1", False, True)]
    assert [d.id for d in diffs] == ["e0", "e2"]  # |0.8| then |0.1|; e1 did not change
    assert diffs[0].baseline_answer == "baseline answer 0" and diffs[0].candidate_answer == "candidate answer 0"
    assert diffs[0].reference == "ref 0"


def _register(client: TestClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    body = {"manifest_sha256": manifest_hash(), "adapter_uri": "file:///a/v1", "base_model": "aion-base",
            "domain": "support", "evaluation_run_id": "run-42"} | overrides
    r = client.post("/models", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_the_api_serves_scenarios_and_differences(database, headers: Headers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tenant = "acme/" + uuid.uuid4().hex[:6]
    store = LocalArtifactStore(tmp_path)
    store.put_bytes(examples_key(tenant, "support", "run-42"), "".join(json.dumps(r) + "\n" for r in rows()).encode())
    with TestClient(build_app(database.url, artifact_store=store)) as client:
        version = _register(client, headers(tenant, "admin"))
        got = client.get(f"/models/{version['id']}/evaluation", params={"top": 1}, headers=headers(tenant, "reader"))
        assert got.status_code == 200, got.text
        body = got.json()
        assert body["error"] is None and body["metric"] == "rougeL_body"
        assert [s["id"] for s in body["scenarios"]] == ["s0", "s1"]
        assert [d["id"] for d in body["differences"]] == ["e0"]
        assert body["examples_uri"] == store.uri(examples_key(tenant, "support", "run-42"))

        missing = _register(client, headers(tenant, "admin"), evaluation_run_id="run-gone")
        gone = client.get(f"/models/{missing['id']}/evaluation", headers=headers(tenant, "reader")).json()
        assert gone["differences"] == [] and "not readable" in gone["error"]
        none = _register(client, headers(tenant, "admin"), evaluation_run_id=None)
        assert "no evaluation run" in client.get(f"/models/{none['id']}/evaluation",
                                                 headers=headers(tenant, "reader")).json()["error"]

        roleless = {"Authorization": f"Bearer {mint_token(SECRET, tenant_id=tenant, roles=[], ttl_seconds=600)}"}
        assert client.get(f"/models/{version['id']}/evaluation", headers=roleless).status_code == 403
        other = client.get(f"/models/{version['id']}/evaluation", headers=headers("globex-" + tenant[-6:], "admin"))
        assert other.status_code == 404
        bad = client.get(f"/models/{version['id']}/evaluation", params={"top": 0}, headers=headers(tenant, "reader"))
        assert bad.status_code == 422 and "top" in bad.text


def test_without_an_artifact_store_the_reason_is_given(database, headers: Headers) -> None:  # type: ignore[no-untyped-def]
    tenant = "t-" + uuid.uuid4().hex[:8]
    with TestClient(build_app(database.url)) as client:
        version = _register(client, headers(tenant, "admin"))
        body = client.get(f"/models/{version['id']}/evaluation", headers=headers(tenant, "reader")).json()
        assert "no artifact store" in body["error"]

"""Protects: POST /evaluations/import on SQLite and PostgreSQL through HTTP: an outside evaluation summary
is stored as metrics `<source>/<name>` of the caller's version (visible on GET /models/{id}) with an audit
entry; the client's import_id makes it idempotent (201 then 200, nothing stored twice, also when replays
race); a reused import_id with another summary and a metric already stored are refused (409) and change
nothing; bad input gets a 422 naming the field, a body over 64 KiB a 413; another tenant's version is 404;
only admins and reviewers may import."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from aion_assets.core.serve import serve_in_thread
from tests.registry.conftest import build_app, manifest_hash

Headers = Callable[..., dict[str, str]]
#: Stands for the JSON number 1e309 (parsed as infinity), which json.dumps cannot write.
RAW_OVERFLOW = "__1e309__"


def register(client: TestClient | httpx.Client, headers: dict[str, str]) -> dict[str, Any]:
    r = client.post("/models", json={"manifest_sha256": manifest_hash(), "adapter_uri": "file:///a/v1",
                                     "base_model": "aion-base", "domain": "support",
                                     "metrics": [{"name": "accuracy", "value": 0.9}]}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def summary(model_id: str, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "import_id": "harness-2026-11-29-1",
        "model_id": model_id,
        "source": "lm-eval-harness",
        "evaluation_run_id": "ext-run-7",
        "evaluated_at": "2026-11-29T10:00:00Z",
        "notes": "nightly harness",
        "metrics": [
            {"name": "mmlu", "value": 0.61, "ci_low": 0.58, "ci_high": 0.64},
            {"name": "hellaswag", "value": 0.72},
        ],
    }
    return base | overrides


def test_import_is_stored_visible_audited_and_idempotent(client: TestClient, headers: Headers, tenant: str) -> None:
    admin = headers(tenant, "admin", subject="alice")
    model = register(client, admin)
    reviewer = headers(tenant, "reviewer", subject="rita")
    first = client.post("/evaluations/import", json=summary(model["id"]), headers=reviewer)
    assert first.status_code == 201, first.text
    stored = first.json()
    assert stored["model_id"] == model["id"] and stored["model_name"] == model["name"]
    assert stored["imported_by"] == "rita" and stored["evaluated_at"].startswith("2026-11-29T10:00:00")
    assert [(m["name"], m["value"]) for m in stored["metrics"]] == [
        ("lm-eval-harness/hellaswag", 0.72), ("lm-eval-harness/mmlu", 0.61)
    ]
    # The same summary again (the client retried): the stored import, nothing added.
    again = client.post("/evaluations/import", json=summary(model["id"]), headers=admin)
    assert again.status_code == 200 and again.json() == stored
    read = client.get(f"/models/{model['id']}", headers=admin).json()
    assert {m["name"]: m["value"] for m in read["metrics"]} == {
        "accuracy": 0.9, "lm-eval-harness/hellaswag": 0.72, "lm-eval-harness/mmlu": 0.61
    }
    mmlu = next(m for m in read["metrics"] if m["name"] == "lm-eval-harness/mmlu")
    assert (mmlu["ci_low"], mmlu["ci_high"]) == (0.58, 0.64)
    audit = client.get("/audit", params={"action": "evaluation.import"}, headers=admin).json()
    assert [(e["subject"], e["actor"]) for e in audit] == [("evaluation:harness-2026-11-29-1", "rita")]
    assert audit[0]["after"]["import"] == stored


def test_conflicts_change_nothing(client: TestClient, headers: Headers, tenant: str) -> None:
    admin = headers(tenant, "admin")
    model = register(client, admin)
    assert client.post("/evaluations/import", json=summary(model["id"]), headers=admin).status_code == 201
    other = summary(model["id"], metrics=[{"name": "mmlu", "value": 0.99}])
    r = client.post("/evaluations/import", json=other, headers=admin)
    assert r.status_code == 409 and "import_id" in r.json()["message"]
    r = client.post("/evaluations/import", json=other | {"import_id": "harness-2"}, headers=admin)
    assert r.status_code == 409 and "lm-eval-harness/mmlu" in r.json()["message"]
    metrics = client.get(f"/models/{model['id']}", headers=admin).json()["metrics"]
    assert next(m["value"] for m in metrics if m["name"] == "lm-eval-harness/mmlu") == 0.61
    # Another source may report a metric of the same name: it is stored under its own prefix.
    r = client.post("/evaluations/import", json=other | {"import_id": "human-1", "source": "human-review"},
                    headers=admin)
    assert r.status_code == 201 and r.json()["metrics"][0]["name"] == "human-review/mmlu"
    assert len(client.get("/audit", params={"action": "evaluation.import"}, headers=admin).json()) == 2


BAD_IMPORTS = [
    ({"import_id": ""}, "import_id"),
    ({"import_id": "a b"}, "import_id"),
    ({"import_id": "x" * 129}, "import_id"),
    ({"model_id": "not-a-uuid"}, "model_id"),
    ({"source": "LM Eval"}, "source"),
    ({"source": "s" * 49}, "source"),
    ({"metrics": []}, "metrics"),
    ({"metrics": [{"name": "m", "value": "nan"}]}, "value"),
    ({"metrics": [{"name": "m", "value": "Infinity"}]}, "value"),
    ({"metrics": [{"name": "m", "value": RAW_OVERFLOW}]}, "value"),
    ({"metrics": [{"name": "m", "value": "high"}]}, "value"),
    ({"metrics": [{"name": "m", "value": 0.5, "ci_low": "-inf", "ci_high": 0.6}]}, "ci_low"),
    ({"metrics": [{"name": "m", "value": 0.5, "ci_low": 0.7, "ci_high": 0.6}]}, "metrics"),
    ({"metrics": [{"name": "m/x", "value": 0.5}]}, "name"),
    ({"metrics": [{"name": "m" * 65, "value": 0.5}]}, "name"),
    ({"metrics": [{"name": "m", "value": 0.5}, {"name": "m", "value": 0.6}]}, "metrics"),
    ({"metrics": [{"name": f"m{i}", "value": 0.5} for i in range(201)]}, "metrics"),
    ({"metrics": [{"name": "m", "value": 0.5, "unit": "%"}]}, "unit"),
    ({"evaluated_at": "yesterday"}, "evaluated_at"),
    ({"notes": "n" * 2001}, "notes"),
    ({"evaluation_run_id": ""}, "evaluation_run_id"),
    ({"colour": "blue"}, "colour"),
]


@pytest.mark.parametrize(("override", "field"), BAD_IMPORTS, ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD_IMPORTS)])
def test_bad_import_names_the_field(
    client: TestClient, headers: Headers, tenant: str, override: dict[str, Any], field: str
) -> None:
    admin = headers(tenant, "admin")
    model = register(client, admin)
    raw = json.dumps(summary(model["id"]) | override).replace(f'"{RAW_OVERFLOW}"', "1e309")
    r = client.post("/evaluations/import", content=raw, headers=admin | {"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "validation_error" and r.json()["field"] == field, r.json()
    assert client.get("/audit", params={"action": "evaluation.import"}, headers=admin).json() == []


def test_missing_fields_bodies_roles_and_size(client: TestClient, headers: Headers, tenant: str) -> None:
    admin = headers(tenant, "admin")
    model = register(client, admin)
    for field in ("import_id", "model_id", "source", "metrics"):
        body = summary(model["id"])
        del body[field]
        r = client.post("/evaluations/import", json=body, headers=admin)
        assert r.status_code == 422 and r.json()["field"] == field
    r = client.post("/evaluations/import", content=b"{nope", headers=admin)
    assert r.status_code == 400 and r.json()["field"] == "body"
    r = client.post("/evaluations/import", json=summary(model["id"], notes="n" * 70_000), headers=admin)
    assert r.status_code == 413 and r.json()["field"] == "body"
    r = client.post("/evaluations/import", json=summary(model["id"]), headers=headers(tenant, "writer"))
    assert r.status_code == 403
    assert client.post("/evaluations/import", json=summary(model["id"])).status_code == 401


def test_other_tenants_version_is_404(client: TestClient, headers: Headers, tenant: str) -> None:
    model = register(client, headers(tenant, "admin"))
    other = "b-" + uuid.uuid4().hex[:8]
    intruder = headers(other, "admin", "reviewer", subject="mallory")
    r = client.post("/evaluations/import", json=summary(model["id"]), headers=intruder)
    assert r.status_code == 404 and "model_id" in r.json()["message"]
    r = client.post("/evaluations/import", json=summary(model["id"], tenant_id=tenant), headers=intruder)
    assert r.status_code == 403 and r.json()["field"] == "tenant_id"
    r = client.post("/evaluations/import", json=summary(str(uuid.uuid4())), headers=intruder)
    assert r.status_code == 404
    # The victim's version is unchanged, and the victim can still use the import id.
    admin = headers(tenant, "admin")
    assert [m["name"] for m in client.get(f"/models/{model['id']}", headers=admin).json()["metrics"]] == ["accuracy"]
    assert client.post("/evaluations/import", json=summary(model["id"]), headers=admin).status_code == 201


def test_racing_replays_store_once(database, headers: Headers, tenant: str) -> None:  # type: ignore[no-untyped-def]
    """Clients sending one import at once over real HTTP: one 201, the others 200 with the same body."""
    admin = headers(tenant, "admin")
    with serve_in_thread(build_app(database.url)) as base, httpx.Client(base_url=base, headers=admin) as http:
        model = register(http, admin)
        senders = 5
        barrier = threading.Barrier(senders)
        answers: list[tuple[int, Any]] = []

        def send() -> None:
            with httpx.Client(base_url=base, headers=admin, timeout=30) as own:
                barrier.wait()
                r = own.post("/evaluations/import", json=summary(model["id"]))
                answers.append((r.status_code, r.json()))

        threads = [threading.Thread(target=send) for _ in range(senders)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=60)
        assert sorted(code for code, _ in answers) == [200] * (senders - 1) + [201]
        assert len({str(body) for _, body in answers}) == 1
        assert len(http.get("/audit", params={"action": "evaluation.import"}).json()) == 1
        names = [m["name"] for m in http.get(f"/models/{model['id']}").json()["metrics"]]
        assert names == ["accuracy", "lm-eval-harness/hellaswag", "lm-eval-harness/mmlu"]

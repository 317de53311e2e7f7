"""Protects: deployments of versions through HTTP on SQLite and PostgreSQL: POST /deployments creates or replaces
the deployment of one version in one environment (admin; validated, bad input a 422 naming the field), every change
is audited with before and after while a write that changes nothing is not, a retired or rejected version can only
be scaled to 0 replicas, GET /deployments lists and filters by model_id and environment, and another tenant's
version is 404 on write and invisible on read."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.registry.conftest import manifest_hash

Headers = Callable[..., dict[str, str]]


def register(client: TestClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    body = {"manifest_sha256": manifest_hash(), "adapter_uri": "file:///a/v1", "base_model": "aion-base",
            "domain": "support"} | overrides
    r = client.post("/models", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def deployment(model_id: str, **overrides: Any) -> dict[str, Any]:
    return {"model_id": model_id, "environment": "staging", "replica_count": 2,
            "autoscale": {"min_replicas": 1, "max_replicas": 4, "target_concurrency": 8},
            "config": {"max_lora_rank": 16}} | overrides


def test_create_replace_list_and_audit(client: TestClient, headers: Headers, tenant: str) -> None:
    admin = headers(tenant, "admin", subject="alice")
    a, b = register(client, admin), register(client, admin)
    r = client.post("/deployments", json=deployment(a["id"]), headers=admin)
    assert r.status_code == 200, r.text
    created = r.json()
    assert (created["model_name"], created["model_status"], created["replica_count"]) == (a["name"], "candidate", 2)
    assert created["autoscale"] == {"min_replicas": 1, "max_replicas": 4, "target_concurrency": 8}
    scaled = client.post("/deployments", json=deployment(a["id"], replica_count=4), headers=admin).json()
    assert scaled["replica_count"] == 4
    assert client.post("/deployments", json=deployment(a["id"], replica_count=4), headers=admin).json() == scaled
    client.post("/deployments", json=deployment(a["id"], environment="production", autoscale=None, config={}),
                headers=admin)
    client.post("/deployments", json=deployment(b["id"]), headers=admin)

    reader = headers(tenant, "writer")
    listed = client.get("/deployments", headers=reader).json()
    assert len(listed) == 3
    mine = client.get("/deployments", params={"model_id": a["id"]}, headers=reader).json()
    assert [(d["environment"], d["replica_count"], d["autoscale"]) for d in mine] == [
        ("production", 2, None), ("staging", 4, scaled["autoscale"])
    ]
    assert [d["model_id"] for d in client.get("/deployments", params={"environment": "production"},
                                              headers=reader).json()] == [a["id"]]
    audit = client.get("/audit", params={"subject": f"deployment:{a['id']}:staging"}, headers=admin).json()
    assert [(e["action"], e["actor"]) for e in audit] == [("deployment.set", "alice")] * 2  # the no-op is not audited
    assert audit[0]["before"]["replica_count"] == 2 and audit[0]["after"]["replica_count"] == 4
    assert audit[1]["before"] is None


def test_retired_or_rejected_versions_only_scale_to_zero(client: TestClient, headers: Headers, tenant: str) -> None:
    admin = headers(tenant, "admin", subject="alice")
    bob = headers(tenant, "reviewer", subject="bob")
    model = register(client, admin)
    assert client.post("/deployments", json=deployment(model["id"]), headers=admin).status_code == 200
    assert client.post(f"/models/{model['id']}/reject", headers=bob).json()["status"] == "rejected"
    r = client.post("/deployments", json=deployment(model["id"], replica_count=3), headers=admin)
    assert r.status_code == 409 and "replica_count 0" in r.json()["message"]
    r = client.post("/deployments", json=deployment(model["id"], replica_count=0, autoscale=None), headers=admin)
    assert r.status_code == 200 and r.json()["replica_count"] == 0 and r.json()["model_status"] == "rejected"


BAD = [
    ({"model_id": "nope"}, "model_id"),
    ({"environment": "Prod"}, "environment"),
    ({"environment": "e" * 65}, "environment"),
    ({"replica_count": -1}, "replica_count"),
    ({"replica_count": 1001}, "replica_count"),
    ({"replica_count": "two"}, "replica_count"),
    ({"autoscale": {"min_replicas": 5, "max_replicas": 2}}, "autoscale"),
    ({"autoscale": {"min_replicas": 0, "max_replicas": 0}}, "max_replicas"),
    ({"autoscale": {"min_replicas": 0, "max_replicas": 4, "target_concurrency": 0}}, "target_concurrency"),
    ({"autoscale": {"min_replicas": 0, "max_replicas": 4, "burst": True}}, "burst"),
    ({"replica_count": 9}, "body"),  # outside the autoscale bounds (a model-level rule)
    ({"config": {"blob": "x" * 9000}}, "config"),
    ({"config": ["not", "an", "object"]}, "config"),
    ({"colour": "blue"}, "colour"),
]


@pytest.mark.parametrize(("override", "field"), BAD, ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD)])
def test_bad_input_names_the_field(
    client: TestClient, headers: Headers, tenant: str, override: dict[str, Any], field: str
) -> None:
    admin = headers(tenant, "admin")
    model = register(client, admin)
    r = client.post("/deployments", json=deployment(model["id"]) | override, headers=admin)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field, r.json()
    assert client.get("/deployments", headers=admin).json() == []


def test_roles_params_and_other_tenants(client: TestClient, headers: Headers, tenant: str) -> None:
    admin = headers(tenant, "admin")
    model = register(client, admin)
    client.post("/deployments", json=deployment(model["id"]), headers=admin)
    for roles in (("writer",), ("reviewer",)):
        assert client.post("/deployments", json=deployment(model["id"]), headers=headers(tenant, *roles)
                           ).status_code == 403
    r = client.get("/deployments", params={"model_id": "x"}, headers=admin)
    assert r.status_code == 422 and r.json()["field"] == "model_id"
    r = client.get("/deployments", params={"environment": "../etc"}, headers=admin)
    assert r.status_code == 422 and r.json()["field"] == "environment"
    other = "b-" + uuid.uuid4().hex[:8]
    intruder = headers(other, "admin", subject="mallory")
    r = client.post("/deployments", json=deployment(model["id"], replica_count=0, autoscale=None), headers=intruder)
    assert r.status_code == 404 and "model_id" in r.json()["message"]
    r = client.post("/deployments", json=deployment(model["id"], tenant_id=tenant), headers=intruder)
    assert r.status_code == 403 and r.json()["field"] == "tenant_id"
    assert client.get("/deployments", headers=intruder).json() == []
    assert client.get("/deployments", params={"model_id": model["id"]}, headers=intruder).json() == []
    assert client.get("/deployments", headers=admin).json()[0]["replica_count"] == 2

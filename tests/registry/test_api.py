"""Protects: the registry API through HTTP on SQLite and PostgreSQL: registration (admin, validated,
content-addressed: 201 then 200), filters, approve/reject with roles and the four-eyes rule (its setting:
test_four_eyes.py), routes with
optimistic concurrency (of concurrent writers naming one version exactly one wins, the others get 409),
rollback, the audit log (admin only), and bad input answered with a 4xx naming the field."""

from __future__ import annotations

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


def body(**overrides: Any) -> dict[str, Any]:
    base = {
        "manifest_sha256": manifest_hash(),
        "adapter_uri": "file:///artifacts/adapters/acme/support/v1",
        "base_model": "aion-base",
        "domain": "support",
        "metrics": [{"name": "accuracy", "value": 0.9, "ci_low": 0.85, "ci_high": 0.95}],
    }
    return base | overrides


def register(client: TestClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    r = client.post("/models", json=body(**overrides), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_register_is_admin_only_and_content_addressed(client: TestClient, headers: Headers, tenant: str) -> None:
    admin = headers(tenant, "admin", subject="alice")
    item = body(description="first")
    first = client.post("/models", json=item, headers=admin)
    assert first.status_code == 201, first.text
    assert first.json()["name"].startswith(f"aion-base+seal-{tenant}~support@")
    assert first.json()["created_by"] == "alice" and first.json()["status"] == "candidate"
    again = client.post("/models", json=item | {"adapter_uri": "s3://elsewhere/x"}, headers=admin)
    assert again.status_code == 200 and again.json() == first.json()
    read = client.get(f"/models/{first.json()['id']}", headers=headers(tenant, "writer")).json()
    assert read.pop("lineage")["parent"] is None and read == first.json()
    for roles in (("writer",), ("reviewer",)):
        r = client.post("/models", json=body(), headers=headers(tenant, *roles))
        assert r.status_code == 403 and r.json()["error"] == "forbidden"


BAD_MODELS = [
    ({"manifest_sha256": "ABC"}, "manifest_sha256"),
    ({"manifest_sha256": "0" * 63}, "manifest_sha256"),
    ({"adapter_uri": "no-scheme/path"}, "adapter_uri"),
    ({"domain": "Support Desk"}, "domain"),
    ({"base_model": "aion base"}, "base_model"),
    ({"status": "retired"}, "status"),
    ({"status": "live"}, "status"),
    ({"source_edit_count": -1}, "source_edit_count"),
    ({"parent_id": "not-a-uuid"}, "parent_id"),
    ({"metrics": [{"name": "acc", "value": "nan"}]}, "value"),
    ({"metrics": [{"name": "acc", "value": 0.5, "ci_low": 0.7, "ci_high": 0.6}]}, "metrics"),
    ({"metrics": [{"name": "acc", "value": 0.5, "ci_low": 0.4}]}, "metrics"),
    ({"metrics": [{"name": "acc", "value": 0.5}, {"name": "acc", "value": 0.6}]}, "metrics"),
    ({"colour": "blue"}, "colour"),
]


@pytest.mark.parametrize(("override", "field"), BAD_MODELS, ids=[f for _, f in BAD_MODELS])
def test_bad_registration_names_the_field(
    client: TestClient, headers: Headers, tenant: str, override: dict[str, Any], field: str
) -> None:
    r = client.post("/models", json=body(**override), headers=headers(tenant, "admin"))
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "validation_error"
    assert r.json()["field"] == field, r.json()


def test_bad_bodies_and_params_are_4xx(client: TestClient, headers: Headers, tenant: str) -> None:
    admin = headers(tenant, "admin")
    r = client.post("/models", content=b"{not json", headers=admin)
    assert r.status_code == 400 and r.json()["field"] == "body"
    r = client.post("/models", json=[body()], headers=admin)
    assert r.status_code == 422
    assert client.get("/models/not-a-uuid", headers=admin).json()["field"] == "model_id"
    r = client.get("/models", params={"status": "live"}, headers=admin)
    assert r.status_code == 422 and r.json()["field"] == "status"
    r = client.post("/routes", json={"agent_id": "a/b", "default_model_id": str(uuid.uuid4()),
                                     "expected_version": 0}, headers=admin)
    assert r.status_code == 422 and r.json()["field"] == "agent_id"
    r = client.post("/routes", json={"agent_id": "bot", "default_model_id": str(uuid.uuid4())}, headers=admin)
    assert r.status_code == 422 and r.json()["field"] == "expected_version"
    r = client.post("/routes/bot/rollback", json={"expected_version": 0}, headers=admin)
    assert r.status_code == 422 and r.json()["field"] == "expected_version"
    assert client.get("/models", headers={}).status_code == 401


def test_list_filters(client: TestClient, headers: Headers, tenant: str) -> None:
    admin = headers(tenant, "admin")
    a = register(client, admin, domain="support")
    b = register(client, admin, domain="sales", status="rejected", status_reason="recall dropped")
    ids = lambda r: [m["id"] for m in r.json()]  # noqa: E731
    assert set(ids(client.get("/models", headers=admin))) == {a["id"], b["id"]}
    assert ids(client.get("/models", params={"domain": "sales"}, headers=admin)) == [b["id"]]
    assert ids(client.get("/models", params={"status": "candidate", "tenant_id": tenant}, headers=admin)) == [a["id"]]
    assert client.get(f"/models/{b['id']}", headers=admin).json()["status_reason"] == "recall dropped"


def test_approve_and_reject_with_four_eyes(client: TestClient, headers: Headers, tenant: str) -> None:
    alice = headers(tenant, "admin", subject="alice")
    bob = headers(tenant, "reviewer", subject="bob")
    pending = register(client, alice, status="pending_approval")
    r = client.post(f"/models/{pending['id']}/approve", headers=alice)
    assert r.status_code == 403 and "four-eyes" in r.json()["message"]
    r = client.post(f"/models/{pending['id']}/approve", headers=headers(tenant, "writer", subject="eve"))
    assert r.status_code == 403
    r = client.post(f"/models/{pending['id']}/approve", json={"reason": "looks good"}, headers=bob)
    assert r.status_code == 200 and r.json()["status"] == "promoted" and r.json()["status_changed_by"] == "bob"
    again = client.post(f"/models/{pending['id']}/approve", headers=bob)
    assert again.status_code == 200 and again.json()["status"] == "promoted"
    r = client.post(f"/models/{pending['id']}/reject", headers=bob)
    assert r.status_code == 409 and "promoted version cannot become rejected" in r.json()["message"]
    candidate = register(client, alice)
    r = client.post(f"/models/{candidate['id']}/approve", headers=bob)
    assert r.status_code == 409 and "candidate" in r.json()["message"]
    r = client.post(f"/models/{candidate['id']}/reject", json={"reason": "worse"}, headers=bob)
    assert r.status_code == 200 and r.json()["status"] == "rejected" and r.json()["status_reason"] == "worse"
    r = client.post(f"/models/{candidate['id']}/reject", json={"why": "x"}, headers=bob)
    assert r.status_code == 422 and r.json()["field"] == "why"
    assert client.post(f"/models/{uuid.uuid4()}/approve", headers=bob).status_code == 404


def promote(http: TestClient | httpx.Client, tenant: str, headers: Headers) -> dict[str, Any]:
    """Register a version as pending_approval (admin alice) and approve it (reviewer bob)."""
    r = http.post("/models", json=body(status="pending_approval"), headers=headers(tenant, "admin", subject="alice"))
    assert r.status_code == 201, r.text
    r = http.post(f"/models/{r.json()['id']}/approve", headers=headers(tenant, "reviewer", subject="bob"))
    assert r.status_code == 200 and r.json()["status"] == "promoted", r.text
    return r.json()  # type: ignore[no-any-return]


def test_routes_round_trip_and_stale_write(client: TestClient, headers: Headers, tenant: str) -> None:
    admin = headers(tenant, "admin")
    old, new = promote(client, tenant, headers), promote(client, tenant, headers)
    route = {"agent_id": "support-bot", "default_model_id": old["id"], "expected_version": 0}
    r = client.post("/routes", json=route, headers=admin)
    assert r.status_code == 200 and r.json()["version"] == 1 and r.json()["default_model_name"] == old["name"]
    r = client.post("/routes", json=route | {"default_model_id": new["id"], "fallback_model_id": old["id"],
                                              "expected_version": 1}, headers=admin)
    assert r.status_code == 200 and r.json()["version"] == 2
    stale = client.post("/routes", json=route | {"expected_version": 1}, headers=admin)
    assert stale.status_code == 409 and "version 2" in stale.json()["message"]
    reader = headers(tenant, "writer")
    got = client.get("/routes/support-bot", headers=reader)
    assert got.status_code == 200 and got.json() == r.json()
    assert client.get("/routes", headers=reader).json() == [r.json()]
    assert client.get("/routes/nobody", headers=reader).status_code == 404
    assert client.post("/routes", json=route | {"expected_version": 2}, headers=reader).status_code == 403
    candidate = register(client, admin)
    r = client.post("/routes", json=route | {"default_model_id": candidate["id"], "expected_version": 2},
                    headers=admin)
    assert r.status_code == 409 and "only a promoted version" in r.json()["message"]


def test_rollback_over_http(client: TestClient, headers: Headers, tenant: str) -> None:
    admin = headers(tenant, "admin")
    old, new = promote(client, tenant, headers), promote(client, tenant, headers)
    client.post("/routes", json={"agent_id": "bot", "default_model_id": new["id"], "fallback_model_id": old["id"],
                                 "expected_version": 0}, headers=admin)
    assert client.post("/routes/bot/rollback", headers=headers(tenant, "writer")).status_code == 403
    r = client.post("/routes/bot/rollback", json={"reason": "regression"}, headers=headers(tenant, "reviewer"))
    assert r.status_code == 200, r.text
    assert r.json()["default_model_id"] == old["id"] and r.json()["fallback_model_id"] is None
    assert client.get(f"/models/{new['id']}", headers=admin).json()["status"] == "retired"
    r = client.post("/routes/bot/rollback", headers=admin)
    assert r.status_code == 409 and "no fallback" in r.json()["message"]
    assert client.post("/routes/nobody/rollback", headers=admin).status_code == 404


def test_audit_is_admin_only_and_filterable(client: TestClient, headers: Headers, tenant: str) -> None:
    admin = headers(tenant, "admin", subject="alice")
    model = register(client, admin)
    assert client.get("/audit", headers=headers(tenant, "reviewer")).status_code == 403
    entries = client.get("/audit", params={"subject": f"model:{model['id']}"}, headers=admin).json()
    assert [(e["action"], e["actor"]) for e in entries] == [("model.register", "alice")]
    assert entries[0]["after"]["manifest_sha256"] == model["manifest_sha256"] and entries[0]["before"] is None
    assert client.get("/audit", params={"action": "route.set"}, headers=admin).json() == []
    assert client.get("/audit", params={"limit": 0}, headers=admin).json()["field"] == "limit"


def test_concurrent_route_writes_one_wins(database, headers: Headers, tenant: str) -> None:  # type: ignore[no-untyped-def]
    """Writers racing over real HTTP on one route version: exactly one 200, every other one 409."""
    admin = headers(tenant, "admin")
    with serve_in_thread(build_app(database.url)) as base, httpx.Client(base_url=base, headers=admin) as http:
        models = [promote(http, tenant, headers) for _ in range(2)]
        assert http.post("/routes", json={"agent_id": "bot", "default_model_id": models[0]["id"],
                                          "expected_version": 0}).status_code == 200
        writers = 6
        barrier = threading.Barrier(writers)
        statuses: list[int] = []

        def write(i: int) -> None:
            with httpx.Client(base_url=base, headers=admin, timeout=30) as own:
                barrier.wait()
                r = own.post("/routes", json={"agent_id": "bot", "default_model_id": models[i % 2]["id"],
                                              "policy": {"writer": i}, "expected_version": 1})
                statuses.append(r.status_code)

        threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=60)
        assert sorted(statuses) == [200] + [409] * (writers - 1)
        final = http.get("/routes/bot").json()
        assert final["version"] == 2
        audits = http.get("/audit", params={"action": "route.set"}).json()
        assert len(audits) == 2 and audits[0]["after"]["policy"] == final["policy"]

"""Protects: the four-eyes rule as a deployment setting (AION_REGISTRY_FOUR_EYES, on by default), through the
app `aion api` builds from the settings (app_from_settings), on SQLite and PostgreSQL: when on, nobody registers
a version as promoted through the API, and the principal that registered a version or asked for its approval can
neither approve nor reject it (another reviewer can, and the audit log shows both people); when off, one admin
may do all three. A value that is not a boolean is refused at start, naming the setting."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from aion_assets.core.settings import Settings
from tests.registry.conftest import manifest_hash, settings_client

Headers = Callable[..., dict[str, str]]


@pytest.fixture
def app_client(request: pytest.FixtureRequest, database, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
               tmp_path: Path) -> Iterator[TestClient]:
    env: dict[str, str] = getattr(request, "param", {})
    with settings_client(database, monkeypatch, tmp_path, **env) as client:
        yield client


def body(**overrides: Any) -> dict[str, Any]:
    return {"manifest_sha256": manifest_hash(), "adapter_uri": "file:///a/v1", "base_model": "aion-base",
            "domain": "support"} | overrides


@pytest.mark.parametrize("app_client", [{}, {"AION_REGISTRY_FOUR_EYES": "true"}], indirect=True, ids=["default", "on"])
def test_on_by_default_for_approve_reject_and_registration(app_client: TestClient, headers: Headers) -> None:
    tenant = "t-" + uuid.uuid4().hex[:8]
    alice = headers(tenant, "admin", "reviewer", subject="alice")
    bob = headers(tenant, "reviewer", subject="bob")
    r = app_client.post("/models", json=body(status="promoted"), headers=alice)
    assert r.status_code == 403 and r.json()["field"] == "status" and "four-eyes" in r.json()["message"]
    pending = app_client.post("/models", json=body(status="pending_approval"), headers=alice).json()
    candidate = app_client.post("/models", json=body(), headers=alice).json()
    for model, verb in ((pending, "approve"), (pending, "reject"), (candidate, "reject")):
        r = app_client.post(f"/models/{model['id']}/{verb}", headers=alice)
        assert r.status_code == 403 and "four-eyes" in r.json()["message"], (verb, r.text)
        assert app_client.get(f"/models/{model['id']}", headers=alice).json()["status"] == model["status"]
    r = app_client.post(f"/models/{pending['id']}/approve", headers=bob)
    assert r.status_code == 200 and r.json()["status"] == "promoted"
    r = app_client.post(f"/models/{candidate['id']}/reject", json={"reason": "worse"}, headers=bob)
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    decided = {(e["action"], e["actor"]) for e in app_client.get("/audit", headers=alice).json()}
    assert {("model.register", "alice"), ("model.promoted", "bob"), ("model.rejected", "bob")} <= decided
    # Any other reviewer may decide.
    again = app_client.post("/models", json=body(), headers=alice).json()
    assert app_client.post(f"/models/{again['id']}/reject", headers=headers(tenant, "reviewer", subject="carol")
                           ).status_code == 200


@pytest.mark.parametrize("app_client", [{"AION_REGISTRY_FOUR_EYES": "false"}], indirect=True, ids=["off"])
def test_off_lets_one_admin_do_it_all(app_client: TestClient, headers: Headers) -> None:
    tenant = "t-" + uuid.uuid4().hex[:8]
    alice = headers(tenant, "admin", "reviewer", subject="alice")
    r = app_client.post("/models", json=body(status="promoted"), headers=alice)
    assert r.status_code == 201 and r.json()["status"] == "promoted"
    pending = app_client.post("/models", json=body(status="pending_approval"), headers=alice).json()
    assert app_client.post(f"/models/{pending['id']}/approve", headers=alice).json()["status"] == "promoted"
    candidate = app_client.post("/models", json=body(), headers=alice).json()
    assert app_client.post(f"/models/{candidate['id']}/reject", headers=alice).json()["status"] == "rejected"


def test_a_value_that_is_not_a_boolean_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AION_REGISTRY_FOUR_EYES", "perhaps")
    with pytest.raises(ValidationError, match="registry_four_eyes"):
        Settings()
    monkeypatch.setenv("AION_REGISTRY_FOUR_EYES", "0")
    assert Settings().registry_four_eyes is False

"""Protects: a rollback posts its deployment trigger, through the API and through `aion rollback`.

A route changed by a rollback queues the signed deployment trigger of the new route version in the
webhook outbox, in the rollback's own transaction (SQLite and PostgreSQL, as the application role):
the outbox holds it as soon as the rollback answers, a real HTTP receiver started here gets it
(signed, naming the version put back and the cause) when the outbox is drained, a refused rollback
queues nothing, and a later ``route_table`` run offering the same route version queues no second
trigger. The CLI tries it once itself; a receiver that is down leaves it pending in the outbox for
the next drain.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from aion_assets.core.db import make_engine
from aion_assets.registry.models import ModelStatus, ModelVersion, RouteIn
from aion_assets.registry.sql_store import SqlRegistryStore
from aion_assets.registry.webhooks import SIGNATURE_HEADER, WebhookOutbox, deploy_event_key, verify
from tests.conftest import Database
from tests.pipeline.test_promotion_path import Receiver
from tests.registry.conftest import settings_client, version_in

ROOT = Path(__file__).resolve().parents[2]
HOOK_SECRET = "deploy-hook-secret-for-tests"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def engine(database: Database) -> Iterator[Engine]:
    e = make_engine(database.url, pool_size=2)
    yield e
    e.dispose()


def _routed(store: SqlRegistryStore, tenant: str, agent: str = "bot") -> tuple[ModelVersion, ModelVersion]:
    """Two promoted versions of TENANT, AGENT routed to the newer with the older as fallback."""
    old, _ = store.register_version(tenant, version_in(status=ModelStatus.promoted), "pipeline")
    new, _ = store.register_version(tenant, version_in(status=ModelStatus.promoted), "pipeline")
    store.set_route(
        tenant, RouteIn(agent_id=agent, default_model_id=new.id, fallback_model_id=old.id, expected_version=0),
        "pipeline",
    )
    return old, new


def _later() -> datetime:
    # Past any retry backoff of an attempt made a moment ago.
    return datetime.now(UTC) + timedelta(hours=2)


def _check_delivered(receiver: Receiver, tenant: str, old: ModelVersion, new: ModelVersion) -> dict[str, Any]:
    (received,) = receiver.received
    headers, body = received
    assert verify(HOOK_SECRET.encode(), body, headers.get(SIGNATURE_HEADER))
    payload = json.loads(body)
    assert payload["event"] == "route.changed" and payload["tenant_id"] == tenant and payload["agent_id"] == "bot"
    assert payload["route_version"] == 2
    assert payload["default"]["id"] == str(old.id) and payload["default"]["name"] == old.name
    assert payload["fallback"] is None
    assert payload["cause"]["action"] == "rollback" and payload["cause"]["left_model_id"] == str(new.id)
    return payload  # type: ignore[no-any-return]


def test_api_rollback_queues_the_trigger_with_the_route_change(
    database: Database, engine: Engine, tenant: str, receiver: Receiver, headers: Any,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    store = SqlRegistryStore(engine)
    old, new = _routed(store, tenant)
    outbox = WebhookOutbox(engine, secret=HOOK_SECRET.encode())
    env = {"AION_DEPLOY_WEBHOOK_URL": receiver.url, "AION_WEBHOOK_SECRET": HOOK_SECRET}
    with settings_client(database, monkeypatch, tmp_path / "home", **env) as client:
        admin = headers(tenant, "admin", subject="alice")
        stale = client.post("/routes/bot/rollback", json={"expected_version": 7}, headers=admin)
        assert stale.status_code == 409
        assert outbox.entries(tenant) == []  # a refused rollback queues nothing

        r = client.post("/routes/bot/rollback", json={"reason": "bad answers"}, headers=admin)
        assert r.status_code == 200, r.text
        route = store.get_route(tenant, "bot")
        assert route.default_model_id == old.id and route.version == 2

        (entry,) = outbox.entries(tenant)
        assert (entry.kind, entry.status, entry.url) == ("deployment", "pending", receiver.url)
        assert entry.event_key == deploy_event_key(route) == "route.set:bot:2"
        assert entry.payload["cause"]["reason"] == "bad answers" and entry.payload["cause"]["actor"] == "alice"
        assert receiver.received == []  # queued, not posted inside the request

        again = client.post("/routes/bot/rollback", headers=admin)
        assert again.status_code == 409 and len(outbox.entries(tenant)) == 1

    assert outbox.drain(tenant).delivered == 1
    _check_delivered(receiver, tenant, old, new)
    (entry,) = outbox.entries(tenant)
    assert entry.status == "delivered" and entry.attempts == 1
    # route_table offering this route version later (same event key) queues nothing new.
    assert not outbox.enqueue(tenant, deploy_event_key(route), "deployment", receiver.url, {"event": "route.changed"})


def test_api_without_a_deploy_webhook_queues_nothing(
    database: Database, engine: Engine, tenant: str, headers: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store = SqlRegistryStore(engine)
    old, _ = _routed(store, tenant)
    with settings_client(database, monkeypatch, tmp_path / "home") as client:
        r = client.post("/routes/bot/rollback", headers=headers(tenant, "admin"))
        assert r.status_code == 200 and r.json()["default_model_id"] == str(old.id)
    assert WebhookOutbox(engine).entries(tenant) == []


def _aion(database: Database, tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AION_", "DAGSTER_"))}
    env |= {
        "AION_HOME": str(tmp_path / "aion"), "AION_DATABASE_URL": database.url, "PYTHONPATH": str(ROOT),
        "AION_DEPLOY_WEBHOOK_URL": url, "AION_WEBHOOK_SECRET": HOOK_SECRET,
    }
    return subprocess.run(
        [sys.executable, "-m", "aion_assets.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_cli_rollback_delivers_the_trigger_or_leaves_it_in_the_outbox(
    database: Database, engine: Engine, tenant: str, receiver: Receiver, tmp_path: Path
) -> None:
    store = SqlRegistryStore(engine)
    outbox = WebhookOutbox(engine, secret=HOOK_SECRET.encode(), clock=_later)

    # Receiver up: the CLI's own try delivers it.
    old, new = _routed(store, tenant)
    done = _aion(database, tmp_path, receiver.url, "rollback", "--tenant", tenant, "--agent", "bot",
                 "--actor", "ops:alice")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["deploy_trigger"] == {"event_key": "route.set:bot:2", "status": "delivered", "last_error": None}
    _check_delivered(receiver, tenant, old, new)

    # Receiver down: the rollback still happens, the trigger waits in the outbox, a later drain delivers it.
    receiver.received.clear()
    receiver.down = True
    other = f"{tenant}-b"
    old, new = _routed(store, other)
    down = _aion(database, tmp_path, receiver.url, "rollback", "--tenant", other, "--agent", "bot")
    assert down.returncode == 0, down.stderr
    assert json.loads(down.stdout)["deploy_trigger"]["status"] == "pending"
    assert store.get_route(other, "bot").default_model_id == old.id
    (entry,) = outbox.entries(other, kind="deployment")
    assert entry.status == "pending" and entry.attempts == 1 and entry.last_error == "HTTP 503"
    assert receiver.received == []
    receiver.down = False
    assert outbox.drain(other).delivered == 1
    _check_delivered(receiver, other, old, new)

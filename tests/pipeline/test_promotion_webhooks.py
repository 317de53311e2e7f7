"""Protects: the webhook outbox (``registry.webhooks``) on SQLite and PostgreSQL, with real HTTP.

A queued webhook is delivered signed (HMAC-SHA256 over the exact body) to a real receiver on a
loopback port; a receiver that refuses connections delays delivery with a growing backoff and never
drops it, every attempt is recorded; an event is queued once however often it is enqueued; a drain
running as the application role finds the tenants with pending webhooks (PostgreSQL: through the
SECURITY DEFINER function, the rows themselves stay under RLS: another tenant sees none).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from aion_assets.core.db import make_engine
from aion_assets.registry.alerts import alertmanager_payload
from aion_assets.registry.webhooks import SIGNATURE_HEADER, WebhookOutbox, sign, verify
from tests.conftest import Database
from tests.pipeline.test_promotion_path import Receiver

SECRET = b"outbox-secret"


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def engine(database: Database) -> Iterator[Engine]:
    e = make_engine(database.url, pool_size=2)
    yield e
    e.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"  # nothing listens there any more: connection refused


def _alert(tenant: str) -> dict[str, object]:
    return alertmanager_payload(
        "AionPromotionRejected", {"tenant": tenant}, {"summary": "s"}, starts_at=datetime(2026, 11, 29, tzinfo=UTC)
    )


def test_delivered_signed_once_however_often_enqueued(engine: Engine, tenant: str, receiver: Receiver) -> None:
    outbox = WebhookOutbox(engine, secret=SECRET)
    assert outbox.enqueue(tenant, "promotion.rejected:1", "alert", receiver.url, _alert(tenant)) is True
    assert outbox.enqueue(tenant, "promotion.rejected:1", "alert", receiver.url, _alert(tenant)) is False
    assert tenant in outbox.tenants_with_pending()
    result = outbox.drain()  # every tenant with pending webhooks, as the drain sensor calls it
    assert result.delivered >= 1
    ((headers, body),) = receiver.received
    assert verify(SECRET, body, headers[SIGNATURE_HEADER])
    assert not verify(b"another key", body, headers[SIGNATURE_HEADER])
    assert headers[SIGNATURE_HEADER] == sign(SECRET, body)
    doc = json.loads(body)
    assert doc["version"] == "4" and doc["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    assert doc["alerts"][0]["labels"] == {"alertname": "AionPromotionRejected", "tenant": tenant}
    (entry,) = outbox.entries(tenant)
    assert entry.status == "delivered" and entry.attempts == 1
    assert outbox.drain(tenant).attempted == 0 and len(receiver.received) == 1
    assert tenant not in outbox.tenants_with_pending()
    # Row-level security (PostgreSQL) / the tenant filter (SQLite): another tenant sees nothing.
    assert outbox.entries(f"{tenant}-other") == []


def test_a_receiver_that_is_down_delays_with_backoff_and_never_loses(engine: Engine, tenant: str) -> None:
    clock = Clock()
    outbox = WebhookOutbox(engine, secret=SECRET, base_delay=10, max_delay=25, clock=clock, timeout=2)
    outbox.enqueue(tenant, "e1", "alert", _closed_port_url(), _alert(tenant))
    delays = []
    for _ in range(4):
        assert outbox.drain(tenant).failed == 1
        (entry,) = outbox.entries(tenant)
        assert entry.status == "pending"
        delays.append((entry.next_attempt_at - clock.now).total_seconds())
        assert outbox.drain(tenant).attempted == 0  # not due yet: no hammering of a down receiver
        clock.now = entry.next_attempt_at
    assert delays == [10, 20, 25, 25]  # doubled, capped, and never given up
    (entry,) = outbox.entries(tenant)
    attempts = outbox.attempts(tenant, entry.id)
    assert [a.attempt for a in attempts] == [1, 2, 3, 4]
    assert all(a.status_code is None and a.error for a in attempts)
    assert entry.attempts == 4 and entry.last_error


def test_backoff_is_bounded(engine: Engine) -> None:
    outbox = WebhookOutbox(engine, base_delay=5, max_delay=3600)
    assert [outbox.backoff(n) for n in (1, 2, 3, 20)] == [5, 10, 20, 3600]
    assert outbox.backoff(1) == timedelta(seconds=5).total_seconds()


def test_the_outbox_sensor_drains_and_says_what_it_did(
    database: Database, engine: Engine, tenant: str, receiver: Receiver
) -> None:
    import dagster as dg

    from aion_assets.registry.resources import RegistryResource
    from aion_assets.registry.sensors import webhook_outbox_sensor

    registry = RegistryResource(database_url=database.url, webhook_secret=SECRET.decode())
    WebhookOutbox(engine, secret=SECRET).enqueue(tenant, "e1", "alert", receiver.url, _alert(tenant))

    def tick() -> str:
        with dg.build_sensor_context(resources={"registry": registry}) as context:
            data = webhook_outbox_sensor.evaluate_tick(context)
        assert not data.run_requests
        return data.skip_message or ""

    assert "delivered" in tick() and len(receiver.received) >= 1
    assert tenant not in WebhookOutbox(engine).tenants_with_pending()
    ((headers, body),) = [(h, b) for h, b in receiver.received if h.get("X-Aion-Event-Key") == "e1"]
    assert verify(SECRET, body, headers[SIGNATURE_HEADER])

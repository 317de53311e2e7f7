"""Signed webhooks through an outbox: alerts (Alertmanager's JSON, ``registry.alerts``) and deployment triggers.

A webhook is first written to ``webhook_outbox`` (:meth:`WebhookOutbox.enqueue`, idempotent by
``event_key``), then delivered by :meth:`WebhookOutbox.drain`, called by a sensor or a worker.
Delivery, step by step:

1. A due entry is claimed in a short transaction: its ``next_attempt_at`` moves a lease ahead,
   so a concurrent drain skips it while this one posts (PostgreSQL also skips rows another drain
   has locked). No transaction is open while the network is used.
2. The body is posted, signed with HMAC-SHA256 over the exact bytes (header
   ``X-Aion-Signature-256: sha256=<hex>``) and carrying ``X-Aion-Event-Key`` for receivers to
   deduplicate (delivery is at least once).
3. The attempt is recorded (status code or error, duration) whatever its result. A 2xx marks the
   entry ``delivered``; anything else leaves it ``pending`` with the next attempt after an
   exponential backoff capped at ``max_delay``: entries are never dropped, so a receiver that is
   down delays delivery and never loses it. A crash between 2 and 3 redelivers after the lease.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from aion_assets.core.db import tenant_transaction
from aion_assets.registry import tables as t
from aion_assets.registry.models import Route, utc

SIGNATURE_HEADER = "X-Aion-Signature-256"
EVENT_HEADER = "X-Aion-Event-Key"


def sign(secret: bytes, body: bytes) -> str:
    """The signature header value of BODY: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str | None) -> bool:
    """Whether HEADER is BODY's signature under SECRET (constant-time comparison)."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


def deploy_trigger(
    route: Route,
    snapshot_uri: str | None,
    snapshot_version: int | None,
    *,
    cause: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON a deployment system receives when a route changes.

    Args:
        route: the route after the change.
        snapshot_uri: the route table snapshot that published it (None: changed outside ``route_table``,
            e.g. by a rollback).
        snapshot_version: that snapshot's number (None likewise).
        cause: what changed it, when not ``route_table`` (a rollback: ``{"action": "rollback", ...}``).
    """
    payload: dict[str, Any] = {
        "event": "route.changed",
        "tenant_id": route.tenant_id,
        "agent_id": route.agent_id,
        "route_version": route.version,
        "default": {"id": str(route.default_model_id), "name": route.default_model_name,
                    "adapter_uri": route.default_adapter_uri},
        "fallback": None if route.fallback_model_id is None else {
            "id": str(route.fallback_model_id), "name": route.fallback_model_name,
            "adapter_uri": route.fallback_adapter_uri,
        },
        "snapshot_uri": snapshot_uri,
        "snapshot_version": snapshot_version,
    }
    if cause is not None:
        payload["cause"] = dict(cause)
    return payload


def deploy_event_key(route: Route) -> str:
    """The outbox event key of ROUTE's deployment trigger: one per route version, whoever wrote it."""
    return f"route.set:{route.agent_id}:{route.version}"


def enqueue_in(
    conn: Connection,
    tenant_id: str,
    event_key: str,
    kind: str,
    url: str,
    payload: Mapping[str, Any],
    *,
    now: datetime,
) -> bool:
    """Queue a webhook inside the caller's transaction CONN (so it commits or vanishes with the change).

    An event key already queued for TENANT_ID is left as it is (no error, so the caller's
    transaction is never aborted by a duplicate).

    Returns:
        True when queued now, False when the event was already there.
    """
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    c = t.webhook_outbox.c
    inserted = conn.execute(
        dialect.insert(t.webhook_outbox)
        .values(
            id=uuid.uuid4(), tenant_id=tenant_id, event_key=event_key, kind=kind, url=url,
            payload_json=dict(payload), status="pending", attempts=0, created_at=utc(now),
            next_attempt_at=utc(now), delivered_at=None, last_error=None,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "event_key"])
        .returning(c.id)
    ).first()
    return inserted is not None


@dataclass(frozen=True)
class Attempt:
    """One recorded delivery attempt."""

    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float


@dataclass(frozen=True)
class OutboxEntry:
    """A webhook in the outbox."""

    id: uuid.UUID
    tenant_id: str
    event_key: str
    kind: str
    url: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_error: str | None


@dataclass
class DrainResult:
    """What one :meth:`WebhookOutbox.drain` did."""

    delivered: int = 0
    failed: int = 0

    @property
    def attempted(self) -> int:
        """Deliveries tried."""
        return self.delivered + self.failed


Poster = Callable[[str, bytes, dict[str, str], float], int]


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST BODY to URL and return the status code (network errors raise ``httpx.HTTPError``)."""
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        return client.post(url, content=body, headers=headers).status_code


def _entry(row: Any) -> OutboxEntry:
    m = row._mapping
    return OutboxEntry(
        id=m["id"],
        tenant_id=m["tenant_id"],
        event_key=m["event_key"],
        kind=m["kind"],
        url=m["url"],
        payload=m["payload_json"],
        status=m["status"],
        attempts=m["attempts"],
        next_attempt_at=utc(m["next_attempt_at"]),
        delivered_at=None if m["delivered_at"] is None else utc(m["delivered_at"]),
        last_error=m["last_error"],
    )


class WebhookOutbox:
    """The webhook outbox on SQLite or PostgreSQL (as the application role).

    Args:
        engine: from ``core.db.make_engine``.
        secret: the HMAC key; None sends unsigned webhooks (a receiver should then refuse them).
        base_delay: seconds before the first retry; doubled after each failure ...
        max_delay: ... up to this many seconds between attempts (retries never stop).
        lease: seconds a claimed entry is hidden from other drains while it is posted.
        timeout: seconds one POST may take.
        clock: the current time (UTC).
        post: how to POST (default: :func:`http_post`).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        secret: bytes | None = None,
        base_delay: float = 5.0,
        max_delay: float = 3600.0,
        lease: float = 60.0,
        timeout: float = 10.0,
        clock: Callable[[], datetime] | None = None,
        post: Poster = http_post,
    ) -> None:
        self.engine = engine
        self.secret = secret
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.lease = lease
        self.timeout = timeout
        self._clock = clock or (lambda: datetime.now(UTC))
        self._post = post

    def _now(self) -> datetime:
        return utc(self._clock())

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the ATTEMPTS-th failed attempt."""
        return float(min(self.base_delay * 2 ** max(attempts - 1, 0), self.max_delay))

    def enqueue(self, tenant_id: str, event_key: str, kind: str, url: str, payload: Mapping[str, Any]) -> bool:
        """Queue a webhook; a second call with the same EVENT_KEY for TENANT_ID changes nothing.

        Returns:
            True when queued now, False when the event was already queued (or delivered).
        """
        c = t.webhook_outbox.c
        now = self._now()
        try:
            with tenant_transaction(self.engine, tenant_id) as conn:
                found = conn.execute(
                    sa.select(c.id).where(c.tenant_id == tenant_id, c.event_key == event_key)
                ).first()
                if found is not None:
                    return False
                conn.execute(
                    sa.insert(t.webhook_outbox).values(
                        id=uuid.uuid4(), tenant_id=tenant_id, event_key=event_key, kind=kind, url=url,
                        payload_json=dict(payload), status="pending", attempts=0, created_at=now,
                        next_attempt_at=now, delivered_at=None, last_error=None,
                    )
                )
        except sa.exc.IntegrityError:
            return False  # a concurrent enqueue of the same event won
        return True

    def tenants_with_pending(self) -> list[str]:
        """Tenant ids with webhooks not delivered yet (ids only; see migration 0004)."""
        with self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                return list(conn.execute(sa.text("SELECT * FROM aion_registry.webhook_tenants()")).scalars())
            c = t.webhook_outbox.c
            query = sa.select(c.tenant_id).where(c.status == "pending").distinct().order_by(c.tenant_id)
            return list(conn.execute(query).scalars())

    def entries(self, tenant_id: str, *, kind: str | None = None) -> list[OutboxEntry]:
        """TENANT_ID's outbox entries, oldest first."""
        c = t.webhook_outbox.c
        query = sa.select(t.webhook_outbox).where(c.tenant_id == tenant_id)
        if kind is not None:
            query = query.where(c.kind == kind)
        with tenant_transaction(self.engine, tenant_id, read_only=True) as conn:
            return [_entry(r) for r in conn.execute(query.order_by(c.created_at, c.id))]

    def attempts(self, tenant_id: str, outbox_id: uuid.UUID) -> list[Attempt]:
        """Every recorded attempt of one entry, in order."""
        c = t.webhook_attempts.c
        query = sa.select(t.webhook_attempts).where(c.tenant_id == tenant_id, c.outbox_id == outbox_id)
        with tenant_transaction(self.engine, tenant_id, read_only=True) as conn:
            rows = conn.execute(query.order_by(c.attempt)).all()
        return [Attempt(r.attempt, utc(r.at), r.status_code, r.error, r.duration_ms) for r in rows]

    def _claim(self, tenant_id: str, limit: int) -> list[OutboxEntry]:
        c = t.webhook_outbox.c
        now = self._now()
        with tenant_transaction(self.engine, tenant_id) as conn:
            query = (
                sa.select(t.webhook_outbox)
                .where(c.tenant_id == tenant_id, c.status == "pending", c.next_attempt_at <= now)
                .order_by(c.next_attempt_at, c.id)
                .limit(limit)
            )
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            due = [_entry(r) for r in conn.execute(query)]
            if due:
                conn.execute(
                    sa.update(t.webhook_outbox)
                    .where(c.tenant_id == tenant_id, c.id.in_([e.id for e in due]))
                    .values(next_attempt_at=now + timedelta(seconds=self.lease))
                )
        return due

    def _deliver(self, entry: OutboxEntry) -> bool:
        body = json.dumps(entry.payload, sort_keys=True, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", EVENT_HEADER: entry.event_key}
        if self.secret is not None:
            headers[SIGNATURE_HEADER] = sign(self.secret, body)
        started = time.perf_counter()
        code: int | None = None
        error: str | None = None
        try:
            code = self._post(entry.url, body, headers, self.timeout)
            if not 200 <= code < 300:
                error = f"HTTP {code}"
        except (httpx.HTTPError, OSError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
        duration = (time.perf_counter() - started) * 1000
        ok = error is None
        attempt = entry.attempts + 1
        now = self._now()
        c = t.webhook_outbox.c
        with tenant_transaction(self.engine, entry.tenant_id) as conn:
            conn.execute(
                sa.insert(t.webhook_attempts).values(
                    id=uuid.uuid4(), outbox_id=entry.id, tenant_id=entry.tenant_id, attempt=attempt, at=now,
                    status_code=code, error=error, duration_ms=duration,
                )
            )
            values: dict[str, Any] = {"attempts": attempt, "last_error": error}
            if ok:
                values |= {"status": "delivered", "delivered_at": now}
            else:
                values["next_attempt_at"] = now + timedelta(seconds=self.backoff(attempt))
            conn.execute(
                sa.update(t.webhook_outbox).where(c.tenant_id == entry.tenant_id, c.id == entry.id).values(**values)
            )
        return ok

    def drain(self, tenant_id: str | None = None, *, limit: int = 100) -> DrainResult:
        """Try every due webhook (of TENANT_ID, or of every tenant with pending ones) once.

        Returns:
            How many were delivered and how many failed (those are retried after their backoff).
        """
        result = DrainResult()
        tenants = [tenant_id] if tenant_id is not None else self.tenants_with_pending()
        for tenant in tenants:
            for entry in self._claim(tenant, limit):
                if self._deliver(entry):
                    result.delivered += 1
                else:
                    result.failed += 1
        return result

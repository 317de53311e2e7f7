"""State and helpers shared by the parts of the SQL registry store (``registry.sql_store``).

The store is one class, :class:`~aion_assets.registry.sql_store.SqlRegistryStore`, assembled from
parts that each keep one concern: versions and their status (``sql_versions``), routes (``sql_store``
itself), evaluation imports, deployments and the audit log (``sql_records``). They share what is here:
the engine, the clock, the audit writer and the version loader.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from aion_assets.registry import tables as t
from aion_assets.registry.models import ModelVersion, utc
from aion_assets.registry.rows import (  # the mappers are private to the sql_* modules of the store
    _metric,
    _version,
)


class SqlStoreBase:
    """The engine, the clock and the helpers every part of the SQL store uses (see ``SqlRegistryStore``)."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self._clock = clock or (lambda: datetime.now(UTC))
        self._audit_lock = threading.Lock()
        self._last_audit_at = datetime.min.replace(tzinfo=UTC)

    def _now(self) -> datetime:
        return utc(self._clock())

    @staticmethod
    def _insert(conn: Connection, table: sa.Table) -> Any:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)

    def _append_audit(
        self,
        conn: Connection,
        tenant_id: str,
        actor: str,
        action: str,
        subject: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        with self._audit_lock:
            # Strictly increasing within this process, so entries written in one transaction
            # (a rollback's model.retired, then route.rollback) list in the order they happened.
            at = max(self._now(), self._last_audit_at + timedelta(microseconds=1))
            self._last_audit_at = at
        conn.execute(
            sa.insert(t.audit_log).values(
                id=uuid.uuid4(),
                tenant_id=tenant_id,
                actor=actor,
                action=action,
                subject=subject,
                before_json=before,
                after_json=after,
                at=at,
            )
        )

    def _load_version(
        self, conn: Connection, tenant_id: str, model_id: uuid.UUID, *, lock: bool = False
    ) -> ModelVersion | None:
        query = sa.select(t.models).where(t.models.c.id == model_id, t.models.c.tenant_id == tenant_id)
        row = conn.execute(query.with_for_update() if lock else query).first()
        if row is None:
            return None
        metrics = conn.execute(
            sa.select(t.metrics).where(t.metrics.c.model_id == model_id, t.metrics.c.tenant_id == tenant_id)
            .order_by(t.metrics.c.name)
        )
        return _version(row, (_metric(m) for m in metrics))

    def _routes_using(
        self, conn: Connection, tenant_id: str, model_id: uuid.UUID, *, except_agent: str | None = None
    ) -> list[str]:
        r = t.routes.c
        query = sa.select(r.agent_id).where(
            r.tenant_id == tenant_id, sa.or_(r.default_model_id == model_id, r.fallback_model_id == model_id)
        )
        if except_agent is not None:
            query = query.where(r.agent_id != except_agent)
        return list(conn.execute(query.order_by(r.agent_id)).scalars())

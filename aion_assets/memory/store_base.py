"""What the memory store's topic modules share: the engine, the tenant-row cache, row mappers.

`MemoryStore` (``memory.store``) is assembled from ``store_writes`` (interactions, self-edits and
evaluations written), ``store_reads`` (reads and keyset paging) and ``store_tenants`` (tenant
settings); each of those extends `StoreBase`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from aion_assets.core.db import tenant_transaction
from aion_assets.memory import tables as t
from aion_assets.memory.models import Interaction, SelfEdit, Tenant, utc


def now_utc() -> datetime:
    """The current time, UTC-aware (the stamp of rows written without one)."""
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """VALUE as an aware UTC datetime (None stays None)."""
    return None if value is None else utc(value)


def to_interaction(row: Any) -> Interaction:
    """An ``interactions`` row as the domain object."""
    m = row._mapping
    return Interaction(
        id=m["id"],
        tenant_id=m["tenant_id"],
        agent_id=m["agent_id"],
        user_id=m["user_id"],
        input_text=m["input_text"],
        output_text=m["output_text"],
        model_version=m["model_version"],
        channel=m["channel"],
        timestamp=utc(m["timestamp"]),
        metadata=m["metadata"] or {},
    )


def to_self_edit(row: Any) -> SelfEdit:
    """A ``self_edits`` row as the domain object."""
    m = row._mapping
    return SelfEdit(
        id=m["id"],
        tenant_id=m["tenant_id"],
        interaction_id=m["interaction_id"],
        agent_id=m["agent_id"],
        editor_type=m["editor_type"],
        original_output=m["original_output"],
        edited_output=m["edited_output"],
        reason_code=m["reason_code"],
        reward_score=m["reward_score"],
        status=m["status"],
        reviewer=m["reviewer"],
        reviewed_at=aware(m["reviewed_at"]),
        timestamp=utc(m["timestamp"]),
        metadata=m["metadata"] or {},
    )


def to_tenant(row: Any) -> Tenant:
    """A ``tenants`` row as the domain object."""
    return Tenant(
        tenant_id=row.tenant_id,
        retention_days=row.retention_days,
        adaptation_opt_out=row.adaptation_opt_out,
        config=row.config or {},
        created_at=utc(row.created_at),
    )


class StoreBase:
    """The engine and the tenant-row cache that every part of `MemoryStore` works with.

    Args:
        engine: a SQLAlchemy engine from ``aion_assets.core.db.make_engine``, connected as
            the application role.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._known_tenants: set[str] = set()

    def _insert(self, conn: Connection, table: sa.Table) -> Any:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)

    def _ensure_tenant(self, conn: Connection, tenant_id: str) -> bool:
        """Insert TENANT_ID's row unless it is known to exist; True when the insert was sent."""
        if tenant_id in self._known_tenants:
            return False
        stmt = self._insert(conn, t.tenants).values(tenant_id=tenant_id, config={}, created_at=now_utc())
        conn.execute(stmt.on_conflict_do_nothing(index_elements=["tenant_id"]))
        return True

    @contextlib.contextmanager
    def _tenant_writes(self, tenant_id: str) -> Iterator[Connection]:
        """A write transaction of TENANT_ID that first makes sure the tenant's row exists.

        The tenant is remembered as existing only after the transaction has committed: when a
        first request fails (a 409, a refused value, a lost commit), its tenants row is rolled
        back with everything else, and the next request inserts it again.
        """
        with tenant_transaction(self.engine, tenant_id) as conn:
            inserted = self._ensure_tenant(conn, tenant_id)
            yield conn
        if inserted:
            self._known_tenants.add(tenant_id)

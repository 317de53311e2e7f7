"""Queries the pipeline needs beyond ``MemoryStore`` (candidates to move into ``store.py``).

Plain SQLAlchemy Core, tenant-scoped through ``tenant_transaction`` so that row-level security
applies on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from aion_assets.core.db import tenant_transaction
from aion_assets.memory import tables as t
from aion_assets.memory.models import EditStatus, utc


@dataclass(frozen=True, slots=True)
class ApprovedEdit:
    """What the sensor needs of one approved edit: when it was approved and where it belongs."""

    reviewed_at: datetime
    reward_score: float
    agent_id: str
    interaction_metadata: dict[str, Any]


def iter_approved_between(
    engine: Engine,
    tenant_id: str,
    *,
    after: datetime | None,
    until: datetime,
    min_reward: float = 0.0,
    batch_size: int = 1000,
) -> Iterator[ApprovedEdit]:
    """TENANT_ID's edits approved in (AFTER, UNTIL] with reward >= MIN_REWARD, oldest approval first."""
    e, i = t.self_edits.c, t.interactions.c
    query = (
        sa.select(e.reviewed_at, e.reward_score, i.agent_id, i.metadata)
        .join(t.interactions, i.id == e.interaction_id)
        .where(e.tenant_id == tenant_id, i.tenant_id == tenant_id, e.status == EditStatus.approved.value)
        .where(e.reviewed_at.is_not(None), e.reviewed_at <= utc(until), e.reward_score >= min_reward)
        .order_by(e.reviewed_at, e.id)
    )
    if after is not None:
        query = query.where(e.reviewed_at > utc(after))
    with tenant_transaction(engine, tenant_id, read_only=True) as conn:
        for row in conn.execution_options(stream_results=True, yield_per=batch_size).execute(query):
            yield ApprovedEdit(utc(row.reviewed_at), float(row.reward_score), row.agent_id, row.metadata or {})

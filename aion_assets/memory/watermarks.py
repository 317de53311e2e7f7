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


@dataclass(frozen=True, slots=True)
class AnswerChange:
    """An interaction whose answer new approvals extended: the texts counted before and the new ones."""

    interaction_id: Any
    user_id: str | None
    message: str
    before: tuple[str, ...]  # the output and the edits approved up to the watermark (empty: a new answer)
    output: str
    added: tuple[str, ...]  # edited outputs approved after the watermark


def _through(e: Any, through: datetime | None) -> Any:
    """Approved edits counted up to THROUGH: reviewed at or before it, or never stamped."""
    if through is None:
        return e.reviewed_at.is_(None)
    return sa.or_(e.reviewed_at.is_(None), e.reviewed_at <= utc(through))


def count_approved_through(engine: Engine, tenant_id: str, through: datetime | None) -> int:
    """How many of TENANT_ID's approved edits were reviewed at or before THROUGH (or carry no review time).

    A learner that counted N edits up to THROUGH compares this with N: another number means an
    edit was deleted (retention, a purge) or committed late with an earlier time; it learns again.
    """
    e = t.self_edits.c
    query = sa.select(sa.func.count()).where(
        e.tenant_id == tenant_id, e.status == EditStatus.approved.value, _through(e, through)
    )
    with tenant_transaction(engine, tenant_id, read_only=True) as conn:
        return int(conn.execute(query).scalar_one())


def newest_approval(engine: Engine, tenant_id: str) -> datetime | None:
    """The newest review time of TENANT_ID's approved edits (None: none is stamped)."""
    e = t.self_edits.c
    query = sa.select(sa.func.max(e.reviewed_at)).where(e.tenant_id == tenant_id, e.status == EditStatus.approved.value)
    with tenant_transaction(engine, tenant_id, read_only=True) as conn:
        newest = conn.execute(query).scalar_one()
    return None if newest is None else utc(newest)


def answers_changed_after(
    engine: Engine, tenant_id: str, after: datetime | None, *, chunk: int = 1000
) -> tuple[list[AnswerChange], datetime | None, int]:
    """The answers that edits approved after AFTER created or extended, oldest approval first.

    Returns (changes, the newest review time read, the number of edits read); reads rows in
    proportion to the new approvals and the interactions they touch, never the history.
    """
    e, i = t.self_edits.c, t.interactions.c
    approved = (e.tenant_id == tenant_id, e.status == EditStatus.approved.value)
    newer = e.reviewed_at.is_not(None) if after is None else e.reviewed_at > utc(after)
    added: dict[Any, list[str]] = {}
    newest: datetime | None = None
    n = 0
    with tenant_transaction(engine, tenant_id, read_only=True) as conn:
        rows = conn.execute(
            sa.select(e.interaction_id, e.edited_output, e.reviewed_at)
            .where(*approved, newer)
            .order_by(e.reviewed_at, e.id)
        )
        for row in rows:
            added.setdefault(row.interaction_id, []).append(row.edited_output)
            newest = utc(row.reviewed_at)
            n += 1
        ids = list(added)
        inters: dict[Any, Any] = {}
        before: dict[Any, list[str]] = {}
        for start in range(0, len(ids), chunk):
            part = ids[start : start + chunk]
            for inter_row in conn.execute(
                sa.select(i.id, i.user_id, i.input_text, i.output_text).where(i.tenant_id == tenant_id, i.id.in_(part))
            ):
                inters[inter_row.id] = inter_row
            for edit_row in conn.execute(
                sa.select(e.interaction_id, e.edited_output).where(
                    *approved, e.interaction_id.in_(part), _through(e, after)
                )
            ):
                before.setdefault(edit_row.interaction_id, []).append(edit_row.edited_output)
    changes = []
    for iid, texts in added.items():
        inter = inters.get(iid)
        if inter is None:  # deleted meanwhile: the next count check sees it
            continue
        old = before.get(iid, [])
        changes.append(AnswerChange(
            interaction_id=iid,
            user_id=inter.user_id,
            message=inter.input_text,
            before=tuple(dict.fromkeys([inter.output_text, *old])) if old else (),
            output=inter.output_text,
            added=tuple(dict.fromkeys(texts)),
        ))
    return changes, newest, n

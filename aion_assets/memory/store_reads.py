"""Reads of the memory store: single rows, keyset-paged lists, the approved-edits stream, counts.

Every read runs in a short read-only transaction scoped to the caller's tenant (on SQLite it
begins DEFERRED and blocks no writer); nothing is handed to a caller from inside one. Part of
`MemoryStore` (``memory.store``).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from aion_assets.core.db import tenant_transaction, translate_errors
from aion_assets.core.errors import NotFoundError
from aion_assets.memory import tables as t
from aion_assets.memory.models import (
    EditorType,
    EditStatus,
    Evaluation,
    Interaction,
    SelfEdit,
    SelfEditPage,
    sane_utc,
    utc,
)
from aion_assets.memory.store_base import StoreBase, aware, to_interaction, to_self_edit


class InvalidCursorError(ValueError):
    """A pagination cursor that this store did not issue."""


def encode_cursor(timestamp: datetime, row_id: uuid.UUID) -> str:
    """An opaque keyset cursor for (timestamp, id) ordering."""
    raw = json.dumps([utc(timestamp).isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """Inverse of :func:`encode_cursor`; raises InvalidCursorError on anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        ts, rid = json.loads(raw)
        # sane_utc: a forged cursor dated year 1 at +01:00 overflowed in utc() and gave a 500.
        return sane_utc(datetime.fromisoformat(ts)), uuid.UUID(rid)
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise InvalidCursorError("cursor is not one this API issued") from exc


class StoreReads(StoreBase):
    """Tenant-scoped reads of interactions, self-edits and evaluations."""

    def get_interaction(self, tenant_id: str, interaction_id: uuid.UUID) -> Interaction:
        """Return one interaction of TENANT_ID; NotFoundError if absent or another tenant's."""
        with tenant_transaction(self.engine, tenant_id, read_only=True) as conn:
            row = conn.execute(
                sa.select(t.interactions).where(
                    t.interactions.c.id == interaction_id, t.interactions.c.tenant_id == tenant_id
                )
            ).first()
        if row is None:
            raise NotFoundError(f"interaction {interaction_id} not found")
        return to_interaction(row)

    def get_self_edit(self, tenant_id: str, edit_id: uuid.UUID) -> SelfEdit:
        """Return one self-edit of TENANT_ID; NotFoundError if absent or another tenant's."""
        with tenant_transaction(self.engine, tenant_id, read_only=True) as conn:
            row = conn.execute(
                sa.select(t.self_edits).where(t.self_edits.c.id == edit_id, t.self_edits.c.tenant_id == tenant_id)
            ).first()
        if row is None:
            raise NotFoundError(f"self-edit {edit_id} not found")
        return to_self_edit(row)

    def list_self_edits(
        self,
        tenant_id: str,
        *,
        status: EditStatus | None = None,
        agent_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        editor_type: EditorType | None = None,
        reason_code: str | None = None,
        min_reward: float | None = None,
        max_reward: float | None = None,
    ) -> SelfEditPage:
        """A page of TENANT_ID's self-edits, oldest first.

        Args:
            status, agent_id, editor_type, reason_code: keep only edits with this value.
            min_reward, max_reward: keep only edits whose reward lies in [MIN_REWARD, MAX_REWARD].
            limit: page size.
            cursor: ``next_cursor`` of the previous page (the same filters must be passed again).

        Raises:
            InvalidCursorError: CURSOR was not issued by this store.
        """
        c = t.self_edits.c
        query = sa.select(t.self_edits).where(c.tenant_id == tenant_id)
        if status is not None:
            query = query.where(c.status == status.value)
        if agent_id is not None:
            query = query.where(c.agent_id == agent_id)
        if editor_type is not None:
            query = query.where(c.editor_type == editor_type.value)
        if reason_code is not None:
            query = query.where(c.reason_code == reason_code)
        if min_reward is not None:
            query = query.where(c.reward_score >= min_reward)
        if max_reward is not None:
            query = query.where(c.reward_score <= max_reward)
        if cursor:
            ts, last_id = decode_cursor(cursor)
            query = query.where(sa.tuple_(c.timestamp, c.id) > sa.tuple_(sa.literal(ts, t.TS), sa.literal(last_id)))
        query = query.order_by(c.timestamp, c.id).limit(limit + 1)
        with tenant_transaction(self.engine, tenant_id, read_only=True) as conn:
            items = [to_self_edit(r) for r in conn.execute(query)]
        next_cursor = None
        if len(items) > limit:
            items = items[:limit]
            next_cursor = encode_cursor(items[-1].timestamp, items[-1].id)
        return SelfEditPage(items=items, next_cursor=next_cursor)

    def iter_approved_edits(
        self,
        tenant_id: str,
        *,
        min_reward: float = 0.0,
        agent_id: str | None = None,
        since: datetime | None = None,
        batch_size: int = 256,
    ) -> Iterator[tuple[SelfEdit, Interaction]]:
        """Stream TENANT_ID's approved edits with their interactions, in constant memory.

        Rows come in (interaction_id, reward desc, timestamp desc, id) order so that callers
        can deduplicate by interaction while streaming.

        The rows are read in keyset pages of BATCH_SIZE, each in its own short read-only
        transaction, and handed out only after that transaction has ended: however slowly
        the caller consumes (a streaming export to a slow client, a scrubber), no transaction
        stays open and no pooled connection is held between pages. An edit approved while the
        stream runs appears if its place in the order has not been passed yet.
        """
        e, i = t.self_edits.c, t.interactions.c
        query = (
            sa.select(t.self_edits, *[col.label(f"i_{col.name}") for col in t.interactions.c])
            .join(t.interactions, i.id == e.interaction_id)
            .where(e.tenant_id == tenant_id, i.tenant_id == tenant_id, e.status == EditStatus.approved.value)
            .where(e.reward_score >= min_reward)
            .order_by(e.interaction_id, e.reward_score.desc(), e.timestamp.desc(), e.id)
            .limit(batch_size)
        )
        if agent_id is not None:
            query = query.where(e.agent_id == agent_id)
        if since is not None:
            query = query.where(e.timestamp >= utc(since))
        page_query = query
        # Column names and their labels resolved once, not per row (a 100,000-row export reads them a million times).
        inter_cols = [(col.name, f"i_{col.name}") for col in t.interactions.c]
        while True:
            with translate_errors(), tenant_transaction(self.engine, tenant_id, read_only=True) as conn:
                page = conn.execute(page_query).all()
            for row in page:
                m = row._mapping
                data = {name: m[label] for name, label in inter_cols}
                data["timestamp"] = utc(data["timestamp"])
                yield to_self_edit(row), Interaction.model_validate(data)
            if len(page) < batch_size:
                return
            last = page[-1]._mapping
            # The row after LAST in the sort order above (mixed directions, so spelled out). The two
            # ">= iid" bounds are implied by it; they let PostgreSQL start both index scans at LAST
            # (without them each page scanned the history from its start: quadratic in the rows).
            iid, reward, ts, edit_id = last[e.interaction_id], last[e.reward_score], last[e.timestamp], last[e.id]
            page_query = query.where(
                e.interaction_id >= iid,
                i.id >= iid,
                sa.or_(
                    e.interaction_id > iid,
                    sa.and_(
                        e.interaction_id == iid,
                        sa.or_(
                            e.reward_score < reward,
                            sa.and_(
                                e.reward_score == reward,
                                sa.or_(e.timestamp < ts, sa.and_(e.timestamp == ts, e.id > edit_id)),
                            ),
                        ),
                    ),
                )
            )

    def list_evaluations(self, tenant_id: str, *, model_version: str | None = None) -> list[Evaluation]:
        """TENANT_ID's evaluation metrics, newest first."""
        query = sa.select(t.evaluations).where(t.evaluations.c.tenant_id == tenant_id)
        if model_version is not None:
            query = query.where(t.evaluations.c.model_version == model_version)
        with tenant_transaction(self.engine, tenant_id, read_only=True) as conn:
            rows = conn.execute(query.order_by(t.evaluations.c.timestamp.desc())).all()
        return [Evaluation(**{**r._mapping, "timestamp": utc(r.timestamp), "metadata": r.metadata or {}}) for r in rows]

    def served_quality(
        self, tenant_id: str, model_versions: Sequence[str], since: datetime, *, low_reward: float
    ) -> tuple[int, int]:
        """How a served model fares: interactions it answered since SINCE, and how many of them drew a
        self-edit (any status, any editor) with a reward below LOW_REWARD.

        Args:
            model_versions: the names the gateways record in ``interactions.model_version`` for it.

        Returns:
            ``(served, flagged)``.
        """
        i, e = t.interactions.c, t.self_edits.c
        scope = sa.and_(i.tenant_id == tenant_id, i.model_version.in_(list(model_versions)), i.timestamp >= since)
        low = sa.exists().where(e.interaction_id == i.id, e.tenant_id == tenant_id, e.reward_score < low_reward)
        with tenant_transaction(self.engine, tenant_id, read_only=True) as conn:
            served, flagged = conn.execute(
                sa.select(sa.func.count(), sa.func.count().filter(low)).select_from(t.interactions).where(scope)
            ).one()
        return int(served), int(flagged or 0)

    def counts(self, tenant_id: str) -> dict[str, Any]:
        """Row counts and newest timestamp of TENANT_ID's memory (for observation and the demo)."""
        with tenant_transaction(self.engine, tenant_id, read_only=True) as conn:
            n_inter, newest = conn.execute(
                sa.select(sa.func.count(), sa.func.max(t.interactions.c.timestamp)).where(
                    t.interactions.c.tenant_id == tenant_id
                )
            ).one()
            by_status: dict[str, int] = dict(
                conn.execute(
                    sa.select(t.self_edits.c.status, sa.func.count())
                    .where(t.self_edits.c.tenant_id == tenant_id)
                    .group_by(t.self_edits.c.status)
                ).all()
            )
        return {
            "interactions": int(n_inter),
            "newest": aware(newest),
            "edits": {s.value: int(by_status.get(s.value, 0)) for s in EditStatus},
        }

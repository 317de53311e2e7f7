"""Writes of the memory store: interactions (the ingestion hot path), self-edits and their review, evaluations.

Every write runs in one transaction scoped to the caller's tenant, is all-or-nothing and is
idempotent by id. Part of `MemoryStore` (``memory.store``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from psycopg.types.json import Jsonb
from sqlalchemy.engine import Connection

from aion_assets.core.db import tenant_pipeline, tenant_transaction
from aion_assets.core.errors import ConflictError, NotFoundError
from aion_assets.memory import tables as t
from aion_assets.memory.models import (
    EditStatus,
    Evaluation,
    EvaluationIn,
    Interaction,
    InteractionIn,
    SelfEdit,
    SelfEditIn,
)
from aion_assets.memory.store_base import StoreBase, now_utc, to_interaction, to_self_edit

_PG_INSERT_INTERACTION = (
    "INSERT INTO aion_memory.interactions (id, tenant_id, agent_id, user_id, input_text, output_text, "
    "model_version, channel, timestamp, metadata) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (id) DO NOTHING RETURNING id"
)


def _pg_params(row: dict[str, Any]) -> tuple[Any, ...]:
    """ROW as the parameters of ``_PG_INSERT_INTERACTION``."""
    return (
        row["id"],
        row["tenant_id"],
        row["agent_id"],
        row["user_id"],
        row["input_text"],
        row["output_text"],
        row["model_version"],
        row["channel"],
        row["timestamp"],
        Jsonb(row["metadata"]),
    )


class StoreWrites(StoreBase):
    """Interactions, self-edits and evaluations written for one tenant at a time."""

    def add_interactions(self, tenant_id: str, items: Sequence[InteractionIn]) -> tuple[list[Interaction], int]:
        """Store ITEMS for TENANT_ID, all or nothing; ids already stored are not written again.

        Args:
            tenant_id: the caller's tenant; every item is stored under it.
            items: validated inputs; items without an id get a new UUID.

        Returns:
            The stored interactions in input order (for replayed ids: the row as stored
            first) and how many were newly created.

        Raises:
            ConflictError: an id is already used by another tenant, or twice in ITEMS.
        """
        now = now_utc()
        rows: list[dict[str, Any]] = []
        seen: dict[uuid.UUID, int] = {}
        for index, item in enumerate(items):
            row_id = item.id or uuid.uuid4()
            if row_id in seen:
                raise ConflictError(f"[{index}].id repeats the id of item {seen[row_id]}")
            seen[row_id] = index
            rows.append(
                {
                    "id": row_id,
                    "tenant_id": tenant_id,
                    "agent_id": item.agent_id,
                    "user_id": item.user_id,
                    "input_text": item.input_text,
                    "output_text": item.output_text,
                    "model_version": item.model_version,
                    "channel": item.channel,
                    "timestamp": item.timestamp or now,
                    "metadata": item.metadata,
                }
            )
        if not rows:
            return [], 0
        if len(rows) == 1 and tenant_id in self._known_tenants and self.engine.dialect.name == "postgresql":
            return self._add_one_interaction_pg(tenant_id, rows[0])
        with self._tenant_writes(tenant_id) as conn:
            created = self._insert_interaction_rows(conn, rows)
            replayed = [row["id"] for row in rows if row["id"] not in created]
            stored: dict[uuid.UUID, Interaction] = {}
            if replayed:
                query = sa.select(t.interactions).where(
                    t.interactions.c.tenant_id == tenant_id, t.interactions.c.id.in_(replayed)
                )
                stored = {r.id: to_interaction(r) for r in conn.execute(query)}
                for row_id in replayed:
                    if row_id not in stored:
                        # Raising inside the transaction rolls back the rows inserted above.
                        raise ConflictError(f"[{seen[row_id]}].id {row_id} is already used")
        out = [stored[row["id"]] if row["id"] in stored else Interaction.model_validate(row) for row in rows]
        return out, len(created)

    def _insert_interaction_rows(self, conn: Connection, rows: list[dict[str, Any]]) -> set[uuid.UUID]:
        """Insert ROWS, skipping ids already stored; returns the ids actually inserted."""
        if conn.dialect.name != "postgresql":
            stmt = (
                self._insert(conn, t.interactions)
                .on_conflict_do_nothing(index_elements=["id"])
                .returning(t.interactions.c.id)
            )
            return {r[0] for r in conn.execute(stmt, rows) if r[0] is not None}
        # The hot path of ingestion: one short prepared statement sent for every row in a
        # single pipeline round trip. SQLAlchemy's multi-VALUES form costs ~7 ms per 100
        # rows in psycopg's query parsing (long statements are not cached).
        raw = conn.connection.driver_connection
        assert raw is not None
        params = [_pg_params(r) for r in rows]
        created: set[uuid.UUID] = set()
        with raw.cursor() as cur:
            if len(params) == 1:
                # A pipeline costs more than it saves for one row.
                cur.execute(_PG_INSERT_INTERACTION, params[0], prepare=True)
                row = cur.fetchone()
                return {row[0]} if row is not None else set()
            cur.executemany(_PG_INSERT_INTERACTION, params, returning=True)
            while True:
                row = cur.fetchone()
                if row is not None:
                    created.add(row[0])
                if not cur.nextset():
                    break
        return created

    def _add_one_interaction_pg(self, tenant_id: str, row: dict[str, Any]) -> tuple[list[Interaction], int]:
        """The single-row POST on PostgreSQL for a tenant whose row exists: one round trip.

        BEGIN, the tenant, the INSERT and COMMIT go out as one pipeline (``tenant_pipeline``;
        ``_tenant_writes`` makes four round trips). Committing before the INSERT's answer is read
        is safe: an id already stored inserts nothing. That row is then read in a transaction of
        its own, as the replay's answer, or a ConflictError when it is another tenant's (RLS
        hides it).
        """
        with tenant_pipeline(self.engine, tenant_id) as raw:
            cur = raw.cursor()  # read after the pipeline's one round trip
            cur.execute(_PG_INSERT_INTERACTION, _pg_params(row), prepare=True)
        with cur:
            if cur.fetchone() is not None:
                return [Interaction.model_validate(row)], 1
        with tenant_transaction(self.engine, tenant_id, read_only=True) as conn:
            query = sa.select(t.interactions).where(
                t.interactions.c.tenant_id == tenant_id, t.interactions.c.id == row["id"]
            )
            stored = conn.execute(query).first()
        if stored is None:
            raise ConflictError(f"[0].id {row['id']} is already used")
        return [to_interaction(stored)], 0

    def add_self_edit(self, tenant_id: str, edit: SelfEditIn) -> tuple[SelfEdit, bool]:
        """Store a pending self-edit of one of TENANT_ID's interactions.

        Returns:
            The stored edit and whether it was newly created (False for a replayed id).

        Raises:
            NotFoundError: the interaction does not exist for this tenant.
            ConflictError: the id is already used by another tenant.
        """
        edit_id = edit.id or uuid.uuid4()
        with tenant_transaction(self.engine, tenant_id) as conn:
            existing = conn.execute(
                sa.select(t.self_edits).where(t.self_edits.c.id == edit_id, t.self_edits.c.tenant_id == tenant_id)
            ).first()
            if existing is not None:
                return to_self_edit(existing), False
            parent = conn.execute(
                sa.select(t.interactions.c.agent_id, t.interactions.c.output_text).where(
                    t.interactions.c.id == edit.interaction_id, t.interactions.c.tenant_id == tenant_id
                )
            ).first()
            if parent is None:
                raise NotFoundError(f"interaction_id {edit.interaction_id} is not an interaction of this tenant")
            row = {
                "id": edit_id,
                "tenant_id": tenant_id,
                "interaction_id": edit.interaction_id,
                "agent_id": parent.agent_id,
                "editor_type": edit.editor_type.value,
                "original_output": edit.original_output if edit.original_output is not None else parent.output_text,
                "edited_output": edit.edited_output,
                "reason_code": edit.reason_code,
                "reward_score": edit.reward_score,
                "status": EditStatus.pending.value,
                "reviewer": None,
                "reviewed_at": None,
                "timestamp": edit.timestamp or now_utc(),
                "metadata": edit.metadata,
            }
            inserted = conn.execute(
                self._insert(conn, t.self_edits)
                .values(row)
                .on_conflict_do_nothing(index_elements=["id"])
                .returning(t.self_edits.c.id)
            ).first()
            if inserted is None:
                # A concurrent retry won the race (same tenant) or the id is another tenant's.
                again = conn.execute(
                    sa.select(t.self_edits).where(t.self_edits.c.id == edit_id, t.self_edits.c.tenant_id == tenant_id)
                ).first()
                if again is None:
                    raise ConflictError(f"id {edit_id} is already used")
                return to_self_edit(again), False
        return SelfEdit(**row), True

    def review_self_edit(
        self,
        tenant_id: str,
        edit_id: uuid.UUID,
        decision: EditStatus,
        reviewer: str,
        *,
        edited_output: str | None = None,
        note: str | None = None,
    ) -> SelfEdit:
        """Approve or reject a self-edit (optionally amending its edited output).

        Repeating the same decision is a no-op that returns the edit; reversing a decision
        already taken raises ConflictError.
        """
        if decision is EditStatus.pending:
            raise ValueError("decision must be approved or rejected")
        with tenant_transaction(self.engine, tenant_id) as conn:
            row = conn.execute(
                sa.select(t.self_edits)
                .where(t.self_edits.c.id == edit_id, t.self_edits.c.tenant_id == tenant_id)
                .with_for_update()
            ).first()
            if row is None:
                raise NotFoundError(f"self-edit {edit_id} not found")
            current = to_self_edit(row)
            if current.status == decision:
                return current
            if current.status != EditStatus.pending:
                raise ConflictError(f"self-edit {edit_id} is already {current.status.value}")
            values: dict[str, Any] = {"status": decision.value, "reviewer": reviewer, "reviewed_at": now_utc()}
            if edited_output is not None:
                values["edited_output"] = edited_output
            if note:
                values["metadata"] = {**current.metadata, "review_note": note}
            conn.execute(
                sa.update(t.self_edits)
                .where(t.self_edits.c.id == edit_id, t.self_edits.c.tenant_id == tenant_id)
                .values(**values)
            )
        return current.model_copy(update=values | {"status": decision})

    def add_evaluations(self, tenant_id: str, items: Sequence[EvaluationIn]) -> list[Evaluation]:
        """Store evaluation metrics for TENANT_ID in one transaction."""
        now = now_utc()
        rows = [{"id": uuid.uuid4(), "tenant_id": tenant_id, "timestamp": now, **item.model_dump()} for item in items]
        if not rows:
            return []
        with self._tenant_writes(tenant_id) as conn:
            conn.execute(sa.insert(t.evaluations), rows)
        return [Evaluation(**row) for row in rows]

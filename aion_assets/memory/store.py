"""The memory store: interactions, self-edits and evaluations, on SQLite or PostgreSQL.

Every method takes the caller's tenant and runs in one transaction scoped to it
(``tenant_transaction``), so on PostgreSQL row-level security applies on top of the
explicit ``tenant_id`` filters used here (the only guard on SQLite). Writes are
all-or-nothing and idempotent by id.
"""

from __future__ import annotations

import base64
import contextlib
import json
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from psycopg.types.json import Jsonb
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from aion_assets.core.db import tenant_transaction, translate_errors
from aion_assets.core.errors import ConflictError, NotFoundError
from aion_assets.memory import tables as t
from aion_assets.memory.models import (
    EditorType,
    EditStatus,
    Evaluation,
    EvaluationIn,
    Interaction,
    InteractionIn,
    SelfEdit,
    SelfEditIn,
    SelfEditPage,
    Tenant,
    sane_utc,
    utc,
)

_PG_INSERT_INTERACTION = (
    "INSERT INTO aion_memory.interactions (id, tenant_id, agent_id, user_id, input_text, output_text, "
    "model_version, channel, timestamp, metadata) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (id) DO NOTHING RETURNING id"
)


class InvalidCursorError(ValueError):
    """A pagination cursor that this store did not issue."""


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


def _interaction(row: Any) -> Interaction:
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


def _self_edit(row: Any) -> SelfEdit:
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
        reviewed_at=_aware(m["reviewed_at"]),
        timestamp=utc(m["timestamp"]),
        metadata=m["metadata"] or {},
    )


def _tenant(row: Any) -> Tenant:
    return Tenant(
        tenant_id=row.tenant_id,
        retention_days=row.retention_days,
        adaptation_opt_out=row.adaptation_opt_out,
        config=row.config or {},
        created_at=utc(row.created_at),
    )


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


class MemoryStore:
    """Tenant-scoped access to the memory tables.

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
        stmt = self._insert(conn, t.tenants).values(tenant_id=tenant_id, config={}, created_at=_now())
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

    # -- interactions -------------------------------------------------------------------

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
        now = _now()
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
        with self._tenant_writes(tenant_id) as conn:
            created = self._insert_interaction_rows(conn, rows)
            replayed = [row["id"] for row in rows if row["id"] not in created]
            stored: dict[uuid.UUID, Interaction] = {}
            if replayed:
                query = sa.select(t.interactions).where(
                    t.interactions.c.tenant_id == tenant_id, t.interactions.c.id.in_(replayed)
                )
                stored = {r.id: _interaction(r) for r in conn.execute(query)}
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
        params = [
            (
                r["id"],
                r["tenant_id"],
                r["agent_id"],
                r["user_id"],
                r["input_text"],
                r["output_text"],
                r["model_version"],
                r["channel"],
                r["timestamp"],
                Jsonb(r["metadata"]),
            )
            for r in rows
        ]
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
        return _interaction(row)

    # -- self-edits ---------------------------------------------------------------------

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
                return _self_edit(existing), False
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
                "timestamp": edit.timestamp or _now(),
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
                return _self_edit(again), False
        return SelfEdit(**row), True

    def get_self_edit(self, tenant_id: str, edit_id: uuid.UUID) -> SelfEdit:
        """Return one self-edit of TENANT_ID; NotFoundError if absent or another tenant's."""
        with tenant_transaction(self.engine, tenant_id, read_only=True) as conn:
            row = conn.execute(
                sa.select(t.self_edits).where(t.self_edits.c.id == edit_id, t.self_edits.c.tenant_id == tenant_id)
            ).first()
        if row is None:
            raise NotFoundError(f"self-edit {edit_id} not found")
        return _self_edit(row)

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
            current = _self_edit(row)
            if current.status == decision:
                return current
            if current.status != EditStatus.pending:
                raise ConflictError(f"self-edit {edit_id} is already {current.status.value}")
            values: dict[str, Any] = {"status": decision.value, "reviewer": reviewer, "reviewed_at": _now()}
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
            items = [_self_edit(r) for r in conn.execute(query)]
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
        while True:
            with translate_errors(), tenant_transaction(self.engine, tenant_id, read_only=True) as conn:
                page = conn.execute(page_query).all()
            for row in page:
                m = row._mapping
                inter = Interaction.model_validate(
                    {
                        col.name: (utc(m[f"i_{col.name}"]) if col.name == "timestamp" else m[f"i_{col.name}"])
                        for col in t.interactions.c
                    }
                )
                yield _self_edit(row), inter
            if len(page) < batch_size:
                return
            last = page[-1]._mapping
            # The row after LAST in the sort order above (mixed directions, so spelled out).
            iid, reward, ts, edit_id = last[e.interaction_id], last[e.reward_score], last[e.timestamp], last[e.id]
            page_query = query.where(
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

    # -- tenants and evaluations ----------------------------------------------------------

    def list_tenant_ids(self) -> list[str]:
        """The ids of every tenant that has sent data, sorted.

        On PostgreSQL through ``aion_memory.tenant_ids()`` (migration 0003): row-level security
        hides other tenants' rows from the application role, and this SECURITY DEFINER function
        hands out ids only, never another tenant's settings.
        """
        with tenant_transaction(self.engine, None, read_only=True) as conn:
            if conn.dialect.name == "postgresql":
                return [r[0] for r in conn.execute(sa.text("SELECT aion_memory.tenant_ids()")).all()]
            return [r[0] for r in conn.execute(sa.select(t.tenants.c.tenant_id).order_by(t.tenants.c.tenant_id))]

    def list_tenants(self) -> list[Tenant]:
        """Every tenant that has sent data, with its settings (each read in its own tenant's transaction)."""
        tenants = (self.get_tenant(tenant_id) for tenant_id in self.list_tenant_ids())
        return [tenant for tenant in tenants if tenant is not None]

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        """TENANT_ID's settings, or None when the tenant never sent data (callers then use defaults).

        Read in a transaction scoped to TENANT_ID: under row-level security it sees that row only.
        """
        with tenant_transaction(self.engine, tenant_id, read_only=True) as conn:
            row = conn.execute(sa.select(t.tenants).where(t.tenants.c.tenant_id == tenant_id)).first()
        return _tenant(row) if row is not None else None

    def configure_tenant(
        self,
        tenant_id: str,
        *,
        retention_days: int | None = None,
        adaptation_opt_out: bool | None = None,
        config: dict[str, Any] | None = None,
    ) -> Tenant:
        """Create or update TENANT_ID's settings; arguments left None keep their stored value.

        CONFIG replaces the stored config object as a whole (validate it first with
        ``aion_assets.seal.datasets.tenant_config.validate_tenant_config``). On PostgreSQL only
        the schema owner may change settings (``aion tenant`` connects with AION_DATABASE_ADMIN_URL):
        the application role has no UPDATE on ``tenants``.
        """
        if retention_days is not None and retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        values: dict[str, Any] = {}
        if retention_days is not None:
            values["retention_days"] = retention_days
        if adaptation_opt_out is not None:
            values["adaptation_opt_out"] = adaptation_opt_out
        if config is not None:
            values["config"] = config
        with self._tenant_writes(tenant_id) as conn:
            if values:
                conn.execute(sa.update(t.tenants).where(t.tenants.c.tenant_id == tenant_id).values(**values))
            row = conn.execute(sa.select(t.tenants).where(t.tenants.c.tenant_id == tenant_id)).one()
        return _tenant(row)

    def add_evaluations(self, tenant_id: str, items: Sequence[EvaluationIn]) -> list[Evaluation]:
        """Store evaluation metrics for TENANT_ID in one transaction."""
        now = _now()
        rows = [{"id": uuid.uuid4(), "tenant_id": tenant_id, "timestamp": now, **item.model_dump()} for item in items]
        if not rows:
            return []
        with self._tenant_writes(tenant_id) as conn:
            conn.execute(sa.insert(t.evaluations), rows)
        return [Evaluation(**row) for row in rows]

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
            "newest": _aware(newest),
            "edits": {s.value: int(by_status.get(s.value, 0)) for s in EditStatus},
        }

"""Purge: delete a user's, or a whole tenant's, interactions and self-edits (``aion purge``).

What goes, in ONE write transaction scoped to the tenant (``tenant_transaction``, so on PostgreSQL
row-level security applies on top of the explicit ``tenant_id`` filters, and the application role,
which has DELETE on the memory tables, is enough; no owner credentials are needed):

- every interaction of the tenant whose ``user_id`` is the user (or every interaction of the
  tenant when no user is given), locked first (``FOR UPDATE`` on PostgreSQL: a self-edit added
  concurrently must wait for the foreign-key check, so none is left behind; SQLite's write
  transaction begins IMMEDIATE and serialises writers);
- every self-edit of those interactions;
- the stored scrubber detections (``scrub_detections``, migration 0005) of their texts: the rows
  keyed by the sha256 of each prompt, answer, original and edited output, reason code and listed
  fact, for every scrubber version (with no user given: all of the tenant's rows). A row of a text
  that another user's interaction repeats goes too; it holds no value and is analysed again when
  needed. The stored scrub results of the same texts (``scrub_results``, migration 0007) go with
  them, for every scrubber version and policy (not counted apart: they follow the detections).

``evaluations`` rows are not touched: they hold aggregate metrics per model version and dataset,
never a user id or a text (the per-example answers live in evaluation reports in the artifact
store; the CLI reports the affected ones). The ``tenants`` row (settings) stays as well.

A dry run reads the same rows in a read-only transaction and deletes nothing. Purging again finds
nothing and reports zero: the operation is idempotent. Rows in retention archives are out of this
module's reach (``aion purge`` lists the tenant's archive days; docs/operations.md, "Purging").
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from aion_assets.core.db import tenant_transaction
from aion_assets.memory import tables as t
from aion_assets.memory.scrub.analysis import text_sha256

_CHUNK = 500  # ids per IN (...) list: well under SQLite's bound on parameters
_MAX_ID = 128  # as the columns


@dataclass(frozen=True)
class PurgeResult:
    """What a purge deleted (or, in a dry run, would delete).

    ``interaction_ids`` and ``edit_ids`` are sorted strings; ``detections`` counts stored scrubber
    detections rows.
    """

    tenant_id: str
    user_id: str | None
    dry_run: bool
    interaction_ids: tuple[str, ...]
    edit_ids: tuple[str, ...]
    detections: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what ``aion purge`` prints under ``memory``)."""
        return {
            "tenant_id": self.tenant_id,
            "user_id": self.user_id,
            "scope": "tenant" if self.user_id is None else "user",
            "dry_run": self.dry_run,
            "interactions": len(self.interaction_ids),
            "self_edits": len(self.edit_ids),
            "scrub_detections": self.detections,
            "interaction_ids": list(self.interaction_ids),
            "edit_ids": list(self.edit_ids),
        }


def _facts(metadata: Mapping[str, Any] | None) -> list[str]:
    facts = (metadata or {}).get("facts")
    return [f for f in facts if isinstance(f, str)] if isinstance(facts, list) else []


def _chunks(values: Sequence[Any]) -> Iterable[list[Any]]:
    for i in range(0, len(values), _CHUNK):
        yield list(values[i : i + _CHUNK])


def _check(name: str, value: str | None) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not value or len(value) > _MAX_ID or "\x00" in value:
        raise ValueError(f"{name} must be a non-empty string of at most {_MAX_ID} characters")


def _select_interactions(conn: Connection, tenant_id: str, user_id: str | None, lock: bool) -> list[Any]:
    i = t.interactions.c
    # A tenant purge drops all of the tenant's detections: it needs no texts, only ids.
    columns = [i.id] if user_id is None else [i.id, i.input_text, i.output_text, i.metadata]
    query = sa.select(*columns).where(i.tenant_id == tenant_id)
    if user_id is not None:
        query = query.where(i.user_id == user_id)
    if lock:
        query = query.with_for_update()
    return list(conn.execute(query.order_by(i.id)))


def _select_edits(
    conn: Connection, tenant_id: str, ids: Sequence[uuid.UUID], lock: bool, texts: bool
) -> list[Any]:
    e = t.self_edits.c
    columns = [e.id, e.original_output, e.edited_output, e.reason_code, e.metadata] if texts else [e.id]
    rows: list[Any] = []
    for part in _chunks(ids):
        query = sa.select(*columns).where(e.tenant_id == tenant_id, e.interaction_id.in_(part))
        if lock:
            query = query.with_for_update()
        rows.extend(conn.execute(query))
    return rows


def _detections_query(tenant_id: str, shas: Sequence[str] | None) -> list[Any]:
    """WHERE clauses of the detections rows to purge: the tenant's, of SHAS (None: all of them)."""
    d = t.scrub_detections.c
    if shas is None:
        return [d.tenant_id == tenant_id]
    return [d.tenant_id == tenant_id, d.text_sha256.in_(list(shas))]


def _texts(inters: Sequence[Any], edits: Sequence[Any]) -> list[str]:
    texts: list[str] = []
    for r in inters:
        texts += [r.input_text, r.output_text, *_facts(r.metadata)]
    for r in edits:
        texts += [r.original_output, r.edited_output, *_facts(r.metadata)]
        if r.reason_code:
            texts.append(r.reason_code)
    return texts


def purge(engine: Engine, tenant_id: str, *, user_id: str | None, dry_run: bool = False) -> PurgeResult:
    """Delete TENANT_ID's interactions of USER_ID (None: of every user) with their edits and detections.

    One transaction for the tenant, as the application role under row-level security (module
    docstring). Another tenant's rows are never read or deleted, even when they have the same user id.

    Args:
        engine: from ``core.db.make_engine`` (the application role is enough).
        tenant_id: whose rows.
        user_id: the end user whose interactions go; None purges the whole tenant's interactions
            and edits (its settings row stays).
        dry_run: only count and list; nothing is deleted.

    Returns:
        The ids deleted (or that would be), sorted; empty when there is nothing (again).

    Raises:
        ValueError: TENANT_ID or USER_ID is empty, too long, or holds a NUL.
        StoreUnavailableError: the database cannot be reached (nothing was deleted).
    """
    _check("tenant_id", tenant_id)
    _check("user_id", user_id)
    with tenant_transaction(engine, tenant_id, read_only=dry_run) as conn:
        inters = _select_interactions(conn, tenant_id, user_id, lock=not dry_run)
        ids = [r.id for r in inters]
        edits = _select_edits(conn, tenant_id, ids, lock=not dry_run, texts=user_id is not None)
        shas = None if user_id is None else sorted({text_sha256(x) for x in _texts(inters, edits)})
        detections = _purge_detections(conn, tenant_id, shas, dry_run)
        if not dry_run:
            e, i = t.self_edits.c, t.interactions.c
            for part in _chunks([r.id for r in edits]):
                conn.execute(sa.delete(t.self_edits).where(e.tenant_id == tenant_id, e.id.in_(part)))
            for part in _chunks(ids):
                conn.execute(sa.delete(t.interactions).where(i.tenant_id == tenant_id, i.id.in_(part)))
    return PurgeResult(
        tenant_id=tenant_id,
        user_id=user_id,
        dry_run=dry_run,
        interaction_ids=tuple(sorted(str(x) for x in ids)),
        edit_ids=tuple(sorted(str(r.id) for r in edits)),
        detections=detections,
    )


def _purge_detections(conn: Connection, tenant_id: str, shas: Sequence[str] | None, dry_run: bool) -> int:
    """Count (DRY_RUN) or delete the tenant's detections rows of SHAS (None: all); the count."""
    table = t.scrub_detections
    total = 0
    parts: Iterable[Sequence[str] | None] = [None] if shas is None else _chunks(shas)
    for part in parts:
        where = _detections_query(tenant_id, part)
        if dry_run:
            total += int(conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one())
        else:
            # RETURNING, not rowcount: a count every driver agrees on.
            total += len(conn.execute(sa.delete(table).where(*where).returning(table.c.text_sha256)).all())
            r = t.scrub_results.c
            results = [r.tenant_id == tenant_id] + ([] if part is None else [r.text_sha256.in_(list(part))])
            conn.execute(sa.delete(t.scrub_results).where(*results))
    return total


__all__ = ["PurgeResult", "purge"]

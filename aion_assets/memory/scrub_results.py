"""Stored scrub results: the spans a tenant's policy replaces in a text, stored once per policy (issue 11).

``scrub_detections`` (``aion_assets.memory.detections``) spares a warm export the NER, but applying
the policy to the stored detections still ran the policy step on every text and on the re-scan of
its output, and read the detections of both passes: most of a warm export's time. For an
independent text (``Scrubber.scrub_many``, not a group with shared pseudonyms) that result depends
only on the text, the scrubber version and the policy, so ``ResultStore`` keeps it in
``aion_memory.scrub_results`` under (tenant, scrubber version, ``policy_fingerprint``, sha256 of the
text): the final spans, offsets and entity types in the original text, never a value. A warm export
reads them (one query per batch) and renders the placeholders (``engine.result_of``); a text, a
policy or a scrubber version never seen runs the policy step (and the NER only if its detections are
not stored either), and its result is stored.

Rows are tenant-scoped (RLS on PostgreSQL), written with ``ON CONFLICT DO NOTHING`` (concurrent
builds agree), and as confidential as ``scrub_detections`` (hashes of the tenant's texts, no value).
A changed policy leaves the rows of the former one in place; ``delete_other_keys`` drops them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from aion_assets.core.db import tenant_transaction
from aion_assets.core.errors import AionError
from aion_assets.memory import tables as t
from aion_assets.memory.scrub.spans import Span

_CHUNK = 1000  # keys per SELECT ... IN / rows per INSERT
_PG_CHUNK = 10_000  # keys per SELECT ... = ANY(array) on PostgreSQL (one parameter)


class StoredResultsError(AionError):
    """A stored scrub result cannot be read (not written by this module)."""


def dump_spans(spans: Sequence[Span]) -> str:
    """SPANS as compact JSON ``[[start, end, type, score], ...]`` (order kept)."""
    return json.dumps([[s.start, s.end, s.entity_type, s.score] for s in spans], separators=(",", ":"))


def load_spans(data: str) -> tuple[Span, ...]:
    """Inverse of :func:`dump_spans`.

    Raises:
        ValueError: DATA is not a list of well-formed spans.
    """
    rows = json.loads(data)
    if not isinstance(rows, list):
        raise ValueError("stored spans must be a list")
    out: list[Span] = []
    try:
        for s, e, etype, score in rows:  # a row of another length, or not a list, raises here
            if type(s) is not int or type(e) is not int or not 0 <= s <= e or type(etype) is not str or not etype:
                raise ValueError(f"stored span {[s, e, etype, score]!r:.80} is malformed")
            out.append(Span(s, e, etype, float(score)))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"stored spans {data!r:.80} are not [[start, end, type, score], ...]: {exc}") from exc
    return tuple(out)


class ResultStore:
    """Tenant-scoped access to ``scrub_results`` (module docstring).

    Args:
        engine: a SQLAlchemy engine from ``aion_assets.core.db.make_engine`` (the application role).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get_many(self, tenant_id: str, version: str, policy_sha: str,
                 shas: Sequence[str]) -> dict[str, tuple[Span, ...]]:
        """The stored spans of the texts with these SHAS for one scrubber VERSION and POLICY_SHA.

        Returns:
            sha -> spans, for the shas that are stored (missing ones are absent).

        Raises:
            StoredResultsError: a stored row is not readable.
            StoreUnavailableError: the database cannot be reached.
        """
        col = t.scrub_results.c
        out: dict[str, tuple[Span, ...]] = {}
        keys = list(dict.fromkeys(shas))
        if not keys:
            return out
        with tenant_transaction(self.engine, tenant_id, read_only=True) as conn:
            pg = conn.dialect.name == "postgresql"
            # On PostgreSQL one array parameter (`= ANY(...)`), not a thousand expanded IN parameters:
            # compiling and sending those cost half of a warm export's lookups (measured at 1,100 keys).
            chunk = _PG_CHUNK if pg else _CHUNK
            for i in range(0, len(keys), chunk):
                part = keys[i : i + chunk]
                match = (col.text_sha256 == sa.any_(sa.bindparam("shas", part, type_=postgresql.ARRAY(sa.String)))
                         if pg else col.text_sha256.in_(part))
                rows = conn.execute(
                    sa.select(col.text_sha256, col.spans).where(
                        col.tenant_id == tenant_id,
                        col.scrubber_version == version,
                        col.policy_sha256 == policy_sha,
                        match,
                    )
                )
                for sha, data in rows:
                    try:
                        out[sha] = load_spans(data)
                    except ValueError as exc:
                        raise StoredResultsError(
                            f"scrub_results row {sha[:12]}... of tenant {tenant_id!r}: {exc}; delete the row "
                            "and it is computed again"
                        ) from exc
        return out

    def put_many(self, tenant_id: str, version: str, policy_sha: str,
                 items: Mapping[str, Sequence[Span]]) -> int:
        """Store spans by text sha for one scrubber VERSION and POLICY_SHA; rows already there are kept.

        Returns:
            How many rows were inserted.
        """
        if not items:
            return 0
        now = datetime.now(UTC)
        rows = [
            {"tenant_id": tenant_id, "scrubber_version": version, "policy_sha256": policy_sha,
             "text_sha256": sha, "spans": dump_spans(spans), "stored_at": now}
            for sha, spans in items.items()
        ]
        inserted = 0
        with tenant_transaction(self.engine, tenant_id) as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            for i in range(0, len(rows), _CHUNK):
                stmt = dialect.insert(t.scrub_results).values(rows[i : i + _CHUNK])
                stmt = stmt.on_conflict_do_nothing(
                    index_elements=["text_sha256", "tenant_id", "scrubber_version", "policy_sha256"])
                # RETURNING, not rowcount: drivers disagree on rowcount of a multi-row INSERT.
                inserted += len(conn.execute(stmt.returning(t.scrub_results.c.text_sha256)).all())
        return inserted

    def count(self, tenant_id: str, version: str | None = None, policy_sha: str | None = None) -> int:
        """How many results of TENANT_ID are stored (of VERSION and POLICY_SHA when given)."""
        col = t.scrub_results.c
        query = sa.select(sa.func.count()).select_from(t.scrub_results).where(col.tenant_id == tenant_id)
        if version is not None:
            query = query.where(col.scrubber_version == version)
        if policy_sha is not None:
            query = query.where(col.policy_sha256 == policy_sha)
        with tenant_transaction(self.engine, tenant_id, read_only=True) as conn:
            return int(conn.execute(query).scalar_one())

    def delete_other_keys(self, tenant_id: str, version: str, policy_sha: str) -> int:
        """Delete TENANT_ID's results of every (scrubber version, policy) but (VERSION, POLICY_SHA); the count."""
        col = t.scrub_results.c
        with tenant_transaction(self.engine, tenant_id) as conn:
            result = conn.execute(
                sa.delete(t.scrub_results).where(
                    col.tenant_id == tenant_id,
                    sa.or_(col.scrubber_version != version, col.policy_sha256 != policy_sha),
                )
            )
            return max(result.rowcount or 0, 0)

"""Stored scrubber analyses: each text is analysed once per scrubber version, the policy applied at assembly.

The scrubber's analysis of a text (``Scrubber.detect_many``: spaCy NER plus the recognizers) is
the expensive part of scrubbing and depends only on the text and ``Scrubber.version``; the policy
(allow/deny lists, learned vocabulary, pseudonyms) is cheap and changes more often. So:

- ``DetectionStore`` keeps the detections of a text in ``aion_memory.scrub_detections`` under
  (tenant, scrubber version, sha256 of the text): offsets, types, scores and recognizer names,
  never a value. Rows are tenant-scoped (RLS on PostgreSQL) and written with
  ``ON CONFLICT DO NOTHING``, so concurrent builds that analyse the same text agree;
- ``StoredAnalysis`` is a detection source for ``Scrubber.apply_many``: texts whose detections are
  stored are read back; the others are analysed in one batch and stored. The re-scan passes of
  ``apply_many`` go through it too, so the re-scan of an output seen before costs no NER either;
- ``StoredScrubber`` is what curation calls (``scrub_many``): the same results as
  ``Scrubber.scrub_many`` (``tests/memory/test_scrub_detections.py`` checks equality), with the
  counts of texts analysed and reused. It also reads and stores each text's *result* under the
  policy (``aion_assets.memory.scrub_results``: the final spans), so an export of unchanged texts
  under an unchanged policy runs no policy step and reads no detection
  (``tests/memory/test_scrub_results.py``).

What it costs: a dataset build or an export on unchanged history analyses nothing; new approvals
analyse only their own texts; a learned-vocabulary or list change analyses none of the stored
texts, only the re-scan of each output that the change altered (an output never scrubbed before);
a new scrubber version finds no rows and analyses everything again (the next build is the
backfill; ``delete_other_versions`` then drops the old rows).
A sha256 of a short text can be confirmed by guessing the text; the table holds hashes of whole
prompts and answers and of short free-text fields, so it is as confidential as the tenant's
memory tables (same RLS; retention does not need to remove rows: they hold no value).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from aion_assets.core.db import tenant_transaction
from aion_assets.core.errors import AionError
from aion_assets.memory import tables as t
from aion_assets.memory.scrub.analysis import Detection, dump_detections, load_detections, text_sha256

if TYPE_CHECKING:
    from aion_assets.memory.scrub.engine import Scrubber, ScrubPolicy, ScrubResult

_CHUNK = 1000  # keys per SELECT ... IN / rows per INSERT
#: Detections a ``StoredAnalysis`` keeps in memory by default (texts repeat: answers, agent ids).
MEMO_SIZE = 4096


class StoredDetectionsError(AionError):
    """A stored detections row cannot be read (not written by this module)."""


class DetectionStore:
    """Tenant-scoped access to ``scrub_detections`` (module docstring).

    Args:
        engine: a SQLAlchemy engine from ``aion_assets.core.db.make_engine`` (the application role).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get_many(self, tenant_id: str, version: str, shas: Sequence[str]) -> dict[str, list[Detection]]:
        """The stored detections of the texts with these SHAS (hex sha256), for one scrubber VERSION.

        Returns:
            sha -> detections, for the shas that are stored (missing ones are absent).

        Raises:
            StoredDetectionsError: a stored row is not readable (written by something else than this module).
            StoreUnavailableError: the database cannot be reached.
        """
        col = t.scrub_detections.c
        out: dict[str, list[Detection]] = {}
        keys = list(dict.fromkeys(shas))
        with tenant_transaction(self.engine, tenant_id, read_only=True) as conn:
            for i in range(0, len(keys), _CHUNK):
                rows = conn.execute(
                    sa.select(col.text_sha256, col.detections).where(
                        col.tenant_id == tenant_id,
                        col.scrubber_version == version,
                        col.text_sha256.in_(keys[i : i + _CHUNK]),
                    )
                )
                for sha, data in rows:
                    try:
                        out[sha] = load_detections(data)
                    except ValueError as exc:
                        raise StoredDetectionsError(
                            f"scrub_detections row {sha[:12]}... of tenant {tenant_id!r}: {exc}; delete the row "
                            "and it is analysed again"
                        ) from exc
        return out

    def put_many(self, tenant_id: str, version: str, items: Mapping[str, Sequence[Detection]]) -> int:
        """Store detections by text sha for one scrubber VERSION; rows already there are kept.

        Returns:
            How many rows were inserted.
        """
        if not items:
            return 0
        now = datetime.now(UTC)
        rows = [
            {"tenant_id": tenant_id, "scrubber_version": version, "text_sha256": sha,
             "detections": dump_detections(dets), "analysed_at": now}
            for sha, dets in items.items()
        ]
        inserted = 0
        with tenant_transaction(self.engine, tenant_id) as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            for i in range(0, len(rows), _CHUNK):
                stmt = dialect.insert(t.scrub_detections).values(rows[i : i + _CHUNK])
                stmt = stmt.on_conflict_do_nothing(index_elements=["text_sha256", "tenant_id", "scrubber_version"])
                # RETURNING, not rowcount: drivers disagree on rowcount of a multi-row INSERT.
                inserted += len(conn.execute(stmt.returning(t.scrub_detections.c.text_sha256)).all())
        return inserted

    def count(self, tenant_id: str, version: str | None = None) -> int:
        """How many texts of TENANT_ID have stored detections (of VERSION, or of any version)."""
        col = t.scrub_detections.c
        query = sa.select(sa.func.count()).select_from(t.scrub_detections).where(col.tenant_id == tenant_id)
        if version is not None:
            query = query.where(col.scrubber_version == version)
        with tenant_transaction(self.engine, tenant_id, read_only=True) as conn:
            return int(conn.execute(query).scalar_one())

    def delete_other_versions(self, tenant_id: str, keep: str) -> int:
        """Delete TENANT_ID's detections of every scrubber version but KEEP (after a backfill); the count."""
        col = t.scrub_detections.c
        with tenant_transaction(self.engine, tenant_id) as conn:
            result = conn.execute(
                sa.delete(t.scrub_detections).where(col.tenant_id == tenant_id, col.scrubber_version != keep)
            )
            return max(result.rowcount or 0, 0)


class StoredAnalysis:
    """A detection source (``analysis.DetectionSource``) backed by a ``DetectionStore``.

    Args:
        store: where detections are read and written.
        tenant_id: whose texts these are.
        scrubber: the engine that analyses what is not stored; its ``version`` keys the rows.
        memo_size: detections kept in this object, so a value repeated across batches (an agent
            id, a model version) costs no query; default ``MEMO_SIZE``.
    """

    def __init__(self, store: DetectionStore, tenant_id: str, scrubber: Scrubber, *,
                 memo_size: int | None = None) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.scrubber = scrubber
        self.version = scrubber.version
        self.analysed = 0  # texts the NER ran on
        self.reused = 0  # texts whose stored detections were read
        self._memo: OrderedDict[str, list[Detection]] = OrderedDict()
        self._memo_size = MEMO_SIZE if memo_size is None else memo_size

    def __call__(self, texts: Sequence[str]) -> list[list[Detection]]:
        """Detections of TEXTS, in order: from the memo, else the store, else analysed now and stored."""
        shas = [text_sha256(x) for x in texts]
        found: dict[str, list[Detection]] = {}
        for sha in shas:
            if sha in self._memo:
                self._memo.move_to_end(sha)
                found[sha] = self._memo[sha]
        wanted = [s for s in dict.fromkeys(shas) if s not in found]
        if wanted:
            stored = self.store.get_many(self.tenant_id, self.version, wanted)
            self.reused += len(stored)
            found.update(stored)
            first_text = {sha: x for sha, x in zip(shas, texts, strict=True)}
            missing = [s for s in wanted if s not in stored]
            if missing:
                new = dict(zip(missing, self.scrubber.detect_many([first_text[s] for s in missing]), strict=True))
                self.store.put_many(self.tenant_id, self.version, new)
                self.analysed += len(new)
                found.update(new)
            for sha in wanted:
                self._memo[sha] = found[sha]
            while len(self._memo) > self._memo_size:
                self._memo.popitem(last=False)
        return [found[s] for s in shas]


class StoredScrubber:
    """``Scrubber.scrub_many`` / ``scrub_group`` on stored detections and stored results (module docstring).

    ``scrub_many`` first reads the stored result of each text under the policy
    (``aion_assets.memory.scrub_results``): a warm export does no policy step and reads no detection;
    the texts without one go through the policy step on stored detections (``Scrubber.analyze_many``,
    the spans ``apply_many`` replaces), and their results are stored. ``scrub_group`` (pseudonyms
    shared by a group) always applies the policy.

    Args:
        scrubber: the process's engine (``memory.scrub.engine.get_scrubber()``).
        store: the detection store.
        tenant_id: the tenant whose texts are scrubbed (rows are keyed and RLS-scoped by it).
    """

    def __init__(self, scrubber: Scrubber, store: DetectionStore, tenant_id: str) -> None:
        from aion_assets.memory.scrub_results import ResultStore

        self.scrubber = scrubber
        self.analysis = StoredAnalysis(store, tenant_id, scrubber)
        self.results = ResultStore(store.engine)
        self.results_reused = 0  # texts whose stored result was read (no policy step, no detection read)
        self._fingerprint: tuple[ScrubPolicy, str] | None = None

    @property
    def analysed(self) -> int:
        """Texts analysed (NER run) by this object so far."""
        return self.analysis.analysed

    @property
    def reused(self) -> int:
        """Texts whose stored analysis this object read: their detections, or their result under the policy."""
        return self.analysis.reused + self.results_reused

    def scrub_many(self, texts: Sequence[str], policy: ScrubPolicy | None = None) -> list[ScrubResult]:
        """What ``Scrubber.scrub_many(texts, policy)`` returns, analysing only texts not stored yet."""
        from aion_assets.memory.scrub.engine import ScrubPolicy, result_of

        policy = policy or ScrubPolicy()
        key = self._policy_key(policy)
        version, tenant_id = self.analysis.version, self.analysis.tenant_id
        shas = [text_sha256(x) for x in texts]
        first_text = dict(zip(shas, texts, strict=True))
        stored = self.results.get_many(tenant_id, version, key, list(first_text))
        self.results_reused += len(stored)
        missing = [s for s in first_text if s not in stored]
        if missing:
            # The spans apply_many would replace (same passes, same source); result_of renders them.
            fresh = self.scrubber.analyze_many([first_text[s] for s in missing], policy, self.analysis)
            computed = {s: tuple(spans) for s, spans in zip(missing, fresh, strict=True)}
            self.results.put_many(tenant_id, version, key, computed)
            stored.update(computed)
        # A text repeated in the call (an agent id, a model version) is rendered once.
        done: dict[str, ScrubResult] = {}
        out = []
        for sha, text in zip(shas, texts, strict=True):
            res = done.get(sha)
            if res is None:
                res = done[sha] = result_of(text, stored[sha])
            out.append(res)
        return out

    def scrub_group(self, texts: Sequence[str], policy: ScrubPolicy | None = None) -> list[ScrubResult]:
        """What ``Scrubber.scrub_group(texts, policy)`` returns, analysing only texts not stored yet."""
        return self.scrubber.apply_many(texts, policy, self.analysis, group=True)

    def counts(self) -> dict[str, Any]:
        """Texts analysed and reused, for metadata and logs."""
        return {"texts_analysed": self.analysed, "texts_reused": self.reused,
                "results_reused": self.results_reused, "scrubber_version": self.analysis.version}

    def _policy_key(self, policy: ScrubPolicy) -> str:
        """POLICY's fingerprint under the engine's threshold; computed once per policy object."""
        from aion_assets.memory.scrub.policy import policy_fingerprint

        if self._fingerprint is None or self._fingerprint[0] is not policy:
            self._fingerprint = (policy, policy_fingerprint(policy, self.scrubber.score_threshold))
        return self._fingerprint[1]

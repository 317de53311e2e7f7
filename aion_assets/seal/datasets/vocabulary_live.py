"""A tenant's learned vocabulary kept current in a long-running process, by watermark (for the export).

``GET /datasets/sft`` needs the tenant's vocabulary (``seal.datasets.vocabulary``) exactly as the
``seal/tenant_vocabulary`` asset learns it. Learning reads every answer of the tenant; doing that
again on each export after a few new approvals made an export of 100,000 rows pay a pass over the
history for 1,000 new ones. Here the evidence (``vocabulary.Evidence``) is kept per tenant with the
newest review time it has counted (its watermark) and the number of approved edits it counted. A
later call:

1. counts the tenant's approved edits reviewed up to the watermark; a number other than the one
   counted means the history changed underneath (retention or a purge deleted answers, or an edit
   committed late with an earlier review time), and the evidence is learned again from scratch;
2. otherwise reads only the edits approved after the watermark, with the interactions they belong
   to and those interactions' earlier approved edits (``memory.watermarks.answers_changed_after``),
   and adds them: the result equals a full pass over the current answers.

The terms are recomputed from the evidence only when it changed or the settings differ. Nothing is
written anywhere: the evidence holds candidate terms and user ids, which never leave the process.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aion_assets.memory.models import Tenant
from aion_assets.memory.scrub.policy import scrub_policy, vocabulary_settings
from aion_assets.memory.store import MemoryStore
from aion_assets.memory.watermarks import answers_changed_after, count_approved_through, newest_approval
from aion_assets.seal.datasets.vocabulary import Answer, Evidence, Vocabulary, answers_of


@dataclass
class _Entry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    evidence: Evidence | None = None
    through: datetime | None = None  # newest review time counted
    edits: int = 0  # approved edits counted (reviewed up to THROUGH, or never stamped)
    generation: int = 0  # bumped whenever the evidence changes
    learned: tuple[Any, Vocabulary] | None = None  # ((generation, min_share, deny), the result)
    stats: dict[str, int] = field(default_factory=lambda: {"full": 0, "incremental": 0, "unchanged": 0})


class LiveVocabularies:
    """Per-tenant learned vocabularies of one process (module docstring); thread-safe.

    Args:
        size: tenants kept (least recently used dropped first).
    """

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, int], _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def _entry(self, key: tuple[str, int]) -> _Entry:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry()
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
            return entry

    def stats(self, tenant_id: str, min_users: int) -> dict[str, int]:
        """How the calls for TENANT_ID were served: ``full`` passes, ``incremental`` updates, ``unchanged``."""
        return dict(self._entry((tenant_id, min_users)).stats)

    def terms(self, store: MemoryStore, tenant: Tenant) -> tuple[str, ...]:
        """TENANT's learned terms now, as ``learn_vocabulary`` over all its answers would give them."""
        return self.vocabulary(store, tenant).terms

    def vocabulary(self, store: MemoryStore, tenant: Tenant) -> Vocabulary:
        """TENANT's Vocabulary now (terms and counts), equal to ``learn_vocabulary`` over all its answers."""
        settings, deny = vocabulary_settings(tenant), scrub_policy(tenant).deny_list
        entry = self._entry((tenant.tenant_id, settings.min_users))
        with entry.lock:
            if entry.evidence is None or count_approved_through(
                store.engine, tenant.tenant_id, entry.through
            ) != entry.edits:
                self._learn(store, tenant.tenant_id, settings.min_users, entry)
            else:
                self._catch_up(store, tenant.tenant_id, entry)
            assert entry.evidence is not None
            key = (entry.generation, settings.min_share, deny)
            if entry.learned is None or entry.learned[0] != key:
                entry.learned = (key, entry.evidence.vocabulary(tenant.tenant_id, settings, deny_list=deny))
            return entry.learned[1]

    @staticmethod
    def _learn(store: MemoryStore, tenant_id: str, min_users: int, entry: _Entry) -> None:
        """A full pass: every answer with the edits approved up to the newest review time now."""
        through = newest_approval(store.engine, tenant_id)
        counted = 0

        def upto() -> Any:
            nonlocal counted
            for edit, interaction in store.iter_approved_edits(tenant_id, min_reward=0.0):
                # Edits approved while the pass runs (after THROUGH) are left to the next catch-up.
                if edit.reviewed_at is None or (through is not None and edit.reviewed_at <= through):
                    counted += 1
                    yield edit, interaction

        evidence = Evidence(min_users)
        for answer in answers_of(upto()):
            evidence.add(answer)
        entry.evidence, entry.through, entry.edits = evidence, through, counted
        entry.generation += 1
        entry.stats["full"] += 1

    @staticmethod
    def _catch_up(store: MemoryStore, tenant_id: str, entry: _Entry) -> None:
        """Adds the answers that edits approved after the watermark created or extended."""
        changes, newest, n = answers_changed_after(store.engine, tenant_id, entry.through)
        if not n:
            entry.stats["unchanged"] += 1
            return
        assert entry.evidence is not None
        for change in changes:
            texts = tuple(dict.fromkeys([*(change.before or (change.output,)), *change.added]))
            entry.evidence.add(Answer(change.user_id, change.message, texts), before=change.before)
        entry.through, entry.edits = newest, entry.edits + n
        entry.generation += 1
        entry.stats["incremental"] += 1

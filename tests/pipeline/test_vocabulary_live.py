"""Protects: the export's learned vocabulary is kept current by watermark and always equals a full pass (issue 11).

``LiveVocabularies`` (``seal.datasets.vocabulary_live``) counts a tenant's answers once, then only
the edits approved after its watermark. Each step below compares it with ``learn_vocabulary`` over
all the tenant's answers at that moment, on both backends, and checks which path served it:
- new answers (new interactions with approved edits) are caught up, not relearned;
- a second approved edit on an answer already counted adds only the terms its text brings (a term
  both texts use still counts once for that answer, which decides whether it reaches K users);
- a purge (deleted answers) and an edit stamped before the watermark (committed late) are seen by
  the count check and relearned from scratch;
- a pending or rejected edit changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from aion_assets.core.db import make_engine, tenant_transaction
from aion_assets.memory import tables as t
from aion_assets.memory.models import EditStatus, InteractionIn, SelfEditIn
from aion_assets.memory.purge import purge
from aion_assets.memory.scrub.policy import vocabulary_settings
from aion_assets.memory.store import MemoryStore
from aion_assets.seal.datasets.vocabulary import answers_of, learn_vocabulary
from aion_assets.seal.datasets.vocabulary_live import LiveVocabularies
from tests.conftest import Database


def _terms(live: LiveVocabularies, store: MemoryStore, tenant: str) -> tuple[str, ...]:
    """The live terms, after checking that the live result (terms, answers, users, candidates and
    refusals by reason) is the full pass's: a double-counted answer would show in the counts."""
    row = store.get_tenant(tenant)
    assert row is not None
    got = live.vocabulary(store, row)
    full = learn_vocabulary(tenant, answers_of(store.iter_approved_edits(tenant, min_reward=0.0)),
                            vocabulary_settings(row))
    assert got.content() == full.content() and got.counts() == full.counts()
    return got.terms


def _full(store: MemoryStore, tenant: str) -> tuple[str, ...]:
    settings = vocabulary_settings(store.get_tenant(tenant))
    return learn_vocabulary(tenant, answers_of(store.iter_approved_edits(tenant, min_reward=0.0)), settings).terms


def _answer(store: MemoryStore, tenant: str, user: str, edited: str, *, approve: bool | None = True) -> uuid.UUID:
    """One interaction of USER answered with EDITED (approved, rejected if APPROVE is False, pending if None)."""
    (inter,), _ = store.add_interactions(tenant, [InteractionIn(
        agent_id="bot", user_id=user, input_text=f"Hello, question {uuid.uuid4().hex[:6]}", output_text="One moment.",
    )])
    _edit(store, tenant, inter.id, edited, approve=approve)
    return inter.id


def _edit(store: MemoryStore, tenant: str, iid: uuid.UUID, edited: str, *, approve: bool | None = True) -> uuid.UUID:
    edit, _ = store.add_self_edit(tenant, SelfEditIn(
        interaction_id=iid, editor_type="human", edited_output=edited, reward_score=0.9,
    ))
    if approve is not None:
        store.review_self_edit(tenant, edit.id, EditStatus.approved if approve else EditStatus.rejected, "r")
    return edit.id


@pytest.fixture
def store(database: Database, tenant: str) -> MemoryStore:
    return MemoryStore(make_engine(database.url, pool_size=2))


def test_catches_up_by_watermark_and_equals_a_full_pass(store: MemoryStore, tenant: str) -> None:
    live = LiveVocabularies()
    for k in range(4):
        _answer(store, tenant, f"u{k}", "Pair the Zentrova Hub in the Lumio app.")
    first = _terms(live, store, tenant)
    assert first == _full(store, tenant) and "Zentrova Hub" not in first  # 4 users < K=5
    assert live.stats(tenant, 5) == {"full": 1, "incremental": 0, "unchanged": 0}

    # Unchanged history: nothing read but the count.
    assert _terms(live, store, tenant) == first
    assert live.stats(tenant, 5)["unchanged"] == 1

    # A fifth user: caught up, and the term now qualifies.
    _answer(store, tenant, "u4", "Pair the Zentrova Hub in the Lumio app.")
    fifth = _terms(live, store, tenant)
    assert "Zentrova Hub" in fifth and fifth == _full(store, tenant)
    assert live.stats(tenant, 5) == {"full": 1, "incremental": 1, "unchanged": 1}

    # Pending and rejected edits are no answer.
    _answer(store, tenant, "u5", "Try the Corvella Dock.", approve=None)
    _answer(store, tenant, "u6", "Try the Corvella Dock.", approve=False)
    assert _terms(live, store, tenant) == fifth


def test_a_second_edit_on_a_counted_answer_counts_its_terms_once(store: MemoryStore, tenant: str) -> None:
    live = LiveVocabularies()
    ids = [_answer(store, tenant, f"u{k}", "Open Brightwater Home, then Settings.") for k in range(3)]
    for k in range(3, 5):
        _answer(store, tenant, f"u{k}", "Restart the Orbix Relay.")
    assert _terms(live, store, tenant) == _full(store, tenant)
    # The same three users get a second approved answer that repeats "Brightwater Home": still 3 users;
    # and one that names the relay: now 5 distinct users for "Orbix Relay".
    for iid in ids:
        _edit(store, tenant, iid, "Open Brightwater Home and restart the Orbix Relay.")
    got = _terms(live, store, tenant)
    assert got == _full(store, tenant)
    assert "Orbix Relay" in got and "Brightwater Home" not in got
    assert live.stats(tenant, 5)["full"] == 1 and live.stats(tenant, 5)["incremental"] == 1


def test_deleted_or_late_answers_are_relearned(store: MemoryStore, tenant: str, database: Database) -> None:
    live = LiveVocabularies()
    for k in range(5):
        _answer(store, tenant, f"u{k}", "Reset the Quillon Gate from the Quillon app.")
    assert "Quillon Gate" in _terms(live, store, tenant)

    # A purge deletes u0's answers: 4 users left, the term goes (the count check saw the deletion).
    purge(store.engine, tenant, user_id="u0")
    after_purge = _terms(live, store, tenant)
    assert "Quillon Gate" not in after_purge and after_purge == _full(store, tenant)
    assert live.stats(tenant, 5)["full"] == 2

    # An approval stamped before the watermark (a transaction that committed late): relearned too.
    iid = _answer(store, tenant, "u9", "Reset the Quillon Gate from the Quillon app.", approve=None)
    owner = make_engine(database.admin_url, pool_size=1)
    with tenant_transaction(owner, tenant) as conn:  # the owner too is under row-level security
        done = conn.execute(sa.update(t.self_edits).where(t.self_edits.c.interaction_id == iid).values(
            status=EditStatus.approved.value, reviewer="r", reviewed_at=datetime.now(UTC) - timedelta(days=1)))
        assert done.rowcount == 1
    owner.dispose()
    late = _terms(live, store, tenant)
    assert "Quillon Gate" in late and late == _full(store, tenant)
    assert live.stats(tenant, 5)["full"] == 3

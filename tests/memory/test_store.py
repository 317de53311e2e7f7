"""The memory store on SQLite and PostgreSQL: streaming of approved edits in dedup order,
tenant listing, evaluations, counts, and timestamps kept in UTC on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from aion_assets.core.db import make_engine
from aion_assets.core.errors import ConflictError, NotFoundError
from aion_assets.memory.models import EditStatus, EvaluationIn, InteractionIn, SelfEditIn
from aion_assets.memory.store import MemoryStore


@pytest.fixture
def store(database):  # type: ignore[no-untyped-def]
    engine = make_engine(database.url, pool_size=2)
    yield MemoryStore(engine)
    engine.dispose()


def test_timestamps_round_trip_in_utc(store: MemoryStore, tenant: str) -> None:
    paris = timezone(timedelta(hours=1))
    when = datetime(2026, 3, 1, 12, 30, tzinfo=paris)
    rows, created = store.add_interactions(
        tenant, [InteractionIn(agent_id="a", input_text="q", output_text="o", timestamp=when)]
    )
    assert created == 1
    got = store.get_interaction(tenant, rows[0].id)
    assert got.timestamp == when and got.timestamp.tzinfo == UTC


def test_approved_edits_stream_in_dedup_order(store: MemoryStore, tenant: str) -> None:
    rows, _ = store.add_interactions(
        tenant, [InteractionIn(agent_id="a", input_text=f"q{i}", output_text="o") for i in range(3)]
    )
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    plan = [(0, 0.5, 0), (0, 0.9, 1), (0, 0.9, 2), (1, 0.2, 0), (2, 0.8, 0)]
    for index, reward, minutes in plan:
        edit, _ = store.add_self_edit(
            tenant,
            SelfEditIn(
                interaction_id=rows[index].id, editor_type="human", edited_output=f"{index}-{reward}-{minutes}",
                reward_score=reward, timestamp=t0 + timedelta(minutes=minutes),
            ),
        )
        store.review_self_edit(tenant, edit.id, EditStatus.approved, "rev")
    pending, _ = store.add_self_edit(
        tenant, SelfEditIn(interaction_id=rows[2].id, editor_type="rule", edited_output="p", reward_score=1.0)
    )
    streamed = list(store.iter_approved_edits(tenant, min_reward=0.3))
    assert pending.id not in {e.id for e, _ in streamed}
    by_interaction: dict[str, list[str]] = {}
    for edit, inter in streamed:
        assert inter.id == edit.interaction_id and edit.reward_score >= 0.3
        by_interaction.setdefault(str(inter.id), []).append(edit.edited_output)
    # first per interaction: highest reward, then the latest
    assert by_interaction[str(rows[0].id)][0] == "0-0.9-2"
    assert str(rows[1].id) not in by_interaction
    assert next(iter(store.iter_approved_edits(tenant, since=t0 + timedelta(minutes=2))))[0].edited_output == "0-0.9-2"


def test_review_errors(store: MemoryStore, tenant: str) -> None:
    import uuid

    with pytest.raises(NotFoundError):
        store.review_self_edit(tenant, uuid.uuid4(), EditStatus.approved, "rev")
    rows, _ = store.add_interactions(tenant, [InteractionIn(agent_id="a", input_text="q", output_text="o")])
    edit, _ = store.add_self_edit(
        tenant, SelfEditIn(interaction_id=rows[0].id, editor_type="human", edited_output="e", reward_score=1)
    )
    store.review_self_edit(tenant, edit.id, EditStatus.rejected, "rev")
    with pytest.raises(ConflictError):
        store.review_self_edit(tenant, edit.id, EditStatus.approved, "rev")
    with pytest.raises(ValueError):
        store.review_self_edit(tenant, edit.id, EditStatus.pending, "rev")


def test_tenants_counts_and_evaluations(store: MemoryStore, tenant: str) -> None:
    store.add_interactions(tenant, [InteractionIn(agent_id="a", input_text="q", output_text="o")] * 2)
    assert tenant in {t.tenant_id for t in store.list_tenants()}
    counts = store.counts(tenant)
    assert counts["interactions"] == 2 and counts["edits"] == {"pending": 0, "approved": 0, "rejected": 0}
    store.add_evaluations(
        tenant,
        [EvaluationIn(model_version="m1", dataset_id="d", metric_name=n, metric_value=v, run_id="r")
         for n, v in [("rouge_l", 0.5), ("bleu", 12.0)]],
    )
    evals = store.list_evaluations(tenant, model_version="m1")
    assert sorted(e.metric_name for e in evals) == ["bleu", "rouge_l"]
    assert store.list_evaluations(tenant, model_version="other") == []

"""Protects: purging a user's or a tenant's rows (memory.purge), on SQLite and on PostgreSQL as the
application role under row-level security: exactly the user's interactions, their self-edits and the
stored scrubber detections of their texts go, in one transaction; other users of the tenant and the
same user id in another tenant keep every row; a dry run deletes nothing and lists what a purge
deletes; a second purge deletes nothing and says 0; a tenant purge (no user) empties the tenant's
interactions, edits and detections and leaves its settings row, evaluations and every other tenant."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from aion_assets.core.db import make_engine, tenant_transaction
from aion_assets.memory import tables as t
from aion_assets.memory.detections import DetectionStore
from aion_assets.memory.models import EditorType, EvaluationIn, InteractionIn, SelfEditIn
from aion_assets.memory.purge import purge
from aion_assets.memory.scrub.analysis import Detection, text_sha256
from aion_assets.memory.store import MemoryStore

VERSION = "scrubber-test-1"


@pytest.fixture
def engine(database) -> Iterator[sa.Engine]:  # type: ignore[no-untyped-def]
    """The application role's engine (under RLS on PostgreSQL)."""
    eng = make_engine(database.url, pool_size=2)
    yield eng
    eng.dispose()


def seed_user(store: MemoryStore, tenant: str, user: str, n: int = 2) -> tuple[set[str], set[str], list[str]]:
    """N interactions of USER with one edit each, and stored detections of their texts.

    Returns (interaction ids, edit ids, the texts).
    """
    tag = uuid.uuid4().hex[:8]
    items = [
        InteractionIn(agent_id="support", user_id=user, input_text=f"I am {user}, order {tag}-{k}",
                      output_text=f"Checking {tag}-{k}.", metadata={"facts": [f"fact {tag}-{k}"]})
        for k in range(n)
    ]
    stored, _ = store.add_interactions(tenant, items)
    edits = set()
    texts = []
    for inter in stored:
        edit, _ = store.add_self_edit(tenant, SelfEditIn(
            interaction_id=inter.id, editor_type=EditorType.human, edited_output=f"Order {inter.id} ships today.",
            reason_code=f"reason-{tag}", reward_score=0.9,
        ))
        edits.add(str(edit.id))
        texts += [inter.input_text, inter.output_text, edit.edited_output, *inter.metadata["facts"]]
    texts.append(f"reason-{tag}")  # a free-text field curation scrubs too
    detections = DetectionStore(store.engine)
    found = [Detection(0, 1, "PERSON", 0.9, "test", "own")]
    detections.put_many(tenant, VERSION, {text_sha256(x): found for x in texts})
    return {str(i.id) for i in stored}, edits, texts


def rows(engine: sa.Engine, tenant: str, table: sa.Table, **where: str) -> int:
    """How many rows of TENANT (matching WHERE) TABLE holds, read under the tenant's RLS scope."""
    query = sa.select(sa.func.count()).select_from(table).where(table.c.tenant_id == tenant)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with tenant_transaction(engine, tenant, read_only=True) as conn:
        return int(conn.execute(query).scalar_one())


def test_purge_by_user_deletes_exactly_that_users_rows(engine: sa.Engine, tenant: str) -> None:
    store = MemoryStore(engine)
    other_tenant = f"{tenant}-other"
    inters, edits, texts = seed_user(store, tenant, "u-alice", 3)
    seed_user(store, tenant, "u-bob", 2)
    seed_user(store, other_tenant, "u-alice", 2)  # the same user id in another tenant
    store.add_evaluations(tenant, [EvaluationIn(model_version="v1", dataset_id=f"{tenant}/support@abc",
                                                metric_name="rougeL", metric_value=0.5)])
    before_detections = rows(engine, tenant, t.scrub_detections)

    preview = purge(engine, tenant, user_id="u-alice", dry_run=True)
    assert preview.dry_run and set(preview.interaction_ids) == inters and set(preview.edit_ids) == edits
    assert preview.detections == 3 * 4 + 1  # four texts per interaction, and the one shared reason code
    assert rows(engine, tenant, t.interactions, user_id="u-alice") == 3  # the dry run deleted nothing
    assert rows(engine, tenant, t.scrub_detections) == before_detections

    done = purge(engine, tenant, user_id="u-alice")
    assert not done.dry_run
    assert (done.interaction_ids, done.edit_ids, done.detections) == (
        preview.interaction_ids, preview.edit_ids, preview.detections
    )
    assert rows(engine, tenant, t.interactions, user_id="u-alice") == 0
    assert rows(engine, tenant, t.self_edits) == 2  # bob's
    assert rows(engine, tenant, t.interactions, user_id="u-bob") == 2
    assert rows(engine, tenant, t.scrub_detections) == before_detections - done.detections
    assert DetectionStore(engine).get_many(tenant, VERSION, [text_sha256(x) for x in texts]) == {}
    assert rows(engine, tenant, t.evaluations) == 1  # aggregate metrics: no user's data
    assert rows(engine, other_tenant, t.interactions, user_id="u-alice") == 2
    assert rows(engine, other_tenant, t.self_edits) == 2
    assert rows(engine, other_tenant, t.scrub_detections) == 2 * 4 + 1

    again = purge(engine, tenant, user_id="u-alice")
    assert (again.interaction_ids, again.edit_ids, again.detections) == ((), (), 0)
    assert again.to_dict()["interactions"] == 0 and again.to_dict()["scope"] == "user"


def test_purge_of_a_tenant_leaves_other_tenants_and_its_settings(engine: sa.Engine, tenant: str) -> None:
    store = MemoryStore(engine)
    other_tenant = f"{tenant}-b"
    a1, e1, _ = seed_user(store, tenant, "u-1")
    a2, e2, _ = seed_user(store, tenant, "u-2")
    b_inters, _, _ = seed_user(store, other_tenant, "u-1")

    done = purge(engine, tenant, user_id=None)
    assert set(done.interaction_ids) == a1 | a2 and set(done.edit_ids) == e1 | e2
    assert done.detections == 2 * (2 * 4 + 1)
    for table in (t.interactions, t.self_edits, t.scrub_detections):
        assert rows(engine, tenant, table) == 0
    assert store.get_tenant(tenant) is not None  # the settings row stays
    assert rows(engine, other_tenant, t.interactions) == len(b_inters) == 2
    assert rows(engine, other_tenant, t.self_edits) == 2
    assert rows(engine, other_tenant, t.scrub_detections) == 2 * 4 + 1
    assert purge(engine, tenant, user_id=None).to_dict()["interactions"] == 0


def test_unknown_user_or_tenant_purges_nothing(engine: sa.Engine, tenant: str) -> None:
    seed_user(MemoryStore(engine), tenant, "u-1")
    assert purge(engine, tenant, user_id="nobody").interaction_ids == ()
    assert purge(engine, f"{tenant}-never", user_id=None).interaction_ids == ()
    assert rows(engine, tenant, t.interactions) == 2


@pytest.mark.parametrize("field,value", [("tenant_id", ""), ("user_id", ""), ("user_id", "x" * 129),
                                         ("user_id", "a\x00b")])
def test_bad_ids_are_refused_naming_the_field(engine: sa.Engine, field: str, value: str) -> None:
    args = {"tenant_id": "acme", "user_id": "u"} | {field: value}
    with pytest.raises(ValueError, match=field):
        purge(engine, args["tenant_id"], user_id=args["user_id"])

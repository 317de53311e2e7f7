"""Protects: the registry store on SQLite and PostgreSQL: versions are content-addressed (same manifest ->
same version), names count up per day and are never reused, status moves only along the allowed
transitions (an illegal one is refused with the reason), four-eyes approval, routes are compare-and-set
on their version, rollback puts the fallback back and retires the version it leaves, and every write
leaves an audit entry."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from aion_assets.core.auth import ForbiddenError
from aion_assets.core.db import make_engine
from aion_assets.core.errors import ConflictError, NotFoundError
from aion_assets.registry.models import TRANSITIONS, ModelStatus, ModelVersion, RouteIn
from aion_assets.registry.sql_store import SqlRegistryStore
from tests.registry.conftest import manifest_hash, version_in


def test_same_manifest_returns_the_existing_version(store: SqlRegistryStore, tenant: str) -> None:
    digest = manifest_hash()
    first, created = store.register_version(tenant, version_in(manifest_sha256=digest), "pipeline")
    again, created_again = store.register_version(
        tenant,
        version_in(manifest_sha256=digest, adapter_uri="s3://other/place", description="retry", metrics=[]),
        "someone-else",
    )
    assert created and not created_again
    assert again == first  # unchanged: same id, name, URI, creator, metrics
    assert [m.name for m in again.metrics] == ["key_fact_recall"]
    assert len(store.list_versions(tenant)) == 1
    assert [a.action for a in store.list_audit(tenant)] == ["model.register"]


def test_same_manifest_in_another_tenant_is_another_version(store: SqlRegistryStore, tenant: str) -> None:
    digest = manifest_hash()
    mine, _ = store.register_version(tenant, version_in(manifest_sha256=digest), "p")
    theirs, created = store.register_version("other-" + tenant, version_in(manifest_sha256=digest), "p")
    assert created and theirs.id != mine.id and theirs.tenant_id != tenant


def test_names_count_up_per_day_and_are_never_reused(database, tenant: str) -> None:  # type: ignore[no-untyped-def]
    now = [datetime(2026, 11, 23, 9, 0, tzinfo=UTC)]
    engine = make_engine(database.url, pool_size=2)
    store = SqlRegistryStore(engine, clock=lambda: now[0])
    try:
        names = []
        for status in (ModelStatus.rejected, ModelStatus.candidate, ModelStatus.candidate):
            names.append(store.register_version(tenant, version_in(status=status), "p")[0].name)
        family = f"aion-base+seal-{tenant}~support@2026.11.23"
        assert names == [family, family + ".2", family + ".3"]  # the rejected one keeps its name
        other_domain = store.register_version(tenant, version_in(domain="sales"), "p")[0].name
        assert other_domain == f"aion-base+seal-{tenant}~sales@2026.11.23"
        now[0] += timedelta(days=1)
        assert store.register_version(tenant, version_in(), "p")[0].name.endswith("@2026.11.24")
    finally:
        engine.dispose()


def test_version_round_trip_with_lineage_fields(store: SqlRegistryStore, tenant: str) -> None:
    parent, _ = store.register_version(tenant, version_in(), "p")
    child, _ = store.register_version(tenant, version_in(parent_id=parent.id, description="second"), "p")
    got = store.get_version(tenant, child.id)
    assert got == child
    assert (got.parent_id, got.dataset_version, got.evaluation_run_id, got.source_edit_count) == (
        parent.id, "2026.11.29-0001", "run-1", 12
    )
    assert got.metrics[0].ci_low == 0.7 and got.created_by == "p" and got.status is ModelStatus.candidate


def test_parent_of_another_tenant_is_not_found(store: SqlRegistryStore, tenant: str) -> None:
    foreign, _ = store.register_version("other-" + tenant, version_in(), "p")
    with pytest.raises(NotFoundError, match="parent_id"):
        store.register_version(tenant, version_in(parent_id=foreign.id), "p")
    assert store.list_versions(tenant) == []


def test_list_filters_and_tenant_scope(store: SqlRegistryStore, tenant: str) -> None:
    a, _ = store.register_version(tenant, version_in(domain="support"), "p")
    b, _ = store.register_version(tenant, version_in(domain="sales", status=ModelStatus.rejected), "p")
    store.register_version("other-" + tenant, version_in(), "p")
    assert {v.id for v in store.list_versions(tenant)} == {a.id, b.id}
    assert [v.id for v in store.list_versions(tenant, domain="sales")] == [b.id]
    assert [v.id for v in store.list_versions(tenant, status=ModelStatus.candidate)] == [a.id]
    with pytest.raises(NotFoundError):
        store.get_version("other-" + tenant, a.id)


ALL_PAIRS = [(a, b) for a, b in itertools.product(ModelStatus, ModelStatus) if a is not b]


@pytest.mark.parametrize(("start", "target"), ALL_PAIRS, ids=[f"{a.value}-{b.value}" for a, b in ALL_PAIRS])
def test_transition_matrix(sqlite_database, tenant: str, start: ModelStatus, target: ModelStatus) -> None:  # type: ignore[no-untyped-def]
    """Every pair of statuses on SQLite (the rule is the store's, not the backend's)."""
    _check_transition(sqlite_database.url, tenant, start, target)


@pytest.mark.parametrize(
    ("start", "target"),
    [(ModelStatus.pending_approval, ModelStatus.promoted), (ModelStatus.candidate, ModelStatus.promoted)],
)
def test_transitions_on_postgres(pg_database, tenant: str, start: ModelStatus, target: ModelStatus) -> None:  # type: ignore[no-untyped-def]
    """A legal and an illegal pair on PostgreSQL."""
    _check_transition(pg_database.url, tenant, start, target)


def _check_transition(url: str, tenant: str, start: ModelStatus, target: ModelStatus) -> None:
    engine = make_engine(url, pool_size=2)
    store = SqlRegistryStore(engine)
    try:
        version = _in_status(store, tenant, start)
        if target in TRANSITIONS[start]:
            moved = store.transition(tenant, version.id, target, "bob", reason="because")
            assert moved.status is target and moved.status_reason == "because" and moved.status_changed_by == "bob"
            assert store.get_version(tenant, version.id).status is target
            assert store.list_audit(tenant, action=f"model.{target.value}")[0].after["status"] == target.value  # type: ignore[index]
        else:
            with pytest.raises(ConflictError, match=f"cannot become {target.value}"):
                store.transition(tenant, version.id, target, "bob")
            assert store.get_version(tenant, version.id).status is start
    finally:
        engine.dispose()


def _in_status(store: SqlRegistryStore, tenant: str, status: ModelStatus) -> ModelVersion:
    if status is ModelStatus.retired:
        version, _ = store.register_version(tenant, version_in(status=ModelStatus.promoted), "p")
        return store.transition(tenant, version.id, ModelStatus.retired, "p")
    return store.register_version(tenant, version_in(status=status), "p")[0]


def test_repeating_the_current_status_is_a_no_op(store: SqlRegistryStore, tenant: str) -> None:
    version, _ = store.register_version(tenant, version_in(status=ModelStatus.promoted), "p")
    assert store.transition(tenant, version.id, ModelStatus.promoted, "bob") == version
    assert len(store.list_audit(tenant)) == 1


def test_four_eyes_refuses_the_creator_and_the_requester(store: SqlRegistryStore, tenant: str) -> None:
    version, _ = store.register_version(tenant, version_in(), "alice")
    store.transition(tenant, version.id, ModelStatus.pending_approval, "carol")
    for actor in ("alice", "carol"):
        with pytest.raises(ForbiddenError, match="four-eyes"):
            store.transition(tenant, version.id, ModelStatus.promoted, actor, four_eyes=True)
    assert store.transition(tenant, version.id, ModelStatus.promoted, "bob", four_eyes=True).status is (
        ModelStatus.promoted
    )


def test_unknown_model_is_not_found(store: SqlRegistryStore, tenant: str) -> None:
    with pytest.raises(NotFoundError):
        store.transition(tenant, uuid.uuid4(), ModelStatus.rejected, "bob")


def test_route_is_compare_and_set_on_its_version(
    store: SqlRegistryStore, tenant: str, promoted: Callable[..., ModelVersion]
) -> None:
    v1, v2 = promoted(), promoted()
    route = store.set_route(tenant, RouteIn(agent_id="bot", default_model_id=v1.id, expected_version=0), "admin")
    assert (route.version, route.default_model_name, route.fallback_model_id) == (1, v1.name, None)
    with pytest.raises(ConflictError, match="already exists"):
        store.set_route(tenant, RouteIn(agent_id="bot", default_model_id=v2.id, expected_version=0), "admin")
    replaced = store.set_route(
        tenant,
        RouteIn(agent_id="bot", default_model_id=v2.id, fallback_model_id=v1.id, policy={"canary": 0.1},
                expected_version=1),
        "admin",
    )
    assert (replaced.version, replaced.default_model_id, replaced.fallback_model_name) == (2, v2.id, v1.name)
    assert replaced.policy == {"canary": 0.1} and replaced.default_adapter_uri == v2.adapter_uri
    with pytest.raises(ConflictError, match="at version 2, the write names 1"):
        store.set_route(tenant, RouteIn(agent_id="bot", default_model_id=v1.id, expected_version=1), "admin")
    with pytest.raises(ConflictError, match="at version 0"):
        store.set_route(tenant, RouteIn(agent_id="new-bot", default_model_id=v1.id, expected_version=3), "admin")
    assert store.get_route(tenant, "bot") == replaced
    assert [r.agent_id for r in store.list_routes(tenant)] == ["bot"]
    audits = store.list_audit(tenant, action="route.set")
    assert len(audits) == 2 and audits[0].before is not None and audits[0].before["version"] == 1
    assert audits[0].after is not None and audits[0].after["version"] == 2


def test_route_needs_promoted_versions_of_the_tenant(
    store: SqlRegistryStore, tenant: str, promoted: Callable[..., ModelVersion]
) -> None:
    candidate, _ = store.register_version(tenant, version_in(), "p")
    with pytest.raises(ConflictError, match="only a promoted version"):
        store.set_route(tenant, RouteIn(agent_id="bot", default_model_id=candidate.id, expected_version=0), "a")
    foreign, _ = store.register_version("other-" + tenant, version_in(status=ModelStatus.promoted), "p")
    with pytest.raises(NotFoundError, match="fallback_model_id"):
        store.set_route(
            tenant,
            RouteIn(agent_id="bot", default_model_id=promoted().id, fallback_model_id=foreign.id, expected_version=0),
            "a",
        )
    with pytest.raises(NotFoundError):
        store.get_route(tenant, "bot")


def test_rollback_puts_the_fallback_back_and_retires_the_version_it_leaves(
    store: SqlRegistryStore, tenant: str, promoted: Callable[..., ModelVersion]
) -> None:
    old, new = promoted(), promoted()
    store.set_route(
        tenant, RouteIn(agent_id="bot", default_model_id=new.id, fallback_model_id=old.id, expected_version=0), "a"
    )
    with pytest.raises(ConflictError, match="still serves route"):
        store.transition(tenant, new.id, ModelStatus.retired, "a")
    with pytest.raises(ConflictError, match="at version 1"):
        store.rollback_route(tenant, "bot", "oncall", expected_version=7)
    back = store.rollback_route(tenant, "bot", "oncall", expected_version=1, reason="quality dropped")
    assert (back.default_model_id, back.fallback_model_id, back.version) == (old.id, None, 2)
    assert store.get_version(tenant, new.id).status is ModelStatus.retired
    assert store.get_version(tenant, old.id).status is ModelStatus.promoted
    entry = store.list_audit(tenant, action="route.rollback")[0]
    assert entry.actor == "oncall" and entry.subject == "route:bot"
    assert entry.before is not None and entry.before["default_model_id"] == str(new.id)
    assert entry.after is not None and entry.after["reason"] == "quality dropped" and entry.after["left_model_retired"]
    assert store.list_audit(tenant, action="model.retired")[0].subject == f"model:{new.id}"
    with pytest.raises(ConflictError, match="no fallback"):
        store.rollback_route(tenant, "bot", "oncall")
    with pytest.raises(NotFoundError):
        store.rollback_route(tenant, "nobody", "oncall")


def test_rollback_keeps_a_version_that_serves_another_route(
    store: SqlRegistryStore, tenant: str, promoted: Callable[..., ModelVersion]
) -> None:
    old, new = promoted(), promoted()
    for agent in ("bot", "other-bot"):
        store.set_route(
            tenant, RouteIn(agent_id=agent, default_model_id=new.id, fallback_model_id=old.id, expected_version=0), "a"
        )
    store.rollback_route(tenant, "bot", "oncall")
    assert store.get_version(tenant, new.id).status is ModelStatus.promoted
    assert store.list_audit(tenant, action="route.rollback")[0].after["left_model_retired"] is False  # type: ignore[index]


def test_every_write_is_audited_with_actor_and_subject(
    store: SqlRegistryStore, tenant: str
) -> None:
    v, _ = store.register_version(tenant, version_in(), "alice")
    store.transition(tenant, v.id, ModelStatus.pending_approval, "alice")
    store.transition(tenant, v.id, ModelStatus.promoted, "bob", four_eyes=True)
    old, _ = store.register_version(tenant, version_in(status=ModelStatus.promoted), "alice")
    store.set_route(tenant, RouteIn(agent_id="bot", default_model_id=v.id, fallback_model_id=old.id,
                                    expected_version=0), "carol")
    store.rollback_route(tenant, "bot", "dave")
    entries = list(reversed(store.list_audit(tenant)))
    assert [(e.action, e.actor) for e in entries] == [
        ("model.register", "alice"),
        ("model.pending_approval", "alice"),
        ("model.promoted", "bob"),
        ("model.register", "alice"),
        ("route.set", "carol"),
        ("model.retired", "dave"),
        ("route.rollback", "dave"),
    ]
    assert store.list_audit("other-" + tenant) == []
    assert len(store.list_audit(tenant, subject=f"model:{v.id}")) == 4


def test_concurrent_registrations_of_one_manifest_give_one_version(
    store: SqlRegistryStore, tenant: str
) -> None:
    digest = manifest_hash()
    others = [manifest_hash() for _ in range(4)]
    barrier = threading.Barrier(8)

    def register(digest: str) -> tuple[ModelVersion, bool]:
        barrier.wait()
        return store.register_version(tenant, version_in(manifest_sha256=digest), "p")

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(register, [digest] * 4 + others))
    same = results[:4]
    assert len({v.id for v, _ in same}) == 1 and sum(created for _, created in same) == 1
    names = [v.name for v, _ in results]
    assert len(set(names)) == 5  # one per manifest, none reused
    assert len(store.list_versions(tenant)) == 5

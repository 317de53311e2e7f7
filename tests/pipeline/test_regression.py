"""Protects: the regression sensor (issue 12, "Rollback"). A promoted version whose served answers
draw too many low-reward corrections is rolled back to its fallback by itself, retired, audited and
alerted; too few samples, a healthy share, a route without a fallback or a route changed meanwhile
never roll back. Both backends; real stores, the real sensor through ``build_sensor_context``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from aion_assets.core.db import make_engine
from aion_assets.memory.models import InteractionIn, SelfEditIn
from aion_assets.memory.resources import MemoryStoreResource
from aion_assets.memory.store import MemoryStore
from aion_assets.registry.models import ModelStatus, RouteIn
from aion_assets.registry.resources import RegistryResource
from aion_assets.registry.sql_store import SqlRegistryStore
from aion_assets.seal.config import load_seal_config
from aion_assets.seal.regression import ACTOR, judge
from aion_assets.seal.resources import SealResource
from aion_assets.seal.sensors import regression_sensor
from tests.registry.conftest import version_in

ALERT_URL = "http://127.0.0.1:9/alerts"  # never posted to here: the outbox only queues
DEPLOY_URL = "http://127.0.0.1:9/deploy"
BOUNDS = {"regression_min_samples": 10, "regression_max_bad_share": 0.3, "regression_low_reward": 0.3}


@pytest.fixture
def seal_resource(tmp_path: Path) -> SealResource:
    path = tmp_path / "seal.yaml"
    path.write_text(yaml.safe_dump({"defaults": {"promotion": BOUNDS}}))
    return SealResource(config_path=str(path), home=str(tmp_path / "home"))


@pytest.fixture
def stores(database) -> Any:  # type: ignore[no-untyped-def]
    engine = make_engine(database.url, pool_size=2)
    yield MemoryStore(engine), SqlRegistryStore(engine)
    engine.dispose()


def _route(registry: SqlRegistryStore, tenant: str, agent: str) -> tuple[Any, Any, Any]:
    """A route whose default is a promoted v2 and whose fallback is the promoted v1."""
    v1, _ = registry.register_version(tenant, version_in(status=ModelStatus.promoted), "pipeline")
    v2, _ = registry.register_version(tenant, version_in(status=ModelStatus.promoted), "pipeline")
    route = registry.set_route(
        tenant,
        RouteIn(agent_id=agent, default_model_id=v2.id, fallback_model_id=v1.id, expected_version=0),
        "pipeline",
    )
    return v1, v2, route


def _serve(memory: MemoryStore, tenant: str, agent: str, served_by: str, n: int, bad: int) -> None:
    """N interactions answered by SERVED_BY, BAD of them corrected with reward 0.1 (the rest 0.9)."""
    now = datetime.now(UTC) - timedelta(minutes=5)
    items = [
        InteractionIn(
            id=uuid.uuid4(), agent_id=agent, user_id=f"u{k}", input_text=f"q{k}", output_text=f"a{k}",
            model_version=served_by, timestamp=now,
        )
        for k in range(n)
    ]
    memory.add_interactions(tenant, items)
    for k, item in enumerate(items):
        reward = 0.1 if k < bad else 0.9
        memory.add_self_edit(
            tenant,
            SelfEditIn(interaction_id=item.id, editor_type="human", edited_output="better", reward_score=reward),
        )


def _tick(database, seal_resource: SealResource) -> dg.SkipReason:  # type: ignore[no-untyped-def]
    with dg.build_sensor_context(
        resources={
            "memory": MemoryStoreResource(database_url=database.url, pool_size=2),
            "registry": RegistryResource(
                database_url=database.url, alert_webhook_url=ALERT_URL, deploy_webhook_url=DEPLOY_URL
            ),
            "seal": seal_resource,
        }
    ) as context:
        result = regression_sensor(context)
    assert isinstance(result, dg.SkipReason)
    return result


def test_a_regressing_version_is_rolled_back_retired_audited_and_alerted(
    database, stores, tenant: str, seal_resource: SealResource  # type: ignore[no-untyped-def]
) -> None:
    memory, registry = stores
    v1, v2, _ = _route(registry, tenant, "bot")
    _serve(memory, tenant, "bot", v2.name, n=20, bad=8)  # 40% > 30%
    _serve(memory, tenant, "bot", v1.name, n=20, bad=20)  # the fallback's own history does not count for v2

    reason = _tick(database, seal_resource)

    assert f"rolled back 1: {tenant}/bot" in (reason.skip_message or "")
    route = registry.get_route(tenant, "bot")
    assert route.default_model_id == v1.id and route.fallback_model_id is None
    assert registry.get_version(tenant, v2.id).status == ModelStatus.retired
    (entry,) = [e for e in registry.list_audit(tenant, limit=50) if e.action == "route.rollback"]
    assert entry.actor == ACTOR and entry.subject == "route:bot"
    outbox = RegistryResource(database_url=database.url).get_outbox()
    (alert,) = outbox.entries(tenant, kind="alert")
    labels = alert.payload["alerts"][0]["labels"]
    assert labels["alertname"] == "AionModelRegression" and labels["model"] == v2.name
    assert "8 of 20" in alert.payload["alerts"][0]["annotations"]["description"]
    # The route change is posted to the deployment system like any rollback (queued with it).
    (trigger,) = outbox.entries(tenant, kind="deployment")
    assert trigger.url == DEPLOY_URL and trigger.event_key == f"route.set:bot:{route.version}"
    assert trigger.payload["default"]["id"] == str(v1.id) and trigger.payload["cause"]["actor"] == ACTOR

    # The next tick finds no fallback any more: nothing more happens, nothing is alerted twice.
    again = _tick(database, seal_resource)
    assert "none regressed" in (again.skip_message or "")
    assert len(outbox.entries(tenant, kind="alert")) == 1


@pytest.mark.parametrize(
    ("n", "bad", "why"),
    [(8, 8, "fewer than 10"), (20, 6, "30.0% of answers"), (0, 0, "0 answers served")],
    ids=["too-few-samples", "healthy-share", "nothing-served"],
)
def test_no_rollback_without_enough_evidence(stores, tenant: str, n: int, bad: int, why: str) -> None:  # type: ignore[no-untyped-def]
    memory, registry = stores
    _, v2, route = _route(registry, tenant, "bot")
    _serve(memory, tenant, "bot", v2.name, n=n, bad=bad)
    bounds = load_seal_config_with(BOUNDS).promotion_for(tenant, "support")
    verdict = judge(route, v2, bounds, memory, registry, now=datetime.now(UTC))
    assert not verdict.rolled_back and why in verdict.reason
    assert registry.get_route(tenant, "bot").default_model_id == v2.id


def test_a_route_changed_meanwhile_is_left_alone(stores, tenant: str) -> None:  # type: ignore[no-untyped-def]
    memory, registry = stores
    v1, v2, stale = _route(registry, tenant, "bot")
    _serve(memory, tenant, "bot", v2.name, n=20, bad=20)
    registry.set_route(  # a human re-points the route after the sensor read it
        tenant,
        RouteIn(agent_id="bot", default_model_id=v2.id, fallback_model_id=v1.id, policy={"x": 1},
                expected_version=stale.version),
        "alice",
    )
    bounds = load_seal_config_with(BOUNDS).promotion_for(tenant, "support")
    verdict = judge(stale, v2, bounds, memory, registry, now=datetime.now(UTC))
    assert not verdict.rolled_back and "changed meanwhile" in verdict.reason
    assert registry.get_route(tenant, "bot").default_model_id == v2.id


def test_a_route_without_fallback_is_never_judged(stores, tenant: str) -> None:  # type: ignore[no-untyped-def]
    memory, registry = stores
    v, _ = registry.register_version(tenant, version_in(status=ModelStatus.promoted), "pipeline")
    route = registry.set_route(tenant, RouteIn(agent_id="bot", default_model_id=v.id, expected_version=0), "p")
    _serve(memory, tenant, "bot", v.name, n=20, bad=20)
    bounds = load_seal_config_with(BOUNDS).promotion_for(tenant, "support")
    verdict = judge(route, v, bounds, memory, registry, now=datetime.now(UTC))
    assert not verdict.rolled_back and verdict.reason == "no fallback to roll back to"


def load_seal_config_with(promotion: dict[str, Any]) -> Any:
    """A SEAL config whose defaults carry PROMOTION (written to a temporary file)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "seal.yaml"
        path.write_text(yaml.safe_dump({"defaults": {"promotion": promotion}}))
        return load_seal_config(path)

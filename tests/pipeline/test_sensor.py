"""``approved_edits_sensor`` through ``build_sensor_context`` and ``evaluate_tick``.

Protects: a tenant/domain below N newly approved edits is skipped with a reason; at N it gets its
partition added and exactly one run request; the cursor advances so the next tick does not request
it again; re-evaluating a tick from the same cursor yields the same run key (no duplicate work);
opted-out tenants never trigger; the per-tenant threshold from config wins; each run request
carries the run tags the run queue limits (its partition, the GPU queue).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import dagster as dg
import pytest

from aion_assets.core.settings import Settings
from aion_assets.definitions import resources_from_settings
from aion_assets.memory.assets import interactions
from aion_assets.memory.resources import MemoryStoreResource
from aion_assets.memory.store import MemoryStore
from aion_assets.seal.datasets.assets import scrubbed_edits, sft_dataset, tenant_vocabulary
from aion_assets.seal.datasets.sensors import build_approved_edits_sensor, sft_dataset_job
from aion_assets.seal.partitions import GPU_QUEUE, PARTITION_TAG, QUEUE_TAG, TENANT_DOMAINS
from tests.conftest import Database
from tests.pipeline.conftest import seed, set_tenant

pytestmark = pytest.mark.filterwarnings("ignore::dagster.PreviewWarning")


def _tick(sensor: dg.SensorDefinition, database: Database, instance: dg.DagsterInstance, cursor: str | None):
    resources = {"memory": MemoryStoreResource(database_url=database.url)}
    definitions = dg.Definitions(
        assets=[interactions, tenant_vocabulary, scrubbed_edits, sft_dataset],
        jobs=[sft_dataset_job],
        sensors=[sensor],
        resources={**resources_from_settings(Settings()), **resources},
    )
    with dg.build_sensor_context(
        instance_ref=instance.get_ref(), cursor=cursor, resources=resources, definitions=definitions
    ) as context:
        return sensor.evaluate_tick(context)


def _mine(data, tenant: str) -> list[dg.RunRequest]:
    return [r for r in data.run_requests or [] if r.partition_key.startswith(tenant + "/")]


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    """A persistent (temporary) instance: partitioned run requests resolve against its partitions."""
    with dg.instance_for_test() as inst:
        yield inst


def test_threshold_cursor_and_run_keys(database: Database, tenant: str, instance: dg.DagsterInstance) -> None:
    from aion_assets.core.db import make_engine

    engine = make_engine(database.url, pool_size=2)
    store = MemoryStore(engine)
    sensor = build_approved_edits_sensor(min_new_edits=5, settle_seconds=0)

    # Other tests' tenants share the database: a first tick takes their edits into the cursor.
    primed = _tick(sensor, database, instance, None)
    seed(store, tenant, 3, domain="support")
    first = _tick(sensor, database, instance, primed.cursor)
    assert _mine(first, tenant) == []
    assert first.skip_message and f"{tenant}/support: 3" in first.skip_message

    seed(store, tenant, 2, domain="support")
    seed(store, tenant, 1, domain="billing")
    second = _tick(sensor, database, instance, first.cursor)
    (request,) = _mine(second, tenant)
    assert request.partition_key == f"{tenant}/support"
    assert request.tags[PARTITION_TAG] == f"{tenant}/support" and request.tags[QUEUE_TAG] == GPU_QUEUE
    assert request.tags["aion/tenant"] == tenant
    added = [k for r in second.dynamic_partitions_requests for k in r.partition_keys]
    assert f"{tenant}/support" in added and f"{tenant}/billing" not in added
    state = json.loads(second.cursor)
    assert state["pending"][f"{tenant}/support"] == 0 and state["pending"][f"{tenant}/billing"] == 1

    # The same tick evaluated again (cursor not saved): the same run key, so Dagster runs it once.
    replay = _tick(sensor, database, instance, first.cursor)
    assert [r.run_key for r in _mine(replay, tenant)] == [request.run_key]

    # Nothing new: the next tick requests nothing for this tenant.
    instance.add_dynamic_partitions(TENANT_DOMAINS, [f"{tenant}/support"])
    third = _tick(sensor, database, instance, second.cursor)
    assert _mine(third, tenant) == []

    # Five more: a second run, with a new run key, and no second add of a known partition.
    seed(store, tenant, 5, domain="support")
    fourth = _tick(sensor, database, instance, third.cursor)
    (again,) = _mine(fourth, tenant)
    assert again.run_key != request.run_key
    assert not any(f"{tenant}/support" in r.partition_keys for r in fourth.dynamic_partitions_requests or [])
    engine.dispose()


def test_opt_out_and_tenant_threshold(database: Database, tenant: str, instance: dg.DagsterInstance) -> None:
    from aion_assets.core.db import make_engine

    engine = make_engine(database.url, pool_size=2)
    store = MemoryStore(engine)
    sensor = build_approved_edits_sensor(min_new_edits=50, settle_seconds=0)
    seed(store, tenant, 2, domain="support")
    set_tenant(engine, tenant, config={"curation": {"min_new_edits": 2}})
    assert [r.partition_key for r in _mine(_tick(sensor, database, instance, None), tenant)] == [f"{tenant}/support"]

    set_tenant(engine, tenant, adaptation_opt_out=True, config={"curation": {"min_new_edits": 1}})
    seed(store, tenant, 3, domain="support")
    assert _mine(_tick(sensor, database, instance, None), tenant) == []
    engine.dispose()


def test_low_rewards_and_pending_edits_do_not_count(
    database: Database, tenant: str, instance: dg.DagsterInstance
) -> None:
    from aion_assets.core.db import make_engine

    engine = make_engine(database.url, pool_size=2)
    store = MemoryStore(engine)
    seed(store, tenant, 3, reward=0.1)
    seed(store, tenant, 3, approve=False)
    sensor = build_approved_edits_sensor(min_new_edits=3, settle_seconds=0)
    assert _mine(_tick(sensor, database, instance, None), tenant) == []
    engine.dispose()

"""The pipeline's assets through ``dg.materialize`` with real resources, on both backends.

Protects: lineage from ``memory/interactions`` to ``seal/sft_dataset``; the dataset's files in the
artifact store (train/eval JSONL under datasets/{tenant}/{domain}/{version}) and metadata; PII
removed; no new version without new data; the blocking checks pass on good data and block on bad.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import dagster as dg
import pytest

from aion_assets.definitions import defs
from aion_assets.memory.assets import interactions
from aion_assets.memory.store import MemoryStore
from aion_assets.seal.datasets.assets import scrubbed_edits, sft_dataset, tenant_vocabulary
from aion_assets.seal.datasets.checks import no_pii_left, scrubbed_file_intact, sft_dataset_structure
from aion_assets.seal.partitions import TENANT_DOMAINS
from tests.pipeline.conftest import Backend, seed, set_tenant

pytestmark = pytest.mark.filterwarnings("ignore::dagster.PreviewWarning")

ALL = [
    interactions,
    tenant_vocabulary,
    scrubbed_edits,
    sft_dataset,
    scrubbed_file_intact,
    no_pii_left,
    sft_dataset_structure,
]


def _materialize(
    backend: Backend, instance: dg.DagsterInstance, partition: str, run_config: dict[str, Any] | None = None
) -> dg.ExecuteInJobResult:
    instance.add_dynamic_partitions(TENANT_DOMAINS, [partition])
    # interactions is unpartitioned: materialize it first, then the partitioned part of the graph.
    dg.materialize([interactions], resources=backend.resources(), instance=instance)
    return dg.materialize(
        ALL[1:],
        selection=[tenant_vocabulary, scrubbed_edits, sft_dataset],
        partition_key=partition,
        resources=backend.resources(),
        instance=instance,
        run_config=run_config or {},
        raise_on_error=False,
    )


def _meta(result: dg.ExecuteInJobResult, asset: dg.AssetsDefinition) -> dict[str, Any]:
    (mat,) = [m for m in result.asset_materializations_for_node(asset.op.name)]
    return {k: v.value for k, v in mat.metadata.items()}


def test_dataset_is_built_scrubbed_versioned_and_checked(backend: Backend, tenant: str) -> None:
    engine = backend.engine()
    store = MemoryStore(engine)
    ids = seed(store, tenant, 30, domain="support")
    seed(store, tenant, 4, domain="billing")  # another partition: must not leak into this one
    seed(store, tenant, 3, reward=0.2)  # below the default threshold 0.5
    seed(store, tenant, 3, approve=False)  # pending edits are never curated
    instance = dg.DagsterInstance.ephemeral()
    partition = f"{tenant}/support"

    result = _materialize(backend, instance, partition)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {
        "scrubbed_file_intact": True,
        "no_pii_left": True,
        "unique_interaction_ids": True,
        "rewards_above_threshold": True,
        "splits_disjoint": True,
        "enough_rows": True,
    }
    scrubbed = _meta(result, scrubbed_edits)
    assert scrubbed["approved_edits_read"] == 34  # billing too; low rewards and pending edits are not read
    assert scrubbed["rows_in"] == 30
    assert scrubbed["rows_out"] == 30
    assert scrubbed["removed_by_type"].get("EMAIL_ADDRESS", 0) >= 6

    meta = _meta(result, sft_dataset)
    assert meta["rows_train"] + meta["rows_eval"] == 30
    assert 0 < meta["rows_eval"] < 30
    assert sum(meta["reward_histogram"].values()) == 30
    assert meta["reward_histogram"] == {"0.9-1.0": 30}
    version = meta["version"]
    assert meta["content_hash"].startswith(version)
    artifacts = backend.artifact_store()
    prefix = f"datasets/{tenant}/support/{version}"
    expected = [f"{prefix}/{n}" for n in ("eval.jsonl", "manifest.json", "train.jsonl")]
    assert sorted(artifacts.list(prefix + "/")) == expected
    assert meta["uri"] == artifacts.uri(prefix)

    rows = [
        json.loads(line) for s in ("train", "eval") for line in artifacts.get_bytes(f"{prefix}/{s}.jsonl").splitlines()
    ]
    assert {uuid.UUID(r["id"]) for r in rows} == set(ids)
    text = json.dumps(rows)
    for value in ("maria.gonzalez+orders@example.com", "415-555-0132", "4111 1111 1111 1111", "Maria Gonzalez"):
        assert value not in text
    assert "<EMAIL_ADDRESS>" in text
    row = rows[0]
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
    assert row["messages"][1]["content"] == row["prompt"] and row["messages"][2]["content"] == row["response"]
    assert row["metadata"]["domain"] == "support" and row["metadata"]["tenant_id"] == tenant
    assert "user_id" not in row["metadata"]
    # The registry's lineage of a version lists these (registry/lineage.py).
    manifest = json.loads(artifacts.get_bytes(f"{prefix}/manifest.json"))
    assert manifest["source_edit_ids"] == sorted({r["metadata"]["edit_id"] for r in rows}) and len(rows) == 30

    # Same data again: same hash, same version, nothing rewritten.
    again = _materialize(backend, instance, partition)
    assert again.success
    meta2 = _meta(again, sft_dataset)
    assert (meta2["version"], meta2["content_hash"]) == (version, meta["content_hash"])
    assert meta2["reused_existing_version"] is True

    # One more approved edit: a new version beside the old one.
    seed(store, tenant, 1, domain="support")
    third = _materialize(backend, instance, partition)
    assert third.success
    assert _meta(third, sft_dataset)["version"] != version
    engine.dispose()


def test_blocking_check_stops_a_too_small_dataset(backend: Backend, tenant: str) -> None:
    engine = backend.engine()
    seed(MemoryStore(engine), tenant, 3, domain="support")
    instance = dg.DagsterInstance.ephemeral()
    result = _materialize(
        backend, instance, f"{tenant}/support", {"ops": {"seal__sft_dataset": {"config": {"min_rows": 50}}}}
    )
    assert not result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["enough_rows"] is False
    assert checks["unique_interaction_ids"] is True
    engine.dispose()


def test_opted_out_tenant_gets_no_dataset(backend: Backend, tenant: str) -> None:
    engine = backend.engine()
    seed(MemoryStore(engine), tenant, 3, domain="support")
    set_tenant(engine, tenant, adaptation_opt_out=True)
    result = _materialize(backend, dg.DagsterInstance.ephemeral(), f"{tenant}/support")
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "opted out" in failure.message + str(failure.event_specific_data)
    engine.dispose()


def test_interactions_observation_counts_the_tenant(backend: Backend, tenant: str) -> None:
    engine = backend.engine()
    seed(MemoryStore(engine), tenant, 2)
    result = dg.materialize([interactions], resources=backend.resources(), instance=dg.DagsterInstance.ephemeral())
    meta = _meta(result, interactions)
    assert meta["per_tenant"][tenant]["interactions"] == 2
    assert meta["per_tenant"][tenant]["edits"]["approved"] == 2
    engine.dispose()


def test_definitions_snapshot() -> None:
    """The code location's asset keys, checks, jobs, sensors and schedules (a rename is a breaking change)."""
    repo = defs.get_repository_def()
    assert sorted(k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()) == [
        "memory/interaction_archive",
        "memory/interactions",
        "memory/scrubbed_edits",
        "registry/route_table",
        "seal/evaluation_report",
        "seal/lora_adapter",
        "seal/promotion_decision",
        "seal/sft_dataset",
        "seal/tenant_vocabulary",
    ]
    assert sorted(f"{k.asset_key.to_user_string()}:{k.name}" for k in repo.asset_graph.asset_check_keys) == [
        "memory/scrubbed_edits:scrubbed_file_intact",
        "seal/evaluation_report:candidate_not_worse_than_baseline",
        "seal/promotion_decision:promotion_passed",
        "seal/sft_dataset:enough_rows",
        "seal/sft_dataset:no_pii_left",
        "seal/sft_dataset:rewards_above_threshold",
        "seal/sft_dataset:splits_disjoint",
        "seal/sft_dataset:unique_interaction_ids",
    ]
    assert sorted(s.name for s in repo.sensor_defs) == [
        "aion_automation",
        "approved_edits_sensor",
        "approved_promotions_sensor",
        "regression_sensor",
        "webhook_outbox_sensor",
    ]
    assert [s.name for s in repo.schedule_defs] == ["retention_schedule"]
    for key in repo.asset_graph.get_all_asset_keys():
        node = repo.asset_graph.get(key)
        assert node.group_name in ("memory", "seal", "registry") and node.group_name == key.path[0]
        assert node.description and "\n" not in node.description.strip()

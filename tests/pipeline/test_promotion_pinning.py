"""Protects: the candidate adapter is pinned to the content address recorded when it was trained.

With a tiny random Llama: ``seal/lora_adapter`` records the sha256 of its package's manifest; the
evaluation records the same hash for the package it evaluated. Then the package is replaced in the
artifact store under the same prefix by a self-consistent one (weights zeroed, manifest restated:
it passes every check of the manifest itself). ``seal/promotion_decision`` refuses to register it,
and ``seal/evaluation_report`` refuses to evaluate it, each with an error naming the expected and
the found hash; nothing reaches the registry. SQLite and a local artifact folder (the stores are
covered on both backends elsewhere).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from safetensors.torch import load, save

from aion_assets.memory.assets import interactions
from aion_assets.memory.store import MemoryStore
from aion_assets.registry.sql_store import SqlRegistryStore
from aion_assets.seal.assets import evaluation_report, lora_adapter
from aion_assets.seal.datasets import assets as dataset_assets
from aion_assets.seal.partitions import TENANT_DOMAINS
from aion_assets.seal.promotion_assets import promotion_decision
from aion_assets.seal.resources import SealResource
from tests.conftest import Database
from tests.pipeline.conftest import Backend, seed, set_tenant

# The tiny-model fixture and result helpers of the serving-baseline tests (one copy of each).
from tests.pipeline.test_promotion_serving_baseline import ALL, _failures, _meta, seal_resource  # noqa: F401

pytestmark = pytest.mark.filterwarnings("ignore::dagster.PreviewWarning")

EVAL_CONFIG = {"max_new_tokens": 8, "batch_size": 8, "consistency": "none", "n_resamples": 100, "tolerance": 1.0}


def _run(backend: Backend, seal: SealResource, instance: dg.DagsterInstance, partition: str,
         selection: list[Any]) -> dg.ExecuteInJobResult:
    return dg.materialize(
        ALL,
        selection=selection,
        partition_key=partition,
        resources={**backend.resources(), "seal": seal},
        instance=instance,
        run_config={"ops": {"seal__evaluation_report": {"config": EVAL_CONFIG}}} if evaluation_report in selection
        else {},
        raise_on_error=False,
    )


def test_a_package_replaced_after_training_is_neither_evaluated_nor_promoted(
    sqlite_database: Database, tmp_path: Path, tenant: str, seal_resource: SealResource  # noqa: F811
) -> None:
    backend = Backend("sqlite", sqlite_database, (tmp_path / "artifacts").as_uri(), None)
    engine = backend.engine()
    seed(MemoryStore(engine), tenant, 16, domain="support")
    set_tenant(engine, tenant, config={"curation": {"eval_share": 0.5}})  # an eval split for sure
    partition = f"{tenant}/support"
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(TENANT_DOMAINS, [partition])
    dg.materialize([interactions], resources=backend.resources(), instance=instance)

    first = _run(backend, seal_resource, instance, partition,
                 [*dataset_assets.assets, lora_adapter, evaluation_report])
    assert first.success, _failures(first)
    adapter = _meta(first, lora_adapter)
    recorded = adapter["manifest_sha256"]
    assert _meta(first, evaluation_report)["manifest_sha256"] == recorded

    # Someone with write access to the store replaces the package: zeroed weights, a manifest restated
    # to match them (consistent, so the manifest's own checks pass), same prefix.
    store = backend.artifact_store()
    prefix = adapter["prefix"]
    manifest = json.loads(store.get_bytes(f"{prefix}/manifest.json"))
    weights = [name for name in manifest["files"] if name.endswith(".safetensors")]
    assert weights
    for name in weights:
        data = save({k: v.zero_() for k, v in load(store.get_bytes(f"{prefix}/{name}")).items()})
        store.put_bytes(f"{prefix}/{name}", data)
        manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    restated = json.dumps(manifest, indent=1, sort_keys=True).encode()
    store.put_bytes(f"{prefix}/manifest.json", restated)
    found = hashlib.sha256(restated).hexdigest()
    assert found != recorded

    # The promotion of the (honestly) evaluated adapter refuses what the store now holds.
    promoted = _run(backend, seal_resource, instance, partition, [promotion_decision])
    assert not promoted.success
    text = _failures(promoted)
    assert f"sha256 is {found}, expected {recorded}" in text and adapter["version"] in text
    assert SqlRegistryStore(engine).list_versions(tenant) == []

    # And a new evaluation refuses it before loading anything.
    evaluated = _run(backend, seal_resource, instance, partition, [evaluation_report])
    assert not evaluated.success
    text = _failures(evaluated)
    assert f"sha256 is {found}, expected {recorded}" in text and "replaced after training" in text
    assert not evaluated.asset_materializations_for_node(evaluation_report.op.name)
    assert SqlRegistryStore(engine).list_versions(tenant) == []
    engine.dispose()

"""Protects: ``seal/evaluation_report`` compares the candidate with the version that serves the route today.

With a tiny random Llama: a first adapter is trained, registered as promoted and routed; the next
adapter's evaluation names that version as its baseline and answers with its adapter, downloaded
and verified against the content address the registry holds (its manifest hash); a serving adapter
whose files were changed after promotion is refused instead of silently evaluated. Nothing routed
yet: the base model is the baseline. SQLite and a local artifact folder only (the stores are
covered on both backends elsewhere).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from aion_assets.memory.assets import interactions
from aion_assets.memory.store import MemoryStore
from aion_assets.registry.models import ModelStatus, ModelVersionIn, RouteIn
from aion_assets.registry.sql_store import SqlRegistryStore
from aion_assets.seal.assets import evaluation_report, lora_adapter
from aion_assets.seal.datasets import assets as dataset_assets
from aion_assets.seal.definitions import build_definitions
from aion_assets.seal.partitions import TENANT_DOMAINS
from aion_assets.seal.resources import SealResource
from tests.conftest import Database
from tests.pipeline.conftest import Backend, seed, set_tenant
from tests.seal.conftest import build_tiny_llama

pytestmark = pytest.mark.filterwarnings("ignore::dagster.PreviewWarning")

_SEAL = build_definitions()
ALL = [interactions, *(_SEAL.assets or []), *(_SEAL.asset_checks or [])]
EVAL_CONFIG = {"max_new_tokens": 8, "batch_size": 8, "consistency": "none", "n_resamples": 100, "tolerance": 1.0}


@pytest.fixture
def seal_resource(tmp_path: Path) -> SealResource:
    """The tiny Llama as the only base model, trained two optimizer steps in fp32."""
    tiny = build_tiny_llama(tmp_path / "tiny-llama")
    config = {
        "base_models": {"tiny": {"path": str(tiny)}},
        "defaults": {
            "base_model": "tiny",
            "hyperparameters": {"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"], "max_steps": 2,
                                "max_train_minutes": 2, "batch_size": 4, "max_seq_len": 96, "precision": "fp32"},
        },
    }
    path = tmp_path / "seal.yaml"
    path.write_text(yaml.safe_dump(config))
    return SealResource(config_path=str(path), home=str(tmp_path / "home"), scenarios_dir=None, adapter_key=None)


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


def _meta(result: dg.ExecuteInJobResult, asset: dg.AssetsDefinition) -> dict[str, Any]:
    (mat,) = result.asset_materializations_for_node(asset.op.name)
    return {k: v.value for k, v in mat.metadata.items()}


def _failures(result: dg.ExecuteInJobResult) -> str:
    return " ".join(e.message + str(e.event_specific_data) for e in result.all_events if e.is_failure)


def test_the_routed_version_is_the_baseline(sqlite_database: Database, tmp_path: Path, tenant: str,
                                            seal_resource: SealResource) -> None:
    backend = Backend("sqlite", sqlite_database, (tmp_path / "artifacts").as_uri(), None)
    engine = backend.engine()
    seed(MemoryStore(engine), tenant, 16, domain="support")
    set_tenant(engine, tenant, config={"curation": {"eval_share": 0.5}})  # an eval split for sure
    partition = f"{tenant}/support"
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(TENANT_DOMAINS, [partition])
    dg.materialize([interactions], resources=backend.resources(), instance=instance)

    # Nothing routed: the first adapter is compared with the base model.
    first = _run(backend, seal_resource, instance, partition, [*dataset_assets.assets, lora_adapter, evaluation_report])
    assert first.success, _failures(first)
    assert _meta(first, evaluation_report)["baseline"] == "tiny"
    v1 = _meta(first, lora_adapter)

    # It is promoted and routed (as a reviewer would through the API).
    registry = SqlRegistryStore(engine)
    serving, _ = registry.register_version(
        tenant,
        ModelVersionIn(manifest_sha256=v1["manifest_sha256"], adapter_uri=v1["uri"], base_model="tiny",
                       domain="support", status=ModelStatus.promoted),
        "reviewer",
    )
    registry.set_route(tenant, RouteIn(agent_id="support", default_model_id=serving.id, expected_version=0), "ops")

    # The next adapter is compared with the routed version, answering with its adapter.
    second = _run(backend, seal_resource, instance, partition, [lora_adapter, evaluation_report])
    assert second.success, _failures(second)
    report = _meta(second, evaluation_report)
    assert report["baseline"] == serving.name != report["candidate"]
    assert report["summary"]["models"]["baseline"]["model_version"] == serving.name

    # The serving adapter's files changed after promotion: refused, not evaluated against.
    store = backend.artifact_store()
    weights = next(k for k in store.list(v1["prefix"] + "/") if k.endswith(".safetensors"))
    store.put_bytes(weights, b"\0" * len(store.get_bytes(weights)))
    tampered = _run(backend, seal_resource, instance, partition, [evaluation_report])
    assert not tampered.success
    assert "sha256" in _failures(tampered)
    engine.dispose()


def test_a_zeroed_adapter_is_never_promoted_and_alerts(sqlite_database: Database, tmp_path: Path, tenant: str,
                                                       seal_resource: SealResource) -> None:
    """An adapter whose weights are zeroed after training answers exactly like the base model: no gain,
    so it is rejected, an alert reaches a real HTTP receiver, and no route is published."""
    import hashlib
    import json

    from safetensors.torch import load, save

    from aion_assets.registry.assets import route_table
    from aion_assets.registry.resources import RegistryResource
    from aion_assets.seal.promotion_assets import promotion_decision
    from tests.pipeline.test_promotion_path import Receiver

    receiver = Receiver()
    backend = Backend("sqlite", sqlite_database, (tmp_path / "artifacts").as_uri(), None)
    engine = backend.engine()
    seed(MemoryStore(engine), tenant, 16, domain="support")
    set_tenant(engine, tenant, config={"curation": {"eval_share": 0.5}})
    partition = f"{tenant}/support"
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(TENANT_DOMAINS, [partition])
    dg.materialize([interactions], resources=backend.resources(), instance=instance)
    trained = _run(backend, seal_resource, instance, partition, [*dataset_assets.assets, lora_adapter])
    assert trained.success, _failures(trained)
    prefix = _meta(trained, lora_adapter)["prefix"]

    # Zero every weight of the stored package and restate its (unsigned: no key here) manifest.
    store = backend.artifact_store()
    manifest = json.loads(store.get_bytes(f"{prefix}/manifest.json"))
    weights = [name for name in manifest["files"] if name.endswith(".safetensors")]
    assert weights
    for name in weights:
        tensors = {k: v.zero_() for k, v in load(store.get_bytes(f"{prefix}/{name}")).items()}
        data = save(tensors)
        store.put_bytes(f"{prefix}/{name}", data)
        manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    restated = json.dumps(manifest, indent=1, sort_keys=True).encode()
    store.put_bytes(f"{prefix}/manifest.json", restated)
    # ... and record it as the adapter that was trained: this test is about the quality gate, so the
    # broken package is the pinned one (a package replaced behind the record is refused before any
    # evaluation: tests/pipeline/test_promotion_pinning.py).
    recorded = _meta(trained, lora_adapter) | {"manifest_sha256": hashlib.sha256(restated).hexdigest()}
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=lora_adapter.key, partition=partition, metadata=recorded)
    )

    resources = {
        **backend.resources(),
        "seal": seal_resource,
        "registry": RegistryResource(database_url=sqlite_database.url, alert_webhook_url=receiver.url,
                                     webhook_secret="s"),
    }
    try:
        result = dg.materialize(
            [*ALL, promotion_decision, route_table],
            selection=[evaluation_report, promotion_decision, route_table],
            partition_key=partition,
            resources=resources,
            instance=instance,
            run_config={"ops": {"seal__evaluation_report": {"config": EVAL_CONFIG}}},
            raise_on_error=False,
        )
    finally:
        receiver.close()
    assert not result.success  # the promotion's blocking check failed ...
    assert not result.asset_materializations_for_node(route_table.op.name)  # ... so no route table
    report = _meta(result, evaluation_report)
    assert report["summary"]["vs_baseline"]["rougeL_body"]["diff"] == 0  # same answers as the base model
    decision = _meta(result, promotion_decision)
    assert decision["status"] == "rejected" and decision["alert_delivered"] is True
    registry = SqlRegistryStore(engine)
    (version,) = registry.list_versions(tenant)
    assert version.status is ModelStatus.rejected and "does not lie above zero" in (version.status_reason or "")
    assert registry.list_routes(tenant) == []
    ((_, body),) = receiver.received
    assert json.loads(body)["alerts"][0]["labels"]["model"] == version.name
    engine.dispose()

"""``seal/lora_adapter`` and ``seal/evaluation_report`` through ``dg.materialize``, with a tiny random Llama.

Protects: the typed hand-off from adapter to evaluation. The adapter records the dataset version
it was trained on (``AdapterRef.dataset``), and ``evaluation_report`` evaluates on that version's
eval split even when a newer dataset version was built in between (the bug of two overlapping
runs: an adapter evaluated on a dataset it never saw, whose eval rows may be its training rows).
SQLite + a local artifact folder only: the stores themselves are covered on both backends elsewhere.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from aion_assets.core.db import make_engine
from aion_assets.memory.assets import interactions
from aion_assets.memory.store import MemoryStore
from aion_assets.seal.assets import evaluation_report, lora_adapter
from aion_assets.seal.datasets import assets as dataset_assets
from aion_assets.seal.datasets.assets import sft_dataset
from aion_assets.seal.definitions import build_definitions
from aion_assets.seal.partitions import GPU_QUEUE, PARTITION_TAG, QUEUE_TAG, TENANT_DOMAINS
from aion_assets.seal.refs import AdapterRef, DatasetRef, latest
from aion_assets.seal.resources import SealResource
from tests.conftest import Database
from tests.pipeline.conftest import Backend, seed, set_tenant
from tests.seal.conftest import build_tiny_llama

pytestmark = pytest.mark.filterwarnings("ignore::dagster.PreviewWarning")

_SEAL = build_definitions()
ALL = [interactions, *(_SEAL.assets or []), *(_SEAL.asset_checks or [])]
#: The dataset room's assets, from the approved edits up to ``seal/sft_dataset`` (with its checks).
DATASET = list(dataset_assets.assets)
#: Evaluation settings that keep the tiny model's evaluation to a few seconds; the gate's
#: tolerance is wide open because a random model's scores say nothing (the hand-off is tested).
EVAL_CONFIG = {"max_new_tokens": 8, "batch_size": 8, "consistency": "none", "n_resamples": 100, "tolerance": 1.0}
EVAL_RUN_CONFIG = {"ops": {"seal__evaluation_report": {"config": EVAL_CONFIG}}}


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama checkpoint (built offline, as in tests/seal)."""
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture
def seal_resource(tiny_base: Path, tmp_path: Path) -> SealResource:
    """A seal resource whose only base model is the tiny Llama, trained two optimizer steps in fp32."""
    config = {
        "base_models": {"tiny": {"path": str(tiny_base)}},
        "defaults": {
            "base_model": "tiny",
            "hyperparameters": {
                "r": 4,
                "alpha": 8,
                "target_modules": ["q_proj", "v_proj"],
                "max_steps": 2,
                "max_train_minutes": 2,
                "batch_size": 4,
                "max_seq_len": 96,
                "precision": "fp32",
            },
        },
    }
    path = tmp_path / "seal.yaml"
    path.write_text(yaml.safe_dump(config))
    (tmp_path / "scenarios").mkdir()
    return SealResource(
        config_path=str(path), home=str(tmp_path / "home"), scenarios_dir=str(tmp_path / "scenarios"), adapter_key=None
    )


@pytest.fixture
def backend(sqlite_database: Database, tmp_path: Path) -> Iterator[Backend]:
    """SQLite and a local artifact folder."""
    yield Backend("sqlite", sqlite_database, (tmp_path / "artifacts").as_uri(), None)


def _run(
    backend: Backend,
    seal: SealResource,
    instance: dg.DagsterInstance,
    partition: str,
    selection: list[Any],
) -> dg.ExecuteInJobResult:
    result = dg.materialize(
        ALL,
        selection=selection,
        partition_key=partition,
        resources={**backend.resources(), "seal": seal},
        instance=instance,
        run_config=EVAL_RUN_CONFIG if evaluation_report in selection else {},
        raise_on_error=False,
    )
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    return result


def _meta(result: dg.ExecuteInJobResult, asset: dg.AssetsDefinition) -> dict[str, Any]:
    (mat,) = result.asset_materializations_for_node(asset.op.name)
    return {k: v.value for k, v in mat.metadata.items()}


def test_evaluation_uses_the_dataset_the_adapter_was_trained_on(
    backend: Backend, seal_resource: SealResource, tenant: str
) -> None:
    engine = backend.engine()
    store = MemoryStore(engine)
    seed(store, tenant, 16, domain="support")
    # Half held out: with 16 rows an empty eval split (nothing to evaluate) is a 1-in-65,536 draw.
    set_tenant(engine, tenant, config={"curation": {"eval_share": 0.5}})
    partition = f"{tenant}/support"
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(TENANT_DOMAINS, [partition])
    dg.materialize([interactions], resources=backend.resources(), instance=instance)

    # Dataset v1, and an adapter trained on it.
    first = _run(backend, seal_resource, instance, partition, [*DATASET, lora_adapter])
    v1 = DatasetRef.from_metadata(_meta(first, sft_dataset))
    assert _meta(first, sft_dataset)["rows_eval"] > 0
    adapter = latest(instance, lora_adapter.key, partition, AdapterRef)
    assert adapter.dataset == v1
    assert _meta(first, lora_adapter)["dataset_version"] == v1.version

    # More approved edits arrive: dataset v2 is built (another run), no adapter trained on it yet.
    seed(store, tenant, 8, domain="support")
    second = _run(backend, seal_resource, instance, partition, DATASET)
    v2 = latest(instance, sft_dataset.key, partition, DatasetRef)
    assert v2.version != v1.version and v2.eval_key != v1.eval_key
    assert _meta(second, sft_dataset)["rows_total"] == 24

    # The evaluation of the adapter runs on v1's eval split, not on the partition's latest dataset.
    report = _meta(_run(backend, seal_resource, instance, partition, [evaluation_report]), evaluation_report)
    assert report["candidate"] == adapter.version
    assert report["dataset_version"] == v1.version
    assert report["dataset_eval_key"] == v1.eval_key
    assert report["eval_rows"] == _meta(first, sft_dataset)["rows_eval"]
    stored = json.loads(backend.artifact_store().get_bytes(report["report_uri"].split("/artifacts/", 1)[1]))
    assert json.dumps(stored).count(f"{partition}@{v1.version}") >= 1
    assert f"@{v2.version}" not in json.dumps(stored)
    engine.dispose()


def test_evaluation_without_an_adapter_says_to_materialize_it(
    backend: Backend, seal_resource: SealResource, tenant: str
) -> None:
    partition = f"{tenant}/support"
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(TENANT_DOMAINS, [partition])
    result = dg.materialize(
        ALL,
        selection=[evaluation_report],
        partition_key=partition,
        resources={**backend.resources(), "seal": seal_resource},
        instance=instance,
        run_config=EVAL_RUN_CONFIG,
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    text = failure.message + str(failure.event_specific_data)
    assert "seal/lora_adapter has no materialization" in text and "materialize it" in text


def test_seal_run_queues_like_the_sensor_and_hands_over_the_dataset(
    seal_resource: SealResource, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`aion seal run` (runs.run_partition): its run carries the partition and GPU-queue tags, the
    embedded instance gets the run queue's limits, and the report names the dataset just built."""
    from aion_assets.core.migrate import upgrade
    from aion_assets.core.settings import Settings
    from aion_assets.runs import run_partition, run_queue_config

    for key in [k for k in os.environ if k.startswith("AION_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AION_HOME", str(tmp_path / "aion"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))  # run_partition sets it for the process
    monkeypatch.setenv("AION_SEAL_CONFIG", seal_resource.config_path)
    monkeypatch.setenv("AION_SCENARIOS_DIR", str(seal_resource.scenarios_dir))
    settings = Settings()
    upgrade(settings.db_url)
    engine = make_engine(settings.db_url)
    seed(MemoryStore(engine), "acme", 16, domain="support")
    set_tenant(engine, "acme", config={"curation": {"eval_share": 0.5}})  # an eval split for sure (see above)
    engine.dispose()

    out = run_partition(settings, "acme", "support", max_eval_rows=2, model_home=tmp_path / "models", echo=print)
    assert out["dataset"] is not None and out["adapter"] is not None and out["report"] is not None, out["failures"]
    assert out["adapter"]["dataset_version"] == out["dataset"]["version"]
    assert out["report"]["dataset_version"] == out["dataset"]["version"]
    assert yaml.safe_load((tmp_path / "dagster" / "dagster.yaml").read_text()) == run_queue_config()
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster")) as instance:
        run = instance.get_run_by_id(out["run_id"])
    assert run is not None
    assert run.tags[PARTITION_TAG] == "acme/support" and run.tags[QUEUE_TAG] == GPU_QUEUE
    assert run.tags["dagster/partition"] == "acme/support"

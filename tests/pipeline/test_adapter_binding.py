"""``seal/lora_adapter`` -> ``seal/evaluation_report`` with an adapter key, through ``dg.materialize``.

Protects (security findings 4 and 18, end to end): the asset binds each package to its tenant,
domain and version and writes it under a prefix of its own (``~`` between tenant and domain,
the run id's start after the timestamp); it records the manifest's sha256; the evaluation
loads it with the binding from the run's metadata, so it passes on the real package and fails,
naming the mismatch, once another tenant's package (encrypted under the same key) is copied over
that prefix by someone with write access to the store. Both backends: SQLite + a local folder,
PostgreSQL + S3 (SeaweedFS). A tiny random Llama trains two steps, so this runs in seconds.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from aion_assets.core.crypto import generate_key
from aion_assets.core.errors import ArtifactError
from aion_assets.memory.assets import interactions
from aion_assets.memory.store import MemoryStore
from aion_assets.seal.assets import evaluation_report, lora_adapter, model_name
from aion_assets.seal.datasets.assets import scrubbed_edits, sft_dataset, tenant_vocabulary
from aion_assets.seal.datasets.checks import no_pii_left, scrubbed_file_intact, sft_dataset_structure
from aion_assets.seal.partitions import TENANT_DOMAINS
from aion_assets.seal.resources import SealResource
from aion_assets.seal.training.manifest import AdapterBinding
from aion_assets.seal.training.packaging import download_adapter
from tests.pipeline.conftest import Backend, seed
from tests.seal.conftest import build_tiny_llama

pytestmark = pytest.mark.filterwarnings("ignore::dagster.PreviewWarning")

ALL = [
    interactions,
    tenant_vocabulary,
    scrubbed_edits,
    sft_dataset,
    lora_adapter,
    evaluation_report,
    scrubbed_file_intact,
    no_pii_left,
    sft_dataset_structure,
]
# A random model's scores say nothing: the gate is wide open, generation minimal.
EVAL_CONFIG = {"max_new_tokens": 8, "batch_size": 8, "consistency": "none", "n_resamples": 100, "tolerance": 1.0}
EVAL_RUN_CONFIG = {"ops": {"seal__evaluation_report": {"config": EVAL_CONFIG}}}


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture
def seal_resource(tiny_base: Path, tmp_path: Path) -> Iterator[SealResource]:
    """The tiny Llama as the only base model, two fp32 steps, and an adapter key."""
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
    yield SealResource(
        config_path=str(path),
        home=str(tmp_path / "home"),
        scenarios_dir=str(tmp_path / "scenarios"),
        adapter_key=base64.b64encode(generate_key()).decode(),
    )


def _materialize(
    backend: Backend, seal: SealResource, instance: dg.DagsterInstance, partition: str, selection: list[Any]
) -> dg.ExecuteInJobResult:
    return dg.materialize(
        ALL,
        selection=selection,
        partition_key=partition,
        resources={**backend.resources(), "seal": seal},
        instance=instance,
        run_config=EVAL_RUN_CONFIG if evaluation_report in selection else {},
        raise_on_error=False,
    )


def _failure_text(result: dg.ExecuteInJobResult) -> str:
    return " ".join(e.message + str(e.event_specific_data) for e in result.all_events if e.is_failure)


def test_evaluation_refuses_another_tenants_package_copied_over_the_prefix(
    backend: Backend, seal_resource: SealResource, tenant: str, tmp_path: Path
) -> None:
    victim, attacker = tenant, f"{tenant}-support"  # "-" in a tenant id: the names must still differ
    engine = backend.engine()
    memory = MemoryStore(engine)
    store = backend.artifact_store()
    instance = dg.DagsterInstance.ephemeral()
    partitions = {t: f"{t}/support" for t in (victim, attacker)}
    instance.add_dynamic_partitions(TENANT_DOMAINS, list(partitions.values()))
    adapters: dict[str, dict[str, Any]] = {}
    for t in partitions:
        # 40 rows: an eval split (share 0.2, a hash of random ids) is empty with odds 0.8**40, not 0.8**12 (7%)
        seed(memory, t, 40, domain="support")
    dg.materialize([interactions], resources=backend.resources(), instance=instance)
    for t, partition in partitions.items():
        selection = [tenant_vocabulary, scrubbed_edits, sft_dataset, lora_adapter]
        result = _materialize(backend, seal_resource, instance, partition, selection)
        assert result.success, _failure_text(result)
        (mat,) = result.asset_materializations_for_node(lora_adapter.op.name)
        adapters[t] = {k: v.value for k, v in mat.metadata.items()}

    meta = adapters[victim]
    assert meta["prefix"].startswith(f"seal-adapters/{model_name('tiny', victim, 'support')}/")
    assert meta["model_name"] == f"tiny+seal-{victim}~support" != adapters[attacker]["model_name"]
    assert meta["encrypted"] is True
    manifest = store.get_bytes(f"{meta['prefix']}/manifest.json")
    assert meta["manifest_sha256"] == hashlib.sha256(manifest).hexdigest()
    assert b'"tenant_id": "%s"' % victim.encode() in manifest and b'"mac"' in manifest

    # The real package evaluates ...
    ok = _materialize(backend, seal_resource, instance, partitions[victim], [evaluation_report])
    assert ok.success, _failure_text(ok)

    # ... another tenant's package, encrypted under the same key, copied over its prefix does not.
    for key in list(store.list(meta["prefix"] + "/")):
        store.delete(key)
    source = adapters[attacker]["prefix"]
    for key in store.list(source + "/"):
        store.put_bytes(meta["prefix"] + key[len(source):], store.get_bytes(key))
    swapped = _materialize(backend, seal_resource, instance, partitions[victim], [evaluation_report])
    assert not swapped.success
    # First line: the evaluation is pinned to the manifest hash recorded at training (seal/pinning.py).
    text = _failure_text(swapped)
    assert meta["manifest_sha256"] in text and "manifest sha256" in text
    # Second line, for a caller that knows no hash: the authenticated binding names the owner.
    with pytest.raises(ArtifactError) as refused:
        download_adapter(store, meta["prefix"], tmp_path / "swapped",
                         expected=AdapterBinding(victim, "support", meta["version"]),
                         key=seal_resource.encryption_key())
    assert f"tenant_id is '{attacker}', expected '{victim}'" in str(refused.value)
    assert "belongs elsewhere" in str(refused.value)
    engine.dispose()

"""Protects: runs launched by the sensors (no run config) evaluate with seal.yaml's evaluation budget.

``evaluation:`` (max_eval_rows, max_new_tokens; defaults, tenant, domain) bounds what judging a
candidate costs; a run's own op config still wins. Tiny random Llama, SQLite, local folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from aion_assets.memory.assets import interactions
from aion_assets.memory.store import MemoryStore
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


def _evaluated_rows(result: dg.ExecuteInJobResult) -> int:
    (mat,) = result.asset_materializations_for_node(evaluation_report.op.name)
    summary: dict[str, Any] = mat.metadata["summary"].value  # type: ignore[assignment]
    return int(summary["vs_baseline"]["rougeL_body"]["n"])


def test_the_evaluation_budget_of_seal_yaml_applies_unless_the_run_says_otherwise(
    sqlite_database: Database, tmp_path: Path, tenant: str
) -> None:
    tiny = build_tiny_llama(tmp_path / "tiny")
    config = {
        "base_models": {"tiny": {"path": str(tiny)}},
        "defaults": {
            "base_model": "tiny",
            "hyperparameters": {"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"], "max_steps": 2,
                                "max_train_minutes": 2, "batch_size": 4, "max_seq_len": 96, "precision": "fp32"},
        },
        "tenants": {tenant: {"domains": {"support": {"evaluation": {"max_eval_rows": 3, "max_new_tokens": 8}}}}},
    }
    (tmp_path / "seal.yaml").write_text(yaml.safe_dump(config))
    seal = SealResource(config_path=str(tmp_path / "seal.yaml"), home=str(tmp_path / "home"), scenarios_dir=None,
                        adapter_key=None)
    backend = Backend("sqlite", sqlite_database, (tmp_path / "artifacts").as_uri(), None)
    engine = backend.engine()
    seed(MemoryStore(engine), tenant, 24, domain="support")
    set_tenant(engine, tenant, config={"curation": {"eval_share": 0.5}})  # about 12 eval rows
    partition = f"{tenant}/support"
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(TENANT_DOMAINS, [partition])
    dg.materialize([interactions], resources=backend.resources(), instance=instance)
    resources = {**backend.resources(), "seal": seal}
    trained = dg.materialize(ALL, selection=[*dataset_assets.assets, lora_adapter], partition_key=partition,
                             resources=resources, instance=instance)
    (ds,) = trained.asset_materializations_for_node("seal__sft_dataset")
    assert int(ds.metadata["rows_eval"].value) > 3  # type: ignore[arg-type]

    light = {"consistency": "none", "n_resamples": 100}
    # No row budget in the run's config (as when the sensor launches it): seal.yaml's 3 rows.
    by_config = dg.materialize(ALL, selection=[evaluation_report], partition_key=partition, resources=resources,
                               instance=instance, raise_on_error=False,
                               run_config={"ops": {"seal__evaluation_report": {"config": light}}})
    assert _evaluated_rows(by_config) == 3
    # The run's own config wins.
    by_run = dg.materialize(ALL, selection=[evaluation_report], partition_key=partition, resources=resources,
                            instance=instance, raise_on_error=False,
                            run_config={"ops": {"seal__evaluation_report": {"config": {**light, "max_eval_rows": 2}}}})
    assert _evaluated_rows(by_run) == 2
    engine.dispose()

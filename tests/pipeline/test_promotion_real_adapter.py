"""Protects: the whole decision path with a really trained adapter, no stand-ins.

With the tiny random Llama (tests/seal/conftest.py), the real assets run in one job: approved edits ->
``seal/sft_dataset`` -> ``seal/lora_adapter`` (a few optimizer steps) -> ``seal/evaluation_report`` (real
generation and metrics against the base model) -> ``seal/promotion_decision`` -> ``registry/route_table``.
The edits teach short support answers the base model cannot know, so the trained adapter beats the base
on the primary metric with its bootstrap interval above zero; it is registered as promoted under the
content address of the package it was trained into (the manifest hash the adapter recorded and the
evaluation evaluated), and the domain's agent is routed to it, with the adapter's URI. SQLite and a
local artifact folder (the stores are covered on both backends elsewhere).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from aion_assets.memory.assets import interactions
from aion_assets.memory.models import EditorType, EditStatus, InteractionIn, SelfEditIn
from aion_assets.memory.store import MemoryStore
from aion_assets.registry.assets import route_table
from aion_assets.registry.models import ModelStatus
from aion_assets.registry.sql_store import SqlRegistryStore
from aion_assets.seal.assets import evaluation_report, lora_adapter
from aion_assets.seal.datasets import assets as dataset_assets
from aion_assets.seal.definitions import build_definitions
from aion_assets.seal.partitions import TENANT_DOMAINS
from aion_assets.seal.promotion_assets import promotion_decision
from aion_assets.seal.resources import SealResource
from tests.conftest import Database
from tests.pipeline.conftest import Backend, set_tenant
from tests.seal.conftest import FACTS, build_tiny_llama

pytestmark = pytest.mark.filterwarnings("ignore::dagster.PreviewWarning")

_SEAL = build_definitions()
ALL = [interactions, *(_SEAL.assets or []), *(_SEAL.asset_checks or []), route_table]
DOMAIN = "support"
#: Long enough for the answers (the tiny tokenizer keeps every space as a token); the gate and the
#: promotion thresholds are the shipped defaults apart from the run's size.
EVAL_CONFIG = {"max_new_tokens": 40, "batch_size": 8, "consistency": "none", "n_resamples": 200}


@pytest.fixture
def seal_resource(tmp_path: Path) -> SealResource:
    """The tiny Llama as the only base model, trained 200 steps in fp32 (about a second)."""
    tiny = build_tiny_llama(tmp_path / "tiny-llama")
    config = {
        "base_models": {"tiny": {"path": str(tiny)}},
        "defaults": {
            "base_model": "tiny",
            "hyperparameters": {"r": 8, "alpha": 16, "target_modules": ["q_proj", "v_proj"], "max_steps": 200,
                                "learning_rate": 2e-2, "dropout": 0.0, "max_train_minutes": 5, "batch_size": 4,
                                "max_seq_len": 96, "precision": "fp32"},
        },
    }
    path = tmp_path / "seal.yaml"
    path.write_text(yaml.safe_dump(config))
    return SealResource(config_path=str(path), home=str(tmp_path / "home"), scenarios_dir=None, adapter_key=None)


def _teach(store: MemoryStore, tenant: str, copies: int) -> None:
    """COPIES approved corrections of every fact: the agent answered vaguely, a human wrote the fact."""
    items = [
        InteractionIn(agent_id=DOMAIN, user_id=f"user-{k}", input_text=question, output_text="Let me check.",
                      metadata={"domain": DOMAIN})
        for k in range(copies)
        for question, _ in FACTS
    ]
    stored, _ = store.add_interactions(tenant, items)
    answers = [answer for _ in range(copies) for _, answer in FACTS]
    for inter, answer in zip(stored, answers, strict=True):
        edit, _ = store.add_self_edit(
            tenant,
            SelfEditIn(interaction_id=inter.id, editor_type=EditorType.human, edited_output=answer, reward_score=0.9),
        )
        store.review_self_edit(tenant, edit.id, EditStatus.approved, "reviewer@test")


def _meta(result: dg.ExecuteInJobResult, asset: dg.AssetsDefinition) -> dict[str, Any]:
    (mat,) = result.asset_materializations_for_node(asset.op.name)
    return {k: v.value for k, v in mat.metadata.items()}


def test_a_trained_adapter_beats_the_base_is_promoted_and_routed(
    sqlite_database: Database, tmp_path: Path, tenant: str, seal_resource: SealResource
) -> None:
    backend = Backend("sqlite", sqlite_database, (tmp_path / "artifacts").as_uri(), None)
    engine = backend.engine()
    _teach(MemoryStore(engine), tenant, copies=6)
    # 48 rows, 40% held out: an empty eval split, or an answer never trained on, is a draw of 1e-5 or less.
    set_tenant(engine, tenant, config={"curation": {"eval_share": 0.4}})
    partition = f"{tenant}/{DOMAIN}"
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(TENANT_DOMAINS, [partition])
    dg.materialize([interactions], resources=backend.resources(), instance=instance)

    result = dg.materialize(
        ALL,
        selection=[*dataset_assets.assets, lora_adapter, evaluation_report, promotion_decision, route_table],
        partition_key=partition,
        resources={**backend.resources(), "seal": seal_resource},
        instance=instance,
        run_config={"ops": {"seal__evaluation_report": {"config": EVAL_CONFIG}}},
        raise_on_error=False,
    )
    failures = [e.message for e in result.all_events if e.is_failure]
    adapter, report = _meta(result, lora_adapter), _meta(result, evaluation_report)
    primary = report["summary"]["vs_baseline"]["rougeL_body"]
    decision = _meta(result, promotion_decision)
    assert result.success, (failures, primary, decision.get("reasons"))

    assert report["baseline"] == "tiny" and report["candidate"] == adapter["version"]
    assert primary["diff"] > 0 and primary["low"] > 0
    assert decision["passed"] and decision["status"] == "promoted" and decision["newly_registered"]

    registry = SqlRegistryStore(engine)
    (version,) = registry.list_versions(tenant)
    assert version.status is ModelStatus.promoted and version.name == decision["model_name"]
    assert version.manifest_sha256 == adapter["manifest_sha256"] == report["manifest_sha256"]
    assert version.adapter_uri == adapter["uri"] and version.dataset_version == adapter["dataset_version"]
    assert version.evaluation_run_id == result.run_id

    (route,) = registry.list_routes(tenant)
    assert (route.agent_id, route.default_model_id, route.fallback_model_id) == (DOMAIN, version.id, None)
    assert route.default_adapter_uri == adapter["uri"]
    table = _meta(result, route_table)
    assert table["changed"] == [DOMAIN] and table["routes"][0]["default"] == version.name
    engine.dispose()

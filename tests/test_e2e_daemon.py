"""Protects: on the embedded default the loop runs by itself, from approvals to a route (issue 14).

SQLite for memory, registry and Dagster's instance, a local artifact folder, the in-process
executor, the tiny test model. Traffic (some of it with PII) and self-edits go in through the
HTTP API, and a scripted reviewer approves them through the console's client (``MemoryClient``).
Then ``dagster-daemon`` is started on the embedded instance (``aion_assets.demo.daemon``, what
``aion demo`` uses) and nothing else is called: the approved-edits sensor queues
``sft_dataset_job``, which scrubs, curates, trains, evaluates, promotes and routes.

Asserted at every stage: the dataset's rows, the adapter's manifest, the evaluation rows stored
under the evaluation's run, the registered (promoted) version, the route naming it, the audit
chain read through the registry API (route -> model -> evaluation run -> dataset -> the very edit
ids that were approved), and that no PII value posted appears in any file under the artifact folder.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.seal.conftest import FACTS, build_tiny_llama

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::dagster.PreviewWarning")]

SECRET = "e2e-daemon-secret-" + "d" * 24
#: Daemon start, a sensor tick, one run of six steps on a loaded 2-core machine: minutes, not seconds.
LOOP_DEADLINE_SECONDS = 420
N_EDITS = 64
#: PII values posted in every fourth question; none may reach an artifact.
PII = {
    "name": "Maria Keller",
    "email": "maria.keller@example.org",
    "phone": "+1 415 555 0134",
    "iban": "DE89 3704 0044 0532 0130 00",
}


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The embedded default with the tiny Llama (hyperparameters that beat its base in 200 steps)."""
    from aion_assets.core.settings import get_settings

    for key in [k for k in os.environ if k.startswith(("AION_", "DAGSTER_"))]:
        monkeypatch.delenv(key)
    tiny = build_tiny_llama(tmp_path / "tiny-llama")
    config = {
        "base_models": {"tiny": {"path": str(tiny)}},
        "defaults": {
            "base_model": "tiny",
            "hyperparameters": {
                "r": 8, "alpha": 16, "target_modules": ["q_proj", "v_proj"], "dropout": 0.0, "max_steps": 200,
                "learning_rate": 2.0e-2, "max_train_minutes": 3, "batch_size": 4, "max_seq_len": 96,
                "precision": "fp32",
            },
        },
    }
    (tmp_path / "seal.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "scenarios").mkdir()
    monkeypatch.setenv("AION_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AION_SEAL_CONFIG", str(tmp_path / "seal.yaml"))
    monkeypatch.setenv("AION_SCENARIOS_DIR", str(tmp_path / "scenarios"))
    monkeypatch.setenv("AION_JWT_SECRET", SECRET)
    for key, value in {
        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
        "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": "",
    }.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def _question(k: int) -> str:
    question = f"{FACTS[k % len(FACTS)][0]} ({k})"
    if k % 4 == 0:
        return (
            f"My name is {PII['name']}, email {PII['email']}, phone {PII['phone']}, IBAN {PII['iban']}. {question}"
        )
    return question


def test_the_daemon_runs_the_loop_from_approvals_to_a_route(embedded: Any, tmp_path: Path) -> None:
    import dagster as dg

    from aion_assets.app import app_from_settings
    from aion_assets.core.auth import mint_token
    from aion_assets.core.db import make_engine
    from aion_assets.core.migrate import upgrade
    from aion_assets.core.serve import serve_in_thread
    from aion_assets.demo.daemon import embedded_daemon, latest_metadata, partition_state, run_progress, runs_report
    from aion_assets.memory.client import MemoryClient
    from aion_assets.memory.store import MemoryStore
    from aion_assets.registry.http_client import RegistryClient
    from aion_assets.registry.sql_store import SqlRegistryStore
    from aion_assets.runs import dagster_env
    from aion_assets.seal.datasets.sensors import SETTLE_SECONDS
    from aion_assets.seal.datasets.tenant_config import validate_tenant_config

    settings = embedded
    upgrade(settings.db_url)
    tenant = f"e2e-{uuid.uuid4().hex[:8]}"
    engine = make_engine(settings.db_url, pool_size=1)
    MemoryStore(engine).configure_tenant(
        tenant, config=validate_tenant_config(
            tenant, {"agents": {"support-bot": {"domain": "support"}}, "curation": {"eval_share": 0.25}}
        )
    )
    token = mint_token(SECRET, tenant_id=tenant, roles=["writer", "reviewer"], subject=f"reviewer@{tenant}")
    app = app_from_settings(settings)
    approved: set[str] = set()
    with serve_in_thread(app) as base, MemoryClient(base, token) as client:
        stored = client.add_interactions([
            {"agent_id": "support-bot", "user_id": f"user-{k}", "input_text": _question(k),
             "output_text": "I do not know.", "metadata": {"domain": "support"}}
            for k in range(N_EDITS)
        ])
        for k, inter in enumerate(stored):
            client.add_self_edit({"interaction_id": str(inter.id), "editor_type": "human",
                                  "edited_output": FACTS[k % len(FACTS)][1], "reward_score": 0.9})
        # The scripted reviewer: the console's client, one decision per pending edit.
        for edit in client.iter_self_edits(status="pending", limit=100):
            client.review(edit.id, "approved")
            approved.add(str(edit.id))
    assert len(approved) == N_EDITS
    registry = SqlRegistryStore(engine)
    assert registry.list_routes(tenant) == []

    partition = f"{tenant}/support"
    # As `aion demo` does: the sensor counts an approval once it is SETTLE_SECONDS old, so a daemon
    # started at once would split the approvals over two runs and the second would still be pending.
    time.sleep(SETTLE_SECONDS + 1)
    with embedded_daemon(settings, tmp_path / "daemon.log") as daemon:
        deadline = time.monotonic() + LOOP_DEADLINE_SECONDS
        routes: list[Any] = []
        while time.monotonic() < deadline and not routes:
            daemon.check_alive()
            time.sleep(5)
            routes = registry.list_routes(tenant)
        os.environ["DAGSTER_HOME"] = daemon.dagster_home
        with dg.DagsterInstance.get() as instance:
            report = runs_report(instance)
        assert routes, f"no route after {LOOP_DEADLINE_SECONDS} s\n--- runs\n{report}\n--- daemon\n{daemon.tail()}"

    os.environ["DAGSTER_HOME"] = dagster_env(settings)["DAGSTER_HOME"]
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(dg.RunsFilter(tags={"dagster/partition": partition}))
        assert runs and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs), runs_report(instance)
        assert {r.job_name for r in runs} >= {"sft_dataset_job"}, runs_report(instance)
        sensor_run = next(r for r in runs if r.job_name == "sft_dataset_job")
        assert sensor_run.tags.get("aion/partition") == partition and sensor_run.tags.get("aion/queue") == "gpu"
        meta = {role: latest_metadata(instance, role, partition)[0] for role in
                ("scrub", "dataset", "adapter", "report", "decision", "routes")}
        # What `aion demo` shows of the run, read from its events.
        progress = run_progress(instance, sensor_run)
        assert progress.status == "SUCCESS" and not progress.failures, progress
        assert progress.training is not None and progress.training[:2] == (200, 200), progress
        assert progress.training_stopped == "max_steps" and progress.answers is not None, progress
        # What a second `aion demo` sees: every approval counted, the evaluation decided, nothing to run.
        state = partition_state(instance, engine, partition, min_reward=0.5, since=datetime.now(UTC))
        assert state.settled and not state.failed and state.why == "decided", state
    assert all(meta.values()), {k: v is not None for k, v in meta.items()}

    # Stage by stage.
    assert meta["scrub"]["removed_total"] > 0, meta["scrub"]
    dataset = meta["dataset"]
    assert dataset["rows_train"] + dataset["rows_eval"] == N_EDITS and dataset["rows_eval"] > 0, dataset
    artifacts_root = settings.resolved_home / "artifacts"
    adapter = meta["adapter"]
    manifest = json.loads((artifacts_root / adapter["prefix"] / "manifest.json").read_text())
    assert manifest, adapter["prefix"]
    assert adapter["steps"] > 0 and adapter["dataset_version"] == dataset["version"], adapter
    evaluation = meta["report"]
    assert evaluation["gate_passed"] is True, evaluation.get("report")
    decision = meta["decision"]
    # The evaluation's rows (candidate, baseline and control metrics) carry the evaluation's run id.
    rows = [r for r in MemoryStore(engine).list_evaluations(tenant) if r.run_id == decision["evaluation_run_id"]]
    assert len(rows) == evaluation["evaluation_rows_written"] > 0
    assert {"rougeL_body", "fact_recall"} <= {r.metric_name for r in rows if r.model_version == adapter["version"]}
    assert decision["status"] == "promoted", decision

    # The audit chain, as an operator reads it through the registry API.
    with serve_in_thread(app_from_settings(settings)) as base, RegistryClient(base, token) as reg:
        (route,) = reg.list_routes()
        assert route.agent_id == "support-bot" and route.default_model_name == decision["model_name"]
        model = reg.get_model(route.default_model_id)
    assert model.status.value == "promoted" and model.tenant_id == tenant
    assert model.lineage.evaluation_run_id == decision["evaluation_run_id"]
    assert model.lineage.dataset_version == dataset["version"] == adapter["dataset_version"]
    assert model.lineage.source_edit_ids_error is None, model.lineage
    assert set(model.lineage.source_edit_ids or []) == approved
    assert model.lineage.source_edit_count == N_EDITS
    audit = {(a.action, a.subject) for a in registry.list_audit(tenant)}
    assert {("model.register", f"model:{model.id}"), ("route.set", "route:support-bot")} <= audit, audit

    # No PII value posted is in any artifact (datasets, scrubbed edits, reports, adapters, route tables).
    files = [p for p in artifacts_root.rglob("*") if p.is_file()]
    assert len(files) > 5
    needles = {v.encode() for v in PII.values()} | {PII["name"].split()[1].encode()}
    leaks = [(str(p.relative_to(artifacts_root)), n.decode()) for p in files for n in needles if n in p.read_bytes()]
    assert not leaks, leaks
    print(
        f"\nloop by itself: {dataset['rows_train']}+{dataset['rows_eval']} rows, adapter {adapter['version']}, "
        f"promoted {decision['model_name']}, {len(files)} artifact files free of PII; "
        f"routes: {json.dumps(meta['routes'].get('routes'))}"
    )

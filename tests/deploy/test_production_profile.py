"""Protects: the loop runs by itself on the production profile, made of real processes (issue 14).

PostgreSQL holds the memory and registry schemas (as the application role) and, in a database of
its own, Dagster's run, event and schedule storage (``dagster-postgres``, configured by the repo's
``dagster.yaml`` unchanged, through its ``AION_DAGSTER_PG_*`` variables); SeaweedFS serves the
artifacts over S3; Redis is the Celery broker and result backend. Four processes run the loop:
``dagster-daemon`` (sensors, run queue, run launcher) and two Celery workers started with the
workers' app (``aion_assets.worker``), one on the default ``dagster`` queue and one on ``gpu``.

Approved edits are stored; nothing else is called: the approved-edits sensor sees them and queues
a run, the daemon launches it, its steps are Celery tasks, and the tiny model's adapter is trained,
evaluated, promoted and routed. The test asserts that the training step ran on the ``gpu``
worker and every other step on the default one (the hostnames dagster-celery records in the
run's events), and that the route now names the new version.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg import sql

from tests.conftest import PG_HOST, PG_PORT, PG_SUPERUSER, Database
from tests.seal.conftest import FACTS, build_tiny_llama

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.filterwarnings("ignore::dagster.PreviewWarning")]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
#: Redis databases of this test (the machine's server keeps nothing on disk; flushed at start and end).
BROKER_DB, BACKEND_DB = 13, 14
#: The loop (sensor tick, launch, six steps on two workers) on a loaded 2-core machine: minutes, not seconds.
LOOP_DEADLINE_SECONDS = 600


@pytest.fixture
def dagster_storage() -> Iterator[str]:
    """A fresh PostgreSQL database for Dagster's storage; its name."""
    name = f"aion_dagster_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(f"postgresql://{PG_SUPERUSER}@{PG_HOST}:{PG_PORT}/postgres", autocommit=True)
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield name
        finally:
            admin.execute(
                sql.SQL("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = {}").format(
                    sql.Literal(name)
                )
            )
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


@pytest.fixture
def redis_dbs() -> Iterator[tuple[str, str]]:
    """Broker and backend URLs on the machine's Redis (.ci/run starts it), flushed before and after."""
    import redis

    urls = tuple(f"redis://127.0.0.1:6379/{db}" for db in (BROKER_DB, BACKEND_DB))
    clients = [redis.Redis.from_url(u) for u in urls]
    try:
        clients[0].ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis at 127.0.0.1:6379 is not reachable ({exc}); .ci/run starts it")
    for c in clients:
        c.flushdb()
    yield urls[0], urls[1]
    for c in clients:
        c.flushdb()
        c.close()


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[Any]:
    from tests.support.seaweedfs import seaweedfs_server

    with seaweedfs_server(tmp_path / "seaweedfs") as endpoint:
        yield endpoint


class Processes:
    """Child processes of the test, each with its log file; all stopped at the end."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder, self.env = folder, env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, args: list[str]) -> None:
        log = (self.folder / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(
            args, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}:\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 60) -> str:
        path = self.folder / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _seal_config(tmp_path: Path) -> Path:
    tiny = build_tiny_llama(tmp_path / "tiny-llama")
    config = {
        "base_models": {"tiny": {"path": str(tiny)}},
        "defaults": {
            "base_model": "tiny",
            "hyperparameters": {
                # Enough steps for the random 2-layer model to learn the answers and to stop after
                # them: the daemon's run evaluates with the default generation length (160 tokens).
                "r": 8, "alpha": 16, "target_modules": ["q_proj", "v_proj"], "dropout": 0.0, "max_steps": 200,
                "learning_rate": 2.0e-2, "max_train_minutes": 3, "batch_size": 4, "max_seq_len": 96,
                "precision": "fp32",
            },
        },
    }
    path = tmp_path / "seal.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _seed(database: Database, tenant: str, n: int = 64) -> None:
    """N approved human edits that teach the tiny model the FACTS answers (the sensor's threshold is 20)."""
    from aion_assets.core.db import make_engine
    from aion_assets.memory.models import EditorType, EditStatus, InteractionIn, SelfEditIn
    from aion_assets.memory.store import MemoryStore
    from tests.pipeline.conftest import set_tenant

    engine = make_engine(database.url, pool_size=1)
    try:
        store = MemoryStore(engine)
        items = [
            InteractionIn(agent_id="support-bot", user_id=f"user-{k}", input_text=f"{FACTS[k % len(FACTS)][0]} ({k})",
                          output_text="I do not know.", metadata={"domain": "support"})
            for k in range(n)
        ]
        stored, _ = store.add_interactions(tenant, items)
        for k, inter in enumerate(stored):
            edit, _ = store.add_self_edit(tenant, SelfEditIn(
                interaction_id=inter.id, editor_type=EditorType.human,
                edited_output=FACTS[k % len(FACTS)][1], reward_score=0.9))
            store.review_self_edit(tenant, edit.id, EditStatus.approved, "reviewer@test")
        set_tenant(engine, tenant, config={"curation": {"eval_share": 0.25}})
    finally:
        engine.dispose()


def _routes(database: Database, tenant: str) -> list[Any]:
    from aion_assets.core.db import make_engine
    from aion_assets.registry.sql_store import SqlRegistryStore

    engine = make_engine(database.url, pool_size=1)
    try:
        return SqlRegistryStore(engine).list_routes(tenant)
    finally:
        engine.dispose()


def _runs_report(env: dict[str, str]) -> str:
    """The runs in the instance and their failure messages (for a failing test's message)."""
    import dagster as dg

    saved = {k: os.environ.get(k) for k in env if k.startswith(("AION_DAGSTER_PG_", "DAGSTER_HOME"))}
    os.environ.update({k: env[k] for k in saved})
    try:
        lines = []
        with dg.DagsterInstance.get() as instance:
            for run in instance.get_runs():
                lines.append(f"{run.run_id} {run.job_name} {run.status} {dict(run.tags)}")
                for record in instance.all_logs(run.run_id):
                    event = record.dagster_event
                    if event is not None and (event.is_failure or event.event_type_value == "ENGINE_EVENT"):
                        error = event.step_failure_data.error if event.is_step_failure else None
                        detail = f" ({error.message.strip()[:300]})" if error is not None else ""
                        lines.append(f"  {event.event_type_value} {record.step_key}: {record.message[:300]}{detail}")
        return "\n".join(lines) or "no runs"
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_the_loop_runs_on_celery_workers_with_training_on_the_gpu_queue(
    pg_database: Database, dagster_storage: str, redis_dbs: tuple[str, str], s3: Any, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant = f"prod-{uuid.uuid4().hex[:8]}"
    bucket = f"aion-prod-{uuid.uuid4().hex[:8]}"
    s3.client().create_bucket(Bucket=bucket)
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    shutil.copy(REPO / "dagster.yaml", dagster_home / "dagster.yaml")  # the shipped file, unchanged
    (tmp_path / "scenarios").mkdir()

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AION_", "DAGSTER_"))}
    env.update({
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "DAGSTER_HOME": str(dagster_home),
        "AION_DAGSTER_PG_HOST": PG_HOST, "AION_DAGSTER_PG_PORT": str(PG_PORT),
        "AION_DAGSTER_PG_DB": dagster_storage, "AION_DAGSTER_PG_USER": PG_SUPERUSER,
        "AION_DAGSTER_PG_PASSWORD": "",
        "AION_HOME": str(tmp_path / "home"),
        "AION_DATABASE_URL": pg_database.url,
        "AION_ARTIFACTS_URI": f"s3://{bucket}/artifacts",
        "AION_S3_ENDPOINT_URL": s3.endpoint_url, "AION_S3_REGION": s3.region,
        "AWS_ACCESS_KEY_ID": s3.access_key, "AWS_SECRET_ACCESS_KEY": s3.secret_key,
        "AION_SEAL_CONFIG": str(_seal_config(tmp_path)),
        "AION_SCENARIOS_DIR": str(tmp_path / "scenarios"),
        "AION_JWT_SECRET": "production-profile-secret-" + "p" * 20,
        "AION_EXECUTOR": "celery",
        "AION_CELERY_BROKER": redis_dbs[0], "AION_CELERY_BACKEND": redis_dbs[1],
        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
        "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": "",
    })

    _seed(pg_database, tenant)
    import dagster as dg

    from aion_assets.seal.datasets.sensors import SETTLE_SECONDS

    # The sensor counts an approval once it is SETTLE_SECONDS old. A daemon whose first tick came
    # sooner would count the seed in two parts and start a second run, whose candidate then meets
    # the first one's promoted adapter and is rightly not promoted (a failed run): CI saw exactly that.
    time.sleep(SETTLE_SECONDS + 1)

    # The test reads the runs from the same Dagster storage as the daemon.
    for key, value in env.items():
        if key.startswith(("AION_DAGSTER_PG_", "DAGSTER_HOME")):
            monkeypatch.setenv(key, value)

    def _runs_ended(tenant_id: str) -> bool:
        with dg.DagsterInstance.get() as instance:
            runs = [r for r in instance.get_runs() if r.tags.get("aion/partition") == f"{tenant_id}/support"]
        return bool(runs) and all(r.is_finished for r in runs)

    procs = Processes(tmp_path, env)
    celery = [str(BIN / "celery"), "-A", "aion_assets.worker", "worker", "--concurrency", "1", "-l", "INFO"]
    try:
        procs.start("worker-default", [*celery, "-Q", "dagster", "-n", "default@%h"])
        procs.start("worker-gpu", [*celery, "-Q", "gpu", "-n", "gpu@%h"])
        procs.start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")])

        deadline = time.monotonic() + LOOP_DEADLINE_SECONDS
        routes: list[Any] = []
        finished = False
        # The route appears while route_table's step is still running: the workers stop only once
        # every run of the partition has ended, or stopping them would interrupt that step.
        while time.monotonic() < deadline and not (routes and finished):
            procs.check_alive()
            time.sleep(5)
            routes = _routes(pg_database, tenant)
            finished = bool(routes) and _runs_ended(tenant)
        if not (routes and finished):
            raise AssertionError(
                f"route {'written' if routes else 'missing'}, runs {'ended' if finished else 'not ended'} "
                "after the deadline\n--- runs\n" + _runs_report(env)
                + "\n--- daemon\n" + procs.tail("daemon")
                + "\n--- default worker\n" + procs.tail("worker-default")
                + "\n--- gpu worker\n" + procs.tail("worker-gpu")
            )
    finally:
        procs.stop()

    (route,) = routes
    assert route.default_model_id is not None

    # Which worker ran which step: dagster-celery records it in the run's events.
    with dg.DagsterInstance.get() as instance:
        runs = [r for r in instance.get_runs() if r.tags.get("aion/partition") == f"{tenant}/support"]
        assert runs and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs), _runs_report(env)
        workers: dict[str, str] = {}
        for run in runs:
            for record in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
                event = record.dagster_event
                meta = event.engine_event_data.metadata if event is not None else {}
                if "Celery worker" in meta and record.step_key:
                    value = meta["Celery worker"]
                    workers[record.step_key] = str(getattr(value, "value", value))
    assert workers.get("seal__lora_adapter", "").startswith("gpu@"), workers
    others = {step: host for step, host in workers.items() if step != "seal__lora_adapter"}
    assert {"seal__evaluation_report", "seal__promotion_decision", "registry__route_table"} <= set(others), workers
    assert all(host.startswith("default@") for host in others.values()), workers

"""The run queue of every Dagster instance the project runs on, and its limits.

Protects: at most one run per ``tenant/domain`` partition at a time (two overlapping runs would
build, train and evaluate against each other's dataset versions), and at most one run in the GPU
queue at a time (the ``gpu`` op pool alone is invisible to the run queue). Checked with the run
queue daemon's own selection of the runs it would launch next, on an instance built from the
embedded default's dagster.yaml; the repo's production dagster.yaml holds the same limits and
Dagster accepts it; ``aion seal run`` (in-process, past the queue) refuses to start while its
partition has a run in progress; the embedded config never overwrites a user's own dagster.yaml.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml

# Dagster internals on purpose: the daemon's own selection step, called directly (running the
# daemon needs a code server), and the origin a queued run must name.
from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

from aion_assets.core.errors import ConflictError
from aion_assets.runs import WRITTEN_BY, run_queue_config, write_instance_config
from aion_assets.seal.partitions import GPU_QUEUE, PARTITION_TAG, QUEUE_TAG, run_tags

ROOT = Path(__file__).resolve().parents[2]


@dg.op
def _noop() -> None:
    """Nothing: the runs below are only queued, never executed."""


@dg.job
def _job() -> None:
    _noop()


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """An instance from the dagster.yaml the embedded default writes."""
    home = tmp_path / "dagster"
    assert write_instance_config(home)
    with dg.DagsterInstance.from_config(str(home)) as inst:
        yield inst


ORIGIN = RemoteJobOrigin(
    repository_origin=RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("aion_assets"), "__repository__"),
    job_name=_job.name,
)


def _run(instance: dg.DagsterInstance, tags: dict[str, str], status: dg.DagsterRunStatus) -> str:
    return instance.create_run_for_job(_job, tags=tags, status=status, remote_job_origin=ORIGIN).run_id


def _next_launched(instance: dg.DagsterInstance) -> set[str]:
    """The queued runs the run queue daemon would launch now."""
    daemon = QueuedRunCoordinatorDaemon(interval_seconds=1)
    runs = daemon._get_runs_to_dequeue(instance, instance.get_concurrency_config(), None)
    return {r.run_id for r in runs}


def test_embedded_instance_queues_runs_with_the_limits(instance: dg.DagsterInstance) -> None:
    assert isinstance(instance.run_coordinator, dg.QueuedRunCoordinator)
    limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
    per_value = {"applyLimitPerUniqueValue": True}
    assert {"key": PARTITION_TAG, "value": per_value, "limit": 1} in limits
    assert {"key": "dagster/partition", "value": per_value, "limit": 1} in limits
    assert {"key": QUEUE_TAG, "value": GPU_QUEUE, "limit": 1} in limits


def test_a_second_run_of_a_partition_waits(instance: dg.DagsterInstance) -> None:
    # A sensor's run: Dagster adds its own partition tag to the sensor's tags.
    sensor_tags = {**run_tags("acme/support", gpu=True), "dagster/partition": "acme/support"}
    _run(instance, sensor_tags, dg.DagsterRunStatus.STARTED)
    # Held by aion/partition alone (no dagster/partition tag on it).
    _run(instance, run_tags("acme/support", gpu=False), dg.DagsterRunStatus.QUEUED)
    # A run launched from the UI carries only Dagster's own partition tag: it waits too.
    _run(instance, {"dagster/partition": "acme/support"}, dg.DagsterRunStatus.QUEUED)
    other = _run(instance, run_tags("acme/billing", gpu=False), dg.DagsterRunStatus.QUEUED)
    assert _next_launched(instance) == {other}


def test_two_queued_runs_of_one_partition_start_one_at_a_time(instance: dg.DagsterInstance) -> None:
    first = _run(instance, run_tags("acme/support", gpu=False), dg.DagsterRunStatus.QUEUED)
    _run(instance, run_tags("acme/support", gpu=False), dg.DagsterRunStatus.QUEUED)
    assert _next_launched(instance) == {first}


def test_a_second_training_run_waits_for_the_gpu(instance: dg.DagsterInstance) -> None:
    _run(instance, run_tags("acme/support", gpu=True), dg.DagsterRunStatus.STARTED)
    _run(instance, run_tags("globex/billing", gpu=True), dg.DagsterRunStatus.QUEUED)
    dataset_only = _run(instance, run_tags("initech/sales", gpu=False), dg.DagsterRunStatus.QUEUED)
    assert _next_launched(instance) == {dataset_only}


def test_repo_dagster_yaml_holds_the_same_limits(tmp_path: Path) -> None:
    repo = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    embedded = run_queue_config()
    assert repo["run_coordinator"] == embedded["run_coordinator"]
    limits = embedded["concurrency"]["runs"]["tag_concurrency_limits"]
    assert repo["concurrency"]["runs"]["tag_concurrency_limits"] == limits
    assert repo["concurrency"]["pools"] == embedded["concurrency"]["pools"]
    # Dagster accepts the production sections (storage aside: it needs the production database).
    home = tmp_path / "prod"
    home.mkdir()
    sections = {k: repo[k] for k in ("run_coordinator", "concurrency", "telemetry")}
    (home / "dagster.yaml").write_text(yaml.safe_dump(sections))
    with dg.DagsterInstance.from_config(str(home)) as prod:
        assert isinstance(prod.run_coordinator, dg.QueuedRunCoordinator)
        queue = prod.get_concurrency_config().run_queue_config
        assert list(queue.tag_concurrency_limits) == repo["concurrency"]["runs"]["tag_concurrency_limits"]
        assert queue.max_concurrent_runs == 8


def test_the_sensor_job_runs_in_the_gpu_queue() -> None:
    from aion_assets.seal.datasets.sensors import sft_dataset_job

    assert sft_dataset_job.tags == {QUEUE_TAG: GPU_QUEUE}
    assert run_tags("acme/support", gpu=True) == {
        PARTITION_TAG: "acme/support",
        "aion/tenant": "acme",
        QUEUE_TAG: GPU_QUEUE,
    }


def test_a_users_own_dagster_yaml_is_left_alone(tmp_path: Path) -> None:
    mine = "telemetry:\n  enabled: true\n"
    (tmp_path / "dagster.yaml").write_text(mine)
    assert not write_instance_config(tmp_path)
    assert (tmp_path / "dagster.yaml").read_text() == mine
    # One the embedded default wrote before (older limits) is brought up to date.
    (tmp_path / "dagster.yaml").write_text(WRITTEN_BY + "\ntelemetry:\n  enabled: false\n")
    assert write_instance_config(tmp_path)
    assert yaml.safe_load((tmp_path / "dagster.yaml").read_text()) == run_queue_config()
    assert not write_instance_config(tmp_path)  # unchanged: not rewritten


def test_seal_run_refuses_a_partition_with_a_run_in_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aion_assets.core.settings import Settings
    from aion_assets.runs import run_partition

    monkeypatch.setenv("AION_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    write_instance_config(tmp_path / "dagster")
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster")) as instance:
        running = _run(instance, run_tags("acme/support", gpu=True), dg.DagsterRunStatus.STARTED)
    with pytest.raises(ConflictError, match=f"partition acme/support has run {running} started"):
        run_partition(Settings(), "acme", "support", echo=lambda _m: None)

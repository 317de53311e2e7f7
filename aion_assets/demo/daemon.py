"""Dagster's own daemon on the embedded instance, and what the demo reads back from that instance.

``aion demo`` and ``tests/test_e2e_daemon.py`` call nothing of the graph themselves: they start
``dagster-daemon run -m aion_assets.definitions`` on the instance of :func:`aion_assets.runs.dagster_env`
(SQLite under AION_HOME/dagster, the queued run coordinator and its limits), and the daemon's
sensors do the rest (``approved_edits_sensor`` queues ``sft_dataset_job``: dataset, adapter,
evaluation, promotion decision, route table; ``aion_automation`` decides in a run of its own when
the evaluation gate stopped the first one). This module starts and stops that process and reads
the instance: the sensor's cursor, the runs of a partition, their current step and progress lines,
and the latest materialization of each asset.

A partition is *settled* (:func:`partition_state`) when the sensor has counted every approved
edit of its tenant (none approved after its cursor's watermark), no run of the partition that
this daemon may run is queued or running, and either the latest promotion decision is not older
than the latest evaluation, or the latest run failed or was canceled (then the state says to
re-execute it in ``aion ui``), or the edits counted stay below the sensor's threshold: then
nothing more will happen until new edits are approved. When the demo stops the daemon early, the
runs it had launched are recorded as canceled (:func:`cancel_left_over_runs`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aion_assets.core.errors import ConfigError
from aion_assets.core.settings import Settings
from aion_assets.runs import dagster_env, ensure_gpu_pool

#: The code location the daemon loads (the one ``workspace.yaml`` names).
CODE_LOCATION_MODULE = "aion_assets.definitions"
SENSOR_NAME = "approved_edits_sensor"
#: Asset keys read back, by role (the registry's route table is named by key, like everywhere else).
ASSET_KEYS: dict[str, list[str]] = {
    "scrub": ["memory", "scrubbed_edits"],
    "dataset": ["seal", "sft_dataset"],
    "adapter": ["seal", "lora_adapter"],
    "report": ["seal", "evaluation_report"],
    "decision": ["seal", "promotion_decision"],
    "routes": ["registry", "route_table"],
}
#: How long a failed run's evaluation may wait for the automation sensor's decision run.
DECISION_GRACE_SECONDS = 300.0
_STEP_LINE = re.compile(r"^step (\d+)/(\d+): loss ([0-9.]+)")
_ANSWERS_LINE = re.compile(r"^answers (\d+)/(\d+)")
_STOPPED_LINE = re.compile(r"^training stopped by (\w+) after (\d+) steps")


def daemon_command() -> list[str]:
    """``dagster-daemon run`` on the project's code location (the executable beside this Python's first).

    Raises:
        ConfigError: no ``dagster-daemon`` executable is installed.
    """
    beside = Path(sys.executable).parent / "dagster-daemon"
    exe = str(beside) if beside.exists() else shutil.which("dagster-daemon")
    if exe is None:
        raise ConfigError("dagster-daemon is not installed; install the project (`make install` or `pip install -e .`)")
    return [exe, "run", "-m", CODE_LOCATION_MODULE]


@dataclass
class EmbeddedDaemon:
    """A running ``dagster-daemon`` process, its log file and its instance's DAGSTER_HOME."""

    process: subprocess.Popen[bytes]
    log_path: Path
    dagster_home: str
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def check_alive(self) -> None:
        """Raise ``RuntimeError`` with the end of its log when the daemon has exited."""
        code = self.process.poll()
        if code is not None:
            raise RuntimeError(f"dagster-daemon exited with status {code}; its log ends with:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        """The last LINES lines of the daemon's log."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def embedded_daemon(settings: Settings, log_path: Path) -> Iterator[EmbeddedDaemon]:
    """Run ``dagster-daemon`` on the embedded instance inside the block (stopped at its end).

    The daemon gets this process's environment (the ``AION_*`` settings) with DAGSTER_HOME from
    :func:`~aion_assets.runs.dagster_env`, which also writes the run queue's limits into the
    instance's dagster.yaml; the instance gets its ``gpu`` pool. Runs the daemon launches are
    child processes of its code server and stop with it.
    """
    env = dagster_env(settings)
    ensure_gpu_pool(env["DAGSTER_HOME"])
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        # A session of its own: stopping it signals the daemon, its code server and the runs it launched.
        proc = subprocess.Popen(
            daemon_command(), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield EmbeddedDaemon(proc, log_path, env["DAGSTER_HOME"])
    finally:
        stop_process_group(proc)


def stop_process_group(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """SIGTERM PROC's process group, SIGKILL it after TIMEOUT seconds."""
    if proc.poll() is None:
        with _gone_ok():
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with _gone_ok():
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    # Runs launched by the daemon may outlive it by a moment: end what is left of its group.
    with _gone_ok():
        os.killpg(proc.pid, signal.SIGTERM)


@contextmanager
def _gone_ok() -> Iterator[None]:
    try:
        yield
    except ProcessLookupError:
        pass


# -- reading the instance -----------------------------------------------------------------------


def sensor_cursor(instance: Any) -> dict[str, Any]:
    """The approved-edits sensor's cursor (``{"tenants": {...}, "pending": {...}}``; empty before its first tick)."""
    for state in instance.all_instigator_state():
        if state.name == SENSOR_NAME and state.instigator_data is not None:
            raw = getattr(state.instigator_data, "cursor", None)
            if raw:
                data = json.loads(raw)
                return {"tenants": data.get("tenants", {}), "pending": data.get("pending", {})}
    return {"tenants": {}, "pending": {}}


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)


def latest_metadata(instance: Any, role: str, partition: str) -> tuple[dict[str, Any] | None, float | None, str | None]:
    """(metadata, timestamp, run id) of the latest materialization of ROLE's asset in PARTITION, or Nones."""
    import dagster as dg

    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(ASSET_KEYS[role]), asset_partitions=[partition]), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        return None, None, None
    record = records[0]
    meta = {k: _plain(v) for k, v in record.asset_materialization.metadata.items()}
    return meta, record.timestamp, record.run_id


def partition_runs(instance: Any, partition: str, *, since: datetime | None = None) -> list[Any]:
    """The runs of PARTITION (Dagster's ``dagster/partition`` tag), oldest first, created after SINCE."""
    return [r.dagster_run for r in partition_run_records(instance, partition, since=since)]


def partition_run_records(instance: Any, partition: str, *, since: datetime | None = None) -> list[Any]:
    """The run records (run, create and end times) of PARTITION, oldest first, created after SINCE."""
    import dagster as dg

    records = instance.get_run_records(dg.RunsFilter(tags={"dagster/partition": partition}, created_after=since))
    return sorted(records, key=lambda r: r.create_timestamp)


def cancel_left_over_runs(instance: Any, since: datetime, message: str) -> list[str]:
    """Mark the runs created after SINCE that are still queued or running as canceled; their ids.

    Called once the daemon (and with it every run it launched) has stopped: otherwise those runs
    would stay "started" in the instance forever and hold the run queue's partition limit.
    """
    import dagster as dg

    active = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
              dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
    records = instance.get_run_records(dg.RunsFilter(statuses=active, created_after=since))
    for record in records:
        instance.report_run_canceled(record.dagster_run, message=message)
    return [r.dagster_run.run_id for r in records]


@dataclass(frozen=True)
class RunProgress:
    """Where one run is: its status, the step running, the last progress line of that step."""

    run_id: str
    status: str
    step: str | None
    line: str | None
    training: tuple[int, int, float] | None  # (step, total, loss)
    training_stopped: str | None  # why training ended ("max_steps", "time_budget", ...), None while it runs
    answers: tuple[int, int] | None
    failures: tuple[str, ...]


def run_progress(instance: Any, run: Any) -> RunProgress:
    """Read RUN's events: the step in progress, its last log line, training and answer counts, failures."""
    import dagster as dg

    running: dict[str, None] = {}
    last: dict[str, str] = {}
    training = answers = None
    stopped = None
    failures: list[str] = []
    for record in instance.all_logs(run.run_id):
        event = record.dagster_event
        step = record.step_key
        if event is None:
            text = (record.user_message or "").strip()
            if step:
                last[step] = text
            m = _STEP_LINE.match(text)
            if m:
                training = (int(m[1]), int(m[2]), float(m[3]))
            m = _STOPPED_LINE.match(text)
            if m and training is not None:
                stopped, training = m[1], (int(m[2]), training[1], training[2])
            m = _ANSWERS_LINE.match(text)
            if m:
                answers = (int(m[1]), int(m[2]))
            continue
        kind = event.event_type
        if kind == dg.DagsterEventType.STEP_START and step:
            running[step] = None
        elif kind in (
            dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.STEP_SKIPPED
        ):
            running.pop(step or "", None)
        if event.is_failure:
            error = event.step_failure_data.error if event.is_step_failure else None
            detail = f": {error.message.strip()[:400]}" if error is not None else ""
            failures.append(f"{event.event_type_value} {step or ''}{detail}".strip())
    current = next(reversed(running), None) if running else None
    return RunProgress(
        run_id=run.run_id,
        status=run.status.value,
        step=current,
        line=last.get(current) if current else None,
        training=training,
        training_stopped=stopped,
        answers=answers,
        failures=tuple(failures),
    )


def runs_report(instance: Any) -> str:
    """Every run of the instance with its tags and failure messages (for an error message)."""
    lines = []
    for run in instance.get_runs():
        lines.append(f"{run.run_id} {run.job_name} {run.status.value} {dict(run.tags)}")
        lines.extend(f"  {f}" for f in run_progress(instance, run).failures)
    return "\n".join(lines) or "no runs"


@dataclass(frozen=True)
class PartitionState:
    """Whether a partition's loop has settled, and why not."""

    settled: bool
    why: str
    failed: bool = False


def partition_state(
    instance: Any, engine: Any, partition: str, *, min_reward: float, since: datetime
) -> PartitionState:
    """Whether PARTITION has settled (module docstring); ENGINE is the memory database's.

    Args:
        min_reward: the tenant's curation threshold (the sensor counts edits at or above it).
        since: runs created before this are not waited for (a run left queued by a killed demo).
    """
    import dagster as dg

    from aion_assets.memory.watermarks import iter_approved_between

    tenant_id, _, _domain = partition.rpartition("/")
    cursor = sensor_cursor(instance)
    raw = cursor["tenants"].get(tenant_id)
    after = datetime.fromisoformat(raw) if raw else None
    uncounted = next(
        iter(iter_approved_between(engine, tenant_id, after=after, until=datetime.now(UTC), min_reward=min_reward)),
        None,
    )
    if uncounted is not None:
        return PartitionState(False, "waiting for the approved-edits sensor to count the new approvals")
    active = {
        dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING,
    }
    records = partition_run_records(instance, partition)
    since_ts = since.timestamp()
    if any(r.dagster_run.status in active and r.create_timestamp.timestamp() >= since_ts for r in records):
        return PartitionState(False, "a run is queued or in progress")
    last = records[-1] if records else None
    # A run still "in progress" from before SINCE was launched by a daemon that has stopped since.
    last_bad = last is not None and last.dagster_run.status in (
        {dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED} | active
    )
    waiting = cursor["pending"].get(partition, 0)
    _, evaluated_at, _ = latest_metadata(instance, "report", partition)
    _, decided_at, _ = latest_metadata(instance, "decision", partition)
    if evaluated_at is not None and (decided_at is None or decided_at < evaluated_at):
        # A gate that stopped the learning run leaves the decision to a run of its own (aion_automation).
        ended = last.end_time if last is not None and last_bad else None
        if not last_bad or (ended is not None and time.time() - ended < DECISION_GRACE_SECONDS):
            return PartitionState(False, "waiting for the promotion decision (the automation sensor requests it)")
    # A rejected candidate fails its run too (the decision's blocking check): the decision still counts.
    decided_by_last = (
        last is not None and decided_at is not None and last.start_time is not None and decided_at >= last.start_time
    )
    if last_bad and last is not None and not decided_by_last:
        status = last.dagster_run.status
        ended_how = {dg.DagsterRunStatus.FAILURE: "failed", dg.DagsterRunStatus.CANCELED: "was canceled"}.get(
            status, f"was left {status.value.lower()} by a daemon that stopped"
        )
        return PartitionState(
            True,
            f"run {last.dagster_run.run_id[:8]} {ended_how} before a decision; re-execute it in `aion ui` (Runs)",
            failed=True,
        )
    if evaluated_at is None:
        if waiting:
            return PartitionState(True, f"{waiting} approved edit(s) counted, below the sensor's threshold")
        return PartitionState(False, "waiting for the approved-edits sensor's run")
    return PartitionState(True, "decided")

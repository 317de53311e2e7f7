"""Materialize one tenant/domain partition of the SEAL loop in-process (the CLI, bench/ and the e2e test).

Runs the same asset graph as the Dagster UI, against the persistent Dagster instance under
DAGSTER_HOME (default AION_HOME/dagster), so the run, its logs and its lineage show up in
`aion ui` afterwards.

Concurrency: every instance the project runs on queues its runs (``QueuedRunCoordinator``)
with the limits of :func:`run_queue_config`: one run at a time per ``tenant/domain`` partition
(two overlapping runs would train and evaluate against each other's dataset versions) and one
run at a time in the GPU queue. The repo's ``dagster.yaml`` (production) holds the same limits
(a test compares them); for the embedded default :func:`dagster_env` writes them into
``$DAGSTER_HOME/dagster.yaml``. ``run_partition`` executes in-process and so bypasses the queue:
it tags its run like the queue's runs and refuses to start while the partition has a run in
progress.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from aion_assets.core.settings import Settings

Echo = Callable[[str], Any]

#: First line of the dagster.yaml that :func:`write_instance_config` writes (and may rewrite).
WRITTEN_BY = "# Written by aion (aion_assets/runs.py); remove this line to keep your own edits."
#: Runs that may run at once on the embedded default (a laptop: the GPU queue bounds training anyway).
EMBEDDED_MAX_CONCURRENT_RUNS = 4


def run_queue_config(max_concurrent_runs: int = EMBEDDED_MAX_CONCURRENT_RUNS) -> dict[str, Any]:
    """The ``run_coordinator`` and ``concurrency`` sections of a Dagster instance config (dagster.yaml).

    Limits: one run at a time per value of ``aion/partition`` (set by the approved-edits sensor
    and :func:`run_partition`) and per value of ``dagster/partition`` (Dagster sets it on every
    partitioned run, so runs launched from the UI or a backfill are held too); one run at a time
    tagged ``aion/queue: gpu`` (runs that train an adapter). Ops in the ``gpu`` pool are also
    limited one at a time (the pool's slots, see :func:`ensure_gpu_pool`).
    """
    from aion_assets.seal.partitions import GPU_QUEUE, PARTITION_TAG, QUEUE_TAG

    per_value = {"applyLimitPerUniqueValue": True}
    return {
        "run_coordinator": {"module": "dagster", "class": "QueuedRunCoordinator"},
        "concurrency": {
            "runs": {
                "max_concurrent_runs": max_concurrent_runs,
                "tag_concurrency_limits": [
                    {"key": PARTITION_TAG, "value": per_value, "limit": 1},
                    {"key": "dagster/partition", "value": per_value, "limit": 1},
                    {"key": QUEUE_TAG, "value": GPU_QUEUE, "limit": 1},
                ],
            },
            "pools": {"granularity": "op", "default_limit": 4},
        },
        "telemetry": {"enabled": False},
    }


def write_instance_config(dagster_home: Path) -> bool:
    """Write DAGSTER_HOME/dagster.yaml with :func:`run_queue_config` unless the user has their own.

    A file this function wrote (it starts with :data:`WRITTEN_BY`) is rewritten, so a newer
    version's limits reach an existing AION_HOME; any other file is left alone.

    Returns:
        Whether the file was written.
    """
    import yaml

    path = Path(dagster_home) / "dagster.yaml"
    text = WRITTEN_BY + "\n" + yaml.safe_dump(run_queue_config(), sort_keys=False)
    if path.exists():
        current = path.read_text()
        if not current.startswith(WRITTEN_BY) or current == text:
            return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".dagster.yaml.{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)  # a concurrent `aion ui` never reads half a file
    return True


def dagster_env(settings: Any) -> dict[str, str]:
    """The environment for Dagster processes: DAGSTER_HOME defaults to AION_HOME/dagster.

    The instance there gets the run queue and its limits (:func:`write_instance_config`).
    """
    env = dict(os.environ)
    if not env.get("DAGSTER_HOME"):
        home = settings.resolved_home / "dagster"
        from aion_assets.core.files import make_private_dir

        make_private_dir(home)  # AION_HOME and its dagster folder: 0700
        env["DAGSTER_HOME"] = str(home)
    write_instance_config(Path(env["DAGSTER_HOME"]))
    return env


class ProgressDisplay(logging.Handler):
    """Shows progress events (training steps, evaluation answers) as bars on a terminal, as lines otherwise.

    Attach it with :func:`aion_assets.seal.training.progress.listening` (see :func:`showing_progress`).
    One bar per task (``tqdm``), closed when its final event arrives. Without a terminal (CI logs,
    pipes), a line per task at its first event, at every tenth of its total (every 25 updates when
    the total is unknown) and at its end: a log file gets a dozen lines per task, not a redrawn bar.

    Args:
        stream: where bars or lines go (default: standard error, beside Dagster's console log).
        bars: draw bars; default: whether STREAM is a terminal.
    """

    def __init__(self, stream: IO[str] | None = None, *, bars: bool | None = None) -> None:
        super().__init__(logging.INFO)
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.bars = bool(isatty and isatty()) if bars is None else bars
        self._bars: dict[str, Any] = {}
        self._shown: dict[str, int] = {}  # plain mode: the last tenth (or update count) written, per task

    def emit(self, record: logging.LogRecord) -> None:
        """Handle one record of the progress logger (records without an event are ignored)."""
        from aion_assets.seal.training.progress import event_of

        event = event_of(record)
        if event is None:
            return
        try:
            self.show(event)
        except Exception:  # a display must never fail the run it displays
            self.handleError(record)

    def show(self, event: Any) -> None:
        """Draw EVENT (a :class:`~aion_assets.seal.training.progress.ProgressEvent`)."""
        if self.bars:
            self._draw(event)
        else:
            self._line(event)

    def _draw(self, event: Any) -> None:
        from tqdm import tqdm

        bar = self._bars.get(event.task)
        if bar is None:
            unit = "step" if event.task == "training" else "answer"
            bar = self._bars[event.task] = tqdm(
                total=event.total, desc=event.task, unit=unit, file=self.stream, dynamic_ncols=True, leave=True
            )
        bar.set_postfix(dict(event.fields), refresh=False)
        bar.update(event.done - bar.n)  # redraws at most every 0.1 s, and computes the rate
        if event.final:
            bar.close()
            del self._bars[event.task]

    def _line(self, event: Any) -> None:
        mark = event.done * 10 // event.total if event.total else event.done // 25
        last = self._shown.get(event.task)
        if last is not None and mark <= last and not event.final:
            return
        of = f"/{event.total} ({event.done / event.total:.0%})" if event.total else ""
        figures = "".join(f", {k} {v}" for k, v in event.fields.items())
        self.stream.write(f"{event.task}: {event.done}{of}{figures}{' done' if event.final else ''}\n")
        self.stream.flush()
        if event.final:
            self._shown.pop(event.task, None)
        else:
            self._shown[event.task] = mark

    def write_around(self, text: str) -> None:
        """Write TEXT to the stream with the bars cleared first and redrawn after (other output)."""
        for bar in self._bars.values():
            bar.clear()
        self.stream.write(text)
        self.stream.flush()
        for bar in self._bars.values():
            bar.refresh()

    def close(self) -> None:
        """Close any bar left open (a run that failed mid-task)."""
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()
        super().close()


class _AroundBars:
    """Standard error while bars are drawn: each write (Dagster's console log) clears and redraws them."""

    def __init__(self, display: ProgressDisplay, real: IO[str]) -> None:
        self._display = display
        self._real = real
        self._pending = ""

    def write(self, text: str) -> int:
        # Whole lines only: print() writes a line and its newline separately, and a bar redrawn
        # between the two would end up glued to the line.
        self._pending += text
        cut = self._pending.rfind("\n") + 1
        if cut:
            self._display.write_around(self._pending[:cut])
            self._pending = self._pending[cut:]
        return len(text)

    def flush(self) -> None:
        """Nothing to do: whole lines are written (and flushed) as they complete."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@contextmanager
def showing_progress(display: ProgressDisplay | None = None) -> Iterator[ProgressDisplay]:
    """Show progress events inside the block; with bars, other standard-error output is written around them."""
    from aion_assets.seal.training.progress import listening

    display = display or ProgressDisplay()
    real = sys.stderr
    # Dagster's console log resolves sys.stderr at each record, so it goes through the proxy.
    if display.bars and display.stream is real:
        sys.stderr = _AroundBars(display, real)  # type: ignore[assignment]
    try:
        with listening(display):
            yield display
    finally:
        if isinstance(sys.stderr, _AroundBars) and sys.stderr._pending:
            display.write_around(sys.stderr._pending + "\n")  # an unfinished line is still output
        sys.stderr = real
        display.close()


GPU_POOL = "gpu"


def ensure_gpu_pool(dagster_home: str) -> None:
    """Give the instance at DAGSTER_HOME a ``gpu`` concurrency pool of 1 slot (idempotent)."""
    import dagster as dg

    with dg.DagsterInstance.from_config(dagster_home) as instance:
        instance.event_log_storage.set_concurrency_slots(GPU_POOL, 1)


def partition_runs_in_progress(instance: Any, key: str) -> list[Any]:
    """The runs of partition KEY that are queued or running in INSTANCE (a ``DagsterInstance``)."""
    import dagster as dg

    from aion_assets.seal.partitions import PARTITION_TAG

    statuses = [
        dg.DagsterRunStatus.QUEUED,
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
        dg.DagsterRunStatus.CANCELING,
    ]
    runs: dict[str, Any] = {}
    for tag in (PARTITION_TAG, "dagster/partition"):
        for record in instance.get_run_records(dg.RunsFilter(tags={tag: key}, statuses=statuses)):
            runs[record.dagster_run.run_id] = record.dagster_run
    return list(runs.values())


def run_partition(
    settings: Settings,
    tenant_id: str,
    domain: str,
    *,
    max_train_minutes: float | None = None,
    max_steps: int | None = None,
    max_eval_rows: int | None = None,
    require_beats_control: tuple[str, ...] = (),
    model_home: Path | None = None,
    echo: Echo = print,
    progress: ProgressDisplay | None = None,
) -> dict[str, Any]:
    """Materialize tenant_vocabulary, scrubbed_edits, sft_dataset, lora_adapter, evaluation_report of a partition.

    Training steps and evaluation answers are shown as they happen (:class:`ProgressDisplay`:
    bars on a terminal, a few lines otherwise), besides the run's own log lines.

    Args:
        model_home: where converted base models are cached (default: AION_HOME).
        progress: the progress display (default: a :class:`ProgressDisplay` on standard error).

    Returns:
        ``{"success", "run_id", "dataset", "adapter", "report", "checks"}`` with each asset's metadata.

    Raises:
        ConflictError: the partition has a run queued or in progress (the message names it).
    """
    import dagster as dg

    from aion_assets.core.errors import ConflictError
    from aion_assets.definitions import defs, resources_from_settings
    from aion_assets.memory.assets import interactions
    from aion_assets.seal.assets import evaluation_report, lora_adapter
    from aion_assets.seal.datasets.assets import scrubbed_edits, sft_dataset, tenant_vocabulary
    from aion_assets.seal.partitions import TENANT_DOMAINS, partition_key, run_tags

    key = partition_key(tenant_id, domain)
    os.environ["DAGSTER_HOME"] = dagster_env(settings)["DAGSTER_HOME"]
    ensure_gpu_pool(os.environ["DAGSTER_HOME"])
    assets: list[Any] = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    checks: list[Any] = list(defs.asset_checks or [])
    # INFO keeps the steps' own messages (training progress, evaluation stages) and drops
    # Dagster's per-event DEBUG lines, which would bury them on a terminal.
    quiet: dict[str, Any] = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    run_config: dict[str, Any] = {"ops": {}, **quiet}
    train_cfg = {k: v for k, v in {"max_train_minutes": max_train_minutes, "max_steps": max_steps,
                                   "max_eval_rows": max_eval_rows}.items() if v}
    if train_cfg:
        run_config["ops"]["seal__lora_adapter"] = {"config": train_cfg}
    eval_cfg: dict[str, Any] = {"require_beats_control": list(require_beats_control)}
    if max_eval_rows:
        eval_cfg["max_eval_rows"] = max_eval_rows
    run_config["ops"]["seal__evaluation_report"] = {"config": eval_cfg}
    resources = resources_from_settings(settings, model_home=str(model_home) if model_home else None)
    with dg.DagsterInstance.get() as instance:
        # dg.materialize runs in this process, past the run queue: hold back here instead.
        # (Two commands started in the same second can both pass; the queue has no such gap.)
        busy = partition_runs_in_progress(instance, key)
        if busy:
            run = busy[0]
            raise ConflictError(
                f"partition {key} has run {run.run_id} {run.status.value.lower()}; wait for it to end or "
                f"cancel it in `aion ui` (if its process died: `dagster run delete {run.run_id}`)"
            )
        instance.add_dynamic_partitions(TENANT_DOMAINS, [key])
        echo(f"observing the memory store, then materializing {key} (DAGSTER_HOME={os.environ['DAGSTER_HOME']})")
        dg.materialize([interactions], resources=resources, instance=instance, run_config=quiet)
        with showing_progress(progress):
            result = dg.materialize(
                [*assets, *checks],
                selection=[tenant_vocabulary, scrubbed_edits, sft_dataset, lora_adapter, evaluation_report],
                partition_key=key,
                resources=resources,
                instance=instance,
                run_config=run_config,
                tags=run_tags(key, gpu=True),
                raise_on_error=False,
            )
        out: dict[str, Any] = {"success": result.success, "run_id": result.run_id}
        for name, asset in (("dataset", sft_dataset), ("adapter", lora_adapter), ("report", evaluation_report)):
            events = [m for m in result.asset_materializations_for_node(asset.op.name)]
            out[name] = {k: v.value for k, v in events[-1].metadata.items()} if events else None
        out["checks"] = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        out["failures"] = [e.message for e in result.all_events if e.is_failure]
    return out

"""The loop part of ``aion demo``: Dagster's daemon runs the graph by itself; progress while it does, results after.

Nothing of the graph is called from here. :func:`run_demo_loop` starts ``dagster-daemon`` on the
embedded instance (:mod:`aion_assets.demo.daemon`) unless every demo partition has settled already
(a second ``aion demo``: no new approvals, nothing to run), polls the instance for the runs the
approved-edits sensor queued (status, current step, training steps and evaluation answers read from
the runs' log lines) until each partition has settled, stops the daemon, and prints what the run
produced, read back from the instance, the memory store and the registry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aion_assets.core.errors import AionError
from aion_assets.core.settings import Settings
from aion_assets.demo.daemon import (
    cancel_left_over_runs,
    embedded_daemon,
    latest_metadata,
    partition_runs,
    partition_state,
    run_progress,
    runs_report,
)
from aion_assets.runs import ProgressDisplay, dagster_env, showing_progress

Echo = Callable[[str], Any]
POLL_SECONDS = 5.0


class LoopTimeout(AionError):
    """The demo's partitions did not settle in time."""


def _tenant(partition: str) -> str:
    return partition.rpartition("/")[0]


def run_demo_loop(
    settings: Settings,
    partitions: tuple[str, ...],
    *,
    echo: Echo = print,
    timeout_s: float = 1800.0,
    progress: ProgressDisplay | None = None,
) -> dict[str, dict[str, Any]]:
    """Let the daemon run the graph for PARTITIONS (``tenant/domain``), then print and return the results.

    Returns:
        Per partition: what :func:`collect_results` returns.

    Raises:
        LoopTimeout: a partition had not settled after TIMEOUT_S seconds (the message lists the runs).
        RuntimeError: the daemon exited.
    """
    import dagster as dg

    from aion_assets.core.db import make_engine
    from aion_assets.memory.store import MemoryStore
    from aion_assets.registry.sql_store import SqlRegistryStore
    from aion_assets.seal.datasets.sensors import SETTLE_SECONDS
    from aion_assets.seal.datasets.tenant_config import curation_settings

    engine = make_engine(settings.db_url, pool_size=1)
    try:
        memory, registry = MemoryStore(engine), SqlRegistryStore(engine)
        min_reward = {p: curation_settings(memory.get_tenant(_tenant(p))).min_reward for p in partitions}
        routes_before = {p: registry.list_routes(_tenant(p)) for p in partitions}
        home = dagster_env(settings)["DAGSTER_HOME"]
        started = datetime.now(UTC)
        with dg.DagsterInstance.from_config(home) as instance:
            states = {
                p: partition_state(instance, engine, p, min_reward=min_reward[p], since=started) for p in partitions
            }
        if all(s.settled for s in states.values()) and not all(s.why == "decided" for s in states.values()):
            echo("\nnothing the daemon would run:")
            for p, state in states.items():
                echo(f"  {p}: {state.why}")
        elif all(s.settled for s in states.values()):
            echo(
                "\nno new approvals: the approved-edits sensor has counted every approved edit already and each "
                "partition's latest evaluation is decided, so there is nothing to run (results of the earlier run "
                "below)"
            )
        else:
            echo(f"\n== the automation runs the graph: dagster-daemon on the embedded instance ({home}) ==")
            echo(
                "the approved-edits sensor queues sft_dataset_job per tenant/domain: scrubbed_edits -> sft_dataset -> "
                "lora_adapter -> evaluation_report -> promotion_decision -> route_table (one training run at a time)"
            )
            # The sensor counts an approval once it is SETTLE_SECONDS old: starting it right after the
            # reviewer would split a tenant's approvals over two runs (two trainings of one partition).
            time.sleep(SETTLE_SECONDS + 1)
            try:
                with embedded_daemon(settings, settings.resolved_home / "logs" / "demo-daemon.log") as daemon:
                    echo(f"dagster-daemon started (pid {daemon.process.pid}, log {daemon.log_path})")
                    with dg.DagsterInstance.from_config(home) as instance, showing_progress(progress) as display:
                        _follow(instance, engine, partitions, min_reward, started, daemon, echo, display, timeout_s)
            finally:
                # Stopped early (timeout, Ctrl-C): the daemon's runs died with it; record them as canceled.
                with dg.DagsterInstance.from_config(home) as instance:
                    canceled = cancel_left_over_runs(instance, started, "aion demo stopped its daemon")
                if canceled:
                    echo(f"runs canceled with the daemon: {', '.join(c[:8] for c in canceled)}")
        results = {}
        with dg.DagsterInstance.from_config(home) as instance:
            for p in partitions:
                results[p] = collect_results(settings, instance, memory, registry, p, routes_before[p])
                state = partition_state(instance, engine, p, min_reward=min_reward[p], since=started)
                results[p]["failed"], results[p]["state"] = state.failed, state.why
        return results
    finally:
        engine.dispose()


def _follow(
    instance: Any, engine: Any, partitions: tuple[str, ...], min_reward: dict[str, float], started: datetime,
    daemon: Any, echo: Echo, display: ProgressDisplay, timeout_s: float,
) -> None:
    """Poll until every partition has settled, echoing each change of a run's status or step."""
    from aion_assets.seal.training.progress import ProgressEvent

    shown: dict[str, tuple[str, str | None]] = {}
    t0 = time.monotonic()

    def say(text: str) -> None:
        stamp = f"[{int(time.monotonic() - t0) // 60:02d}:{int(time.monotonic() - t0) % 60:02d}] "
        if display.bars:
            display.write_around(stamp + text + "\n")
        else:
            echo(stamp + text)

    waiting_said: dict[str, str] = {}
    finished: set[str] = set()
    while True:
        daemon.check_alive()
        settled = True
        for p in partitions:
            for run in partition_runs(instance, p, since=started):
                prog = run_progress(instance, run) if run.status.value in ("STARTED", "FAILURE") else None
                step = prog.step if prog else None
                if shown.get(run.run_id) != (run.status.value, step):
                    shown[run.run_id] = (run.status.value, step)
                    why = f" (trigger: {run.tags['aion/trigger']})" if "aion/trigger" in run.tags else ""
                    say(f"{p}: run {run.run_id[:8]} of {run.job_name} {run.status.value.lower()}"
                        + (f", step {step}" if step else "") + (why if run.status.value == "QUEUED" else ""))
                    if prog and prog.failures:
                        for failure in prog.failures:
                            say(f"{p}:   {failure}")
                if prog and prog.training and (step == "seal__lora_adapter" or prog.training_stopped):
                    done, total, loss = prog.training
                    task = f"{p} training"
                    if prog.training_stopped is None:
                        display.show(ProgressEvent(task, done, total, {"loss": loss}))
                    elif task not in finished:
                        finished.add(task)
                        if done >= total:  # the last step's line ended the bar already
                            continue
                        display.show(ProgressEvent(task, done, total, {"stopped by": prog.training_stopped}, True))
                if prog and prog.answers and step == "seal__evaluation_report":
                    done, total = prog.answers
                    display.show(ProgressEvent(f"{p} answers", done, total))
            state = partition_state(instance, engine, p, min_reward=min_reward[p], since=started)
            if not state.settled:
                settled = False
                if waiting_said.get(p) != state.why:
                    waiting_said[p] = state.why
                    say(f"{p}: {state.why}")
        if settled:
            say("every partition has settled; stopping the daemon")
            return
        if time.monotonic() - t0 > timeout_s:
            raise LoopTimeout(
                f"the loop had not settled after {timeout_s / 60:.0f} min; runs:\n{runs_report(instance)}\n"
                f"daemon log ends with:\n{daemon.tail(20)}"
            )
        time.sleep(POLL_SECONDS)


def collect_results(
    settings: Settings, instance: Any, memory: Any, registry: Any, partition: str, routes_before: list[Any]
) -> dict[str, Any]:
    """What the loop produced for PARTITION, read back from the instance, the memory store and the registry.

    Returns:
        ``scrub``, ``dataset``, ``adapter``, ``report``, ``decision`` (each asset's latest metadata
        or None), ``checks``, ``routes_before``, ``routes_after``, ``model`` (the routed version with
        its lineage, or None), ``audit`` (its registry audit entries), ``evaluation_rows``,
        ``last_approval``, ``failed`` (the latest run failed).
    """
    from aion_assets.core.artifacts import artifact_store_from_uri
    from aion_assets.memory.watermarks import iter_approved_between
    from aion_assets.registry.lineage import model_detail

    tenant = _tenant(partition)
    out: dict[str, Any] = {r: latest_metadata(instance, r, partition)[0] for r in
                           ("scrub", "dataset", "adapter", "report", "decision")}
    report = out["report"] or {}
    out["checks"] = {"evaluation gate": report["gate_passed"]} if "gate_passed" in report else {}
    out["routes_before"] = routes_before
    out["routes_after"] = registry.list_routes(tenant)
    runs = partition_runs(instance, partition)
    out["failed"] = bool(runs) and runs[-1].status.value in ("FAILURE", "CANCELED")
    out["runs"] = [(r.run_id, r.job_name, r.status.value) for r in runs]
    now = datetime.now(UTC)
    approvals = [e.reviewed_at for e in iter_approved_between(memory.engine, tenant, after=None, until=now)]
    out["last_approval"] = max(approvals) if approvals else None
    out["model"], out["audit"], out["evaluation_rows"] = None, [], 0
    if out["routes_after"]:
        # The demo's agents all serve their domain's newest promoted version: the most recent route names it.
        route = max(out["routes_after"], key=lambda r: r.updated_at)
        artifacts = artifact_store_from_uri(
            settings.artifacts, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region,
            sse_kms_key_id=settings.s3_sse_kms_key_id,
        )
        version = registry.get_version(tenant, route.default_model_id)
        out["model"] = model_detail(registry, artifacts, tenant, version)
        subjects = {f"model:{version.id}", *(f"route:{r.agent_id}" for r in out["routes_after"])}
        out["audit"] = [a for a in registry.list_audit(tenant) if a.subject in subjects]
        run_id = version.evaluation_run_id
        out["evaluation_rows"] = sum(1 for r in memory.list_evaluations(tenant) if run_id and r.run_id == run_id)
    return out


def _route_line(route: Any) -> str:
    fallback = f", fallback {route.fallback_model_name}" if route.fallback_model_name else ""
    return f"  {route.agent_id}: {route.default_model_name}{fallback} (route version {route.version})"


def print_results(partition: str, out: dict[str, Any], echo: Echo = print) -> None:
    """Print one partition's results: rows and PII, metrics, promotion, routes, audit chain, latency."""
    from aion_assets.cli.seal import print_learning

    echo(f"\n== results: {partition} ==")
    if out.get("failed"):
        echo(f"not settled: {out.get('state') or 'the latest run failed'}")
    scrub, dataset = out["scrub"] or {}, out["dataset"] or {}
    if scrub:
        by_type = ", ".join(f"{k} {v}" for k, v in (scrub.get("removed_by_type") or {}).items()) or "none"
        echo(f"approved edits read {scrub.get('approved_edits_read')}, rows kept {scrub.get('rows_in')}; "
             f"PII values removed {scrub.get('removed_total')} ({by_type})")
    if dataset:
        echo(f"dataset {dataset.get('version')}: {dataset.get('rows_train')} train / {dataset.get('rows_eval')} eval "
             f"rows{' (reused: identical content)' if dataset.get('reused_existing_version') else ''}")
    if out["report"]:
        print_learning(out, echo)
    decision = out["decision"] or {}
    if decision:
        echo(f"promotion decision: {decision.get('status')} {decision.get('model_name') or ''}".rstrip())
        reasons = str(decision.get("reasons") or "").strip()
        if reasons and reasons != "none":
            echo(reasons)
    echo("route table before:")
    echo("\n".join(_route_line(r) for r in out["routes_before"]) or "  (no route)")
    echo("route table after:")
    echo("\n".join(_route_line(r) for r in out["routes_after"]) or "  (no route)")
    model = out["model"]
    if model is not None:
        lin = model.lineage
        ids = lin.source_edit_ids or []
        shown = ", ".join(ids[:3]) + (", ..." if len(ids) > 3 else "")
        echo(f"audit chain of {model.name}:")
        echo(f"  route -> model {model.name} ({model.id}, {model.status.value}, adapter {model.adapter_uri})")
        echo(f"  -> evaluation run {lin.evaluation_run_id} ({out['evaluation_rows']} rows in the evaluations table)")
        echo(f"  -> dataset {lin.dataset_version} (manifest {lin.dataset_manifest_uri})")
        if lin.source_edit_ids_error:
            echo(f"  -> source edits: not readable ({lin.source_edit_ids_error})")
        else:
            echo(f"  -> {lin.source_edit_ids_total} source self-edits: {shown}")
        for entry in sorted(out["audit"], key=lambda a: a.at):
            echo(f"  audit {entry.at:%Y-%m-%d %H:%M:%S} {entry.action} {entry.subject} by {entry.actor}")
        # Every agent of the domain is routed in one publication: the latest route change is its time.
        changed = max(r.updated_at for r in out["routes_after"])
        agents = ", ".join(r.agent_id for r in out["routes_after"])
        last = out["last_approval"]
        if last is not None and changed >= last:
            echo(f"time from the last approval to the route change ({agents}): "
                 f"{(changed - last).total_seconds():.0f} s")
        elif last is not None:
            echo("the routes did not change in this run (they already served the version the latest approvals "
                 "produced)")

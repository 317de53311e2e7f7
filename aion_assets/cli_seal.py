"""`aion seal run`: materialize one tenant/domain's dataset, adapter and evaluation from the shell.

Runs the same asset graph as the Dagster UI, in-process, against the persistent Dagster
instance under DAGSTER_HOME (default AION_HOME/dagster), so the run, its logs and its lineage
show up in `aion ui` afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from aion_assets.core.settings import Settings, get_settings

Echo = Callable[[str], Any]


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
    echo: Echo = click.echo,
) -> dict[str, Any]:
    """Materialize scrubbed_edits -> sft_dataset -> lora_adapter -> evaluation_report for one partition.

    Args:
        model_home: where converted base models are cached (default: AION_HOME).

    Returns:
        ``{"success", "run_id", "dataset", "adapter", "report", "checks"}`` with each asset's metadata.
    """
    import dagster as dg

    from aion_assets.cli_pipeline import dagster_env, ensure_gpu_pool
    from aion_assets.definitions import default_resources, defs
    from aion_assets.memory.assets import interactions, scrubbed_edits
    from aion_assets.seal.assets import sft_dataset
    from aion_assets.seal.learning_assets import evaluation_report, lora_adapter
    from aion_assets.seal.partitions import TENANT_DOMAINS, partition_key
    from aion_assets.seal.resources import SealResource

    key = partition_key(tenant_id, domain)
    os.environ["DAGSTER_HOME"] = dagster_env(settings)["DAGSTER_HOME"]
    ensure_gpu_pool(os.environ["DAGSTER_HOME"])
    assets: list[Any] = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    checks: list[Any] = list(defs.asset_checks or [])
    # INFO keeps the steps' own messages (training progress, evaluation stages) and drops
    # Dagster's per-event DEBUG lines, which would bury them on a terminal.
    quiet: dict[str, Any] = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    run_config: dict[str, Any] = {"ops": {}, **quiet}
    train_cfg = {k: v for k, v in {"max_train_minutes": max_train_minutes, "max_steps": max_steps}.items() if v}
    if train_cfg:
        run_config["ops"]["seal__lora_adapter"] = {"config": train_cfg}
    eval_cfg: dict[str, Any] = {"require_beats_control": list(require_beats_control)}
    if max_eval_rows:
        eval_cfg["max_eval_rows"] = max_eval_rows
    run_config["ops"]["seal__evaluation_report"] = {"config": eval_cfg}
    resources = default_resources()
    if model_home is not None:
        resources["seal"] = SealResource(home=str(model_home))
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions(TENANT_DOMAINS, [key])
        echo(f"observing the memory store, then materializing {key} (DAGSTER_HOME={os.environ['DAGSTER_HOME']})")
        dg.materialize([interactions], resources=default_resources(), instance=instance, run_config=quiet)
        result = dg.materialize(
            [*assets, *checks],
            selection=[scrubbed_edits, sft_dataset, lora_adapter, evaluation_report],
            partition_key=key,
            resources=resources,
            instance=instance,
            run_config=run_config,
            raise_on_error=False,
        )
        out: dict[str, Any] = {"success": result.success, "run_id": result.run_id}
        for name, asset in (("dataset", sft_dataset), ("adapter", lora_adapter), ("report", evaluation_report)):
            events = [m for m in result.asset_materializations_for_node(asset.op.name)]
            out[name] = {k: v.value for k, v in events[-1].metadata.items()} if events else None
        out["checks"] = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        out["failures"] = [e.message for e in result.all_events if e.is_failure]
    return out


def print_learning(out: dict[str, Any], echo: Echo = click.echo) -> None:
    """Print the before/after figures of an evaluation report's summary."""
    report = out.get("report") or {}
    summary = report.get("summary") or {}
    models = summary.get("models", {})
    if not models:
        echo("no evaluation report was produced")
        return
    adapter = out.get("adapter") or {}
    echo(
        f"\ntrained {adapter.get('version')}: {adapter.get('steps')} steps in {adapter.get('train_seconds')} s "
        f"({adapter.get('tokens_per_s')} tokens/s, {adapter.get('precision')}), stored at {adapter.get('uri')}"
    )
    names = [
        ("rougeL_body", "body ROUGE-L"),
        ("fact_recall", "key facts"),
        ("style", "house style"),
        ("rougeL", "whole ROUGE-L"),
        ("chrf_body", "body chrF"),
        ("consistency_body", "body consistency"),
        ("scenario_pass_rate", "scenarios passed"),
    ]
    echo(f"\n{'metric':<18} {'base':>8} {'control':>8} {'candidate':>10}   candidate - base (95% CI)")
    for metric, label in names:
        values = [models.get(role, {}).get("metrics", {}).get(metric) for role in ("baseline", "control", "candidate")]
        if all(v is None for v in values):
            continue
        ci = summary.get("vs_baseline", {}).get(metric)
        interval = f"{ci['diff']:+.3f} ({ci['low']:+.3f} to {ci['high']:+.3f})" if ci else ""
        cells = " ".join(f"{v:>8.3f}" if v is not None else f"{'-':>8}" for v in values[:2])
        cand = f"{values[2]:>10.3f}" if values[2] is not None else f"{'-':>10}"
        echo(f"{label:<18} {cells} {cand}   {interval}")
    base_body = models.get("baseline", {}).get("metrics", {}).get("rougeL_body")
    cand_body = models.get("candidate", {}).get("metrics", {}).get("rougeL_body")
    if base_body and cand_body:
        echo(f"\nbody ROUGE-L: {cand_body / base_body - 1:+.0%} relative to the base model")
    echo("gate (blocking check): " + ("passed" if all(out.get("checks", {}).values()) else f"FAILED {out['checks']}"))
    echo(f"evaluation rows stored in the evaluations table; per-example results: {report.get('examples_uri')}")


def run_demo_pipeline(
    settings: Settings, *, echo: Echo = click.echo, domains: tuple[str, ...] = ("acme/support",)
) -> dict[str, Any]:
    """The learning part of `aion demo`: dataset, adapter and evaluation for the demo domain(s)."""
    results = {}
    for name in domains:
        tenant_id, domain = name.split("/")
        echo(f"\n== SEAL loop for {name} ==")
        out = run_partition(settings, tenant_id, domain, require_beats_control=("rougeL_body",), echo=echo)
        results[name] = out
        if not out["success"]:
            echo("the run failed:\n" + "\n".join(out["failures"]))
            continue
        ds = out["dataset"] or {}
        echo(
            f"dataset {ds.get('version')}: {ds.get('rows_train')} train / {ds.get('rows_eval')} eval rows "
            f"at {ds.get('uri')}"
        )
        print_learning(out, echo)
    return results


@click.group()
def seal() -> None:
    """The SEAL loop from the command line."""


@seal.command("run")
@click.option("--tenant", required=True, help="Tenant id.")
@click.option("--domain", required=True, help="Domain (the partition is TENANT/DOMAIN).")
@click.option("--max-train-minutes", type=click.FloatRange(min=0.1), default=None, help="Override the time budget.")
@click.option("--max-steps", type=click.IntRange(min=1), default=None, help="Override the step budget.")
@click.option("--max-eval-rows", type=click.IntRange(min=1), default=None, help="Evaluate at most N eval rows.")
def seal_run(
    tenant: str, domain: str, max_train_minutes: float | None, max_steps: int | None, max_eval_rows: int | None
) -> None:
    """Materialize TENANT/DOMAIN's dataset, adapter and evaluation report."""
    out = run_partition(
        get_settings(),
        tenant,
        domain,
        max_train_minutes=max_train_minutes,
        max_steps=max_steps,
        max_eval_rows=max_eval_rows,
    )
    if not out["success"]:
        raise click.ClickException("the run failed:\n" + "\n".join(out["failures"]))
    print_learning(out)

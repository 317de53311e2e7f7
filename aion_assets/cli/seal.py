"""`aion seal run`: materialize one tenant/domain's dataset, adapter and evaluation from the shell.

Runs the same asset graph as the Dagster UI, in-process, against the persistent Dagster
instance under DAGSTER_HOME (default AION_HOME/dagster), so the run, its logs and its lineage
show up in `aion ui` afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from aion_assets.core.settings import get_settings

Echo = Callable[[str], Any]


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
        f"({adapter.get('tokens_per_s')} tokens/s, {adapter.get('precision')}, "
        f"stopped by {adapter.get('stopped_by')}), stored at {adapter.get('uri')}"
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


@click.group()
def seal() -> None:
    """The SEAL loop from the command line."""


@seal.command("run")
@click.option("--tenant", required=True, help="Tenant id.")
@click.option("--domain", required=True, help="Domain (the partition is TENANT/DOMAIN).")
@click.option("--max-train-minutes", type=click.FloatRange(min=0.1), default=None, help="Override the time budget.")
@click.option("--max-steps", type=click.IntRange(min=1), default=None, help="Override the step budget.")
@click.option("--max-eval-rows", type=click.IntRange(min=1), default=None,
              help="Evaluate at most N eval rows (the training's held-out loss reads the same N).")
def seal_run(
    tenant: str, domain: str, max_train_minutes: float | None, max_steps: int | None, max_eval_rows: int | None
) -> None:
    """Materialize TENANT/DOMAIN's dataset, adapter and evaluation report."""
    from aion_assets.runs import run_partition

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

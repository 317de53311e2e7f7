"""Materialize one tenant/domain partition of the SEAL loop in-process (the CLI, bench/ and the e2e test).

Runs the same asset graph as the Dagster UI, against the persistent Dagster instance under
DAGSTER_HOME (default AION_HOME/dagster), so the run, its logs and its lineage show up in
`aion ui` afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aion_assets.core.settings import Settings

Echo = Callable[[str], Any]


def dagster_env(settings: Any) -> dict[str, str]:
    """The environment for Dagster processes: DAGSTER_HOME defaults to AION_HOME/dagster."""
    env = dict(os.environ)
    if not env.get("DAGSTER_HOME"):
        home = settings.resolved_home / "dagster"
        home.mkdir(parents=True, exist_ok=True)
        env["DAGSTER_HOME"] = str(home)
    return env


GPU_POOL = "gpu"


def ensure_gpu_pool(dagster_home: str) -> None:
    """Give the instance at DAGSTER_HOME a ``gpu`` concurrency pool of 1 slot (idempotent)."""
    import dagster as dg

    with dg.DagsterInstance.from_config(dagster_home) as instance:
        instance.event_log_storage.set_concurrency_slots(GPU_POOL, 1)


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
) -> dict[str, Any]:
    """Materialize scrubbed_edits -> sft_dataset -> lora_adapter -> evaluation_report for one partition.

    Args:
        model_home: where converted base models are cached (default: AION_HOME).

    Returns:
        ``{"success", "run_id", "dataset", "adapter", "report", "checks"}`` with each asset's metadata.
    """
    import dagster as dg

    from aion_assets.definitions import default_resources, defs
    from aion_assets.memory.assets import interactions
    from aion_assets.seal.assets import evaluation_report, lora_adapter
    from aion_assets.seal.datasets.assets import scrubbed_edits, sft_dataset
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

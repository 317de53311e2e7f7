"""The code location through Dagster's own command line, as an operator uses it.

Protects: ``dagster asset materialize`` runs the scrub -> dataset chain (with its blocking checks)
headless from AION_* settings alone; ``aion ui`` (``dagster dev``) starts on loopback with
DAGSTER_HOME under AION_HOME, serves the code location (its GraphQL API lists the assets), and
gives the instance its ``gpu`` pool of one slot.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from aion_assets.core.db import make_engine
from aion_assets.memory.store import MemoryStore
from tests.conftest import Database
from tests.pipeline.conftest import seed
from tests.support import free_ports, log_tail

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, database: Database) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AION_", "DAGSTER_"))}
    env.update(
        {
            "AION_HOME": str(tmp_path / "aion"),
            "AION_DATABASE_URL": database.url,
            "AION_ARTIFACTS_URI": (tmp_path / "artifacts").as_uri(),
            "PYTHONPATH": str(ROOT),
            "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": "",
            "HF_HUB_OFFLINE": "1",
        }
    )
    return env


@pytest.mark.slow
def test_dagster_asset_materialize_headless(tmp_path: Path, sqlite_database: Database, tenant: str) -> None:
    import dagster as dg

    seed(MemoryStore(make_engine(sqlite_database.url, pool_size=1)), tenant, 12, domain="support")
    env = _env(tmp_path, sqlite_database)
    env["DAGSTER_HOME"] = str(tmp_path / "dagster")
    Path(env["DAGSTER_HOME"]).mkdir()
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        instance.add_dynamic_partitions("tenant_domains", [f"{tenant}/support"])
    cmd = [
        sys.executable, "-m", "dagster", "asset", "materialize", "-m", "aion_assets.definitions",
        "--select", "seal/tenant_vocabulary,memory/scrubbed_edits,seal/sft_dataset", "--partition", f"{tenant}/support",
    ]
    done = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    datasets = list((tmp_path / "artifacts" / "datasets" / tenant / "support").glob("*/train.jsonl"))
    assert len(datasets) == 1
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        record = instance.get_latest_materialization_event(dg.AssetKey(["seal", "sft_dataset"]))
        assert record is not None and record.asset_materialization is not None
        assert record.asset_materialization.metadata["rows_total"].value == 12


@pytest.mark.slow
def test_aion_ui_serves_the_code_location(tmp_path: Path, sqlite_database: Database) -> None:
    (port,) = free_ports(1)
    env = _env(tmp_path, sqlite_database)
    log = tmp_path / "dagster-dev.log"
    code = f"from aion_assets.cli.pipeline import ui; ui(['--port', '{port}'])"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-c", code], env=env, cwd=tmp_path, stdout=fh, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    query = "{ assetNodes { assetKey { path } } }"
    keys: list[str] = []
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"aion ui exited with {proc.returncode}:\n{log_tail(log)}"
            with contextlib.suppress(httpx.HTTPError):
                reply = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": query}, timeout=5)
                nodes = (reply.json().get("data") or {}).get("assetNodes") or []
                keys = sorted("/".join(n["assetKey"]["path"]) for n in nodes)
                if keys:
                    break
            time.sleep(1)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    assert keys == [
        "memory/interaction_archive",
        "memory/interactions",
        "memory/scrubbed_edits",
        "registry/route_table",
        "seal/evaluation_report",
        "seal/lora_adapter",
        "seal/promotion_decision",
        "seal/sft_dataset",
        "seal/tenant_vocabulary",
    ], log_tail(log)
    home = tmp_path / "aion" / "dagster"
    assert home.is_dir()

    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.event_log_storage.get_concurrency_info("gpu").slot_count == 1

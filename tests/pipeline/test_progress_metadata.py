"""Protects: training progress in the Dagster run (logs and asset metadata) and on the CLI display.

``seal/lora_adapter`` trained 60 steps on a tiny random Llama through ``dg.materialize``: the
run's log holds about 20-50 ``step S/60: loss L, T tokens/s`` lines (step 1, every third step and
the last), each the loss the metadata's series holds for that step; the metadata holds the whole
series (one point per optimizer step), the steps that got a line, the stop reason, tokens/s and
the loss curve rendered as an inline SVG plot; and the same in-process run feeds every step to a
progress display (as ``aion seal run`` does), which writes its plain lines when not on a terminal.
SQLite + a local artifact folder only: the stores are covered on both backends elsewhere.
"""

from __future__ import annotations

import base64
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from aion_assets.memory.assets import interactions
from aion_assets.memory.store import MemoryStore
from aion_assets.runs import ProgressDisplay, showing_progress
from aion_assets.seal.assets import lora_adapter
from aion_assets.seal.datasets import assets as dataset_assets
from aion_assets.seal.definitions import build_definitions
from aion_assets.seal.partitions import TENANT_DOMAINS
from aion_assets.seal.resources import SealResource
from tests.conftest import Database
from tests.pipeline.conftest import Backend, seed
from tests.seal.conftest import build_tiny_llama

pytestmark = pytest.mark.filterwarnings("ignore::dagster.PreviewWarning")

_SEAL = build_definitions()
ALL = [interactions, *(_SEAL.assets or []), *(_SEAL.asset_checks or [])]
STEPS = 60
STEP_LINE = re.compile(r"^step (\d+)/(\d+): loss (\d+\.\d{4}), (\d+) tokens/s$")


@pytest.fixture
def backend(sqlite_database: Database, tmp_path: Path) -> Iterator[Backend]:
    """SQLite and a local artifact folder."""
    yield Backend("sqlite", sqlite_database, (tmp_path / "artifacts").as_uri(), None)


@pytest.fixture
def seal_resource(tmp_path: Path) -> SealResource:
    """The tiny Llama as the only base model, trained in fp32 with a generous time budget."""
    base = build_tiny_llama(tmp_path / "tiny-llama")
    hp = {
        "r": 4,
        "alpha": 8,
        "target_modules": ["q_proj", "v_proj"],
        "top_layers": 1,  # of the tiny Llama's 2 blocks: the frozen one is cached per row
        "max_steps": 2,
        "max_train_minutes": 10,
        "batch_size": 4,
        "max_seq_len": 96,
        "precision": "fp32",
    }
    path = tmp_path / "seal.yaml"
    config = {"base_models": {"tiny": {"path": str(base)}}, "defaults": {"base_model": "tiny", "hyperparameters": hp}}
    path.write_text(yaml.safe_dump(config))
    (tmp_path / "scenarios").mkdir()
    return SealResource(
        config_path=str(path), home=str(tmp_path / "home"), scenarios_dir=str(tmp_path / "scenarios"), adapter_key=None
    )


def test_training_progress_reaches_the_run_log_the_metadata_and_the_display(
    backend: Backend, seal_resource: SealResource, tenant: str
) -> None:
    engine = backend.engine()
    seed(MemoryStore(engine), tenant, 16, domain="support")
    engine.dispose()
    partition = f"{tenant}/support"
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(TENANT_DOMAINS, [partition])
    dg.materialize([interactions], resources=backend.resources(), instance=instance)

    shown = io.StringIO()
    with showing_progress(ProgressDisplay(shown)):  # not a terminal: plain lines
        result = dg.materialize(
            ALL,
            selection=[*dataset_assets.assets, lora_adapter],
            partition_key=partition,
            resources={**backend.resources(), "seal": seal_resource},
            instance=instance,
            run_config={"ops": {"seal__lora_adapter": {"config": {"max_steps": STEPS, "max_eval_rows": 1}}}},
            raise_on_error=False,
        )
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    (mat,) = result.asset_materializations_for_node(lora_adapter.op.name)
    meta: dict[str, Any] = {k: v.value for k, v in mat.metadata.items()}

    # The whole series: one point per optimizer step; the run's summary figures beside it.
    points = [(int(s), float(v)) for s, v in meta["loss_curve_points"]]
    assert [s for s, _ in points] == list(range(1, STEPS + 1))
    assert meta["steps"] == STEPS and meta["stopped_by"] == "max_steps" and meta["tokens_per_s"] > 0
    assert meta["tokens"] > 0
    # The held-out loss reads the evaluation's row budget, not every held-out row of the dataset.
    (dataset,) = result.asset_materializations_for_node(dataset_assets.sft_dataset.op.name)
    rows_eval = int(dataset.metadata["rows_eval"].value)  # type: ignore[call-overload]
    assert rows_eval >= 2, rows_eval  # so that the budget below does leave rows out
    assert meta["eval_loss_rows"] == 1 and meta["eval_loss"] > 0
    cache = meta["frozen_cache"]
    assert cache["active"] and cache["start_block"] == 1 and cache["row_visits_from_cache"] > 0, cache

    # The run's log: a line for step 1, every third step and the last; each with the series' loss.
    messages = [e.user_message for e in instance.all_logs(result.run_id) if e.dagster_event is None]
    lines = {int(m.group(1)): m for msg in messages if (m := STEP_LINE.match(msg))}
    assert sorted(lines) == meta["logged_steps"]
    assert 20 <= len(lines) <= 50
    assert {1, *range(3, STEPS + 1, 3)} <= set(lines)  # (a stalled step may add a line by time)
    loss_at = dict(points)
    for step, m in lines.items():
        assert int(m.group(2)) == STEPS and int(m.group(4)) > 0
        assert float(m.group(3)) == pytest.approx(loss_at[step], abs=1e-4)
    assert f"training stopped by max_steps after {STEPS} steps" in "\n".join(messages)

    # The plot: markdown holding an SVG whose line has one vertex per point of the series.
    match = re.search(r"\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)", meta["loss_curve"])
    assert match, meta["loss_curve"]
    svg = ET.fromstring(base64.b64decode(match.group(1)))
    (polyline,) = svg.iter("{http://www.w3.org/2000/svg}polyline")
    assert len(polyline.attrib["points"].split()) == STEPS

    # The display got every step from the in-process run: a line per tenth and the end.
    training = [line for line in shown.getvalue().splitlines() if line.startswith("training:")]
    assert training[0].startswith(f"training: 1/{STEPS} (2%), loss ")
    assert training[-1].startswith(f"training: {STEPS}/{STEPS} (100%)") and training[-1].endswith(" done")
    assert len(training) == 11

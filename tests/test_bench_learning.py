"""Protects bench/bench_learning.py's parts that run without the model (issue 15): the stranger domain
gets its house style as its tenant would configure it (and nothing else changes), the examples file
shows good and wrong answers, the targets table says met / NOT met per domain, and ``--one-core``
really pins the process and the processes it starts to one CPU and one torch thread.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench import bench_learning
from bench.bench_learning import DEFAULT_DOMAINS, pick_examples, seal_config_with_style, with_precision

ROOT = Path(__file__).resolve().parent.parent


def test_the_third_domain_is_benchmarked_by_default() -> None:
    assert "velocia/service" in DEFAULT_DOMAINS


def test_a_domain_without_style_gets_its_own_and_nothing_else_changes(tmp_path: Path) -> None:
    from aion_assets.core.settings import CONFIG_DIR
    from aion_assets.demo.domains import generate_domain
    from aion_assets.seal.config import load_seal_config

    source = CONFIG_DIR / "seal.yaml"
    original = yaml.safe_load(source.read_text())
    overlay = seal_config_with_style(source, "velocia/service")
    (tmp_path / "seal.yaml").write_text(yaml.safe_dump(overlay))
    config, shipped = load_seal_config(tmp_path / "seal.yaml"), load_seal_config(source)
    assert config.style_for("velocia", "service") == generate_domain("velocia/service").style
    for tenant, domain in (("velocia", "service"), ("acme", "support"), ("globex", "billing")):
        assert config.hyperparameters_for(tenant, domain) == shipped.hyperparameters_for(tenant, domain)
        assert config.evaluation_for(tenant, domain) == shipped.evaluation_for(tenant, domain)
    # A domain that has a style keeps the file exactly as it was.
    assert seal_config_with_style(source, "acme/support") == original


def test_precision_fp32_reaches_every_partition_and_changes_nothing_else(tmp_path: Path) -> None:
    from aion_assets.core.settings import CONFIG_DIR
    from aion_assets.seal.config import load_seal_config

    source = CONFIG_DIR / "seal.yaml"
    raw = seal_config_with_style(source, "velocia/service")
    # A domain and a tenant that pinned their own precision.
    raw["tenants"]["acme"]["domains"]["support"]["hyperparameters"] = {"precision": "bf16"}
    raw["tenants"]["globex"]["hyperparameters"] = {**raw["tenants"]["globex"]["hyperparameters"], "precision": "bf16"}
    before = yaml.safe_dump(raw)
    forced = with_precision(raw, "fp32")
    assert yaml.safe_dump(raw) == before  # the input is left as it was
    (tmp_path / "in.yaml").write_text(before)
    (tmp_path / "out.yaml").write_text(yaml.safe_dump(forced))
    given, got = load_seal_config(tmp_path / "in.yaml"), load_seal_config(tmp_path / "out.yaml")
    for tenant, domain in (("velocia", "service"), ("acme", "support"), ("globex", "billing")):
        hp = got.hyperparameters_for(tenant, domain)
        assert hp.precision == "fp32", (tenant, domain)
        assert hp.model_copy(update={"precision": "auto"}) == given.hyperparameters_for(tenant, domain).model_copy(
            update={"precision": "auto"}
        )


def _ex(i: int, recall: float | None, role: str = "candidate") -> dict[str, object]:
    return {"id": f"q{i}", "source": "eval", "role": role, "fact_recall": recall}


@pytest.mark.parametrize(
    ("recalls", "expected"),
    [
        ([0.2, 1.0, 0.5, 1.0, 1.0, 0.0], [("q1", "good"), ("q3", "good"), ("q0", "wrong")]),
        ([0.6, 0.7], []),
        ([None, 1.0], [("q1", "good")]),
    ],
)
def test_examples_are_good_and_wrong_answers(recalls: list[float | None], expected: list[tuple[str, str]]) -> None:
    examples = [_ex(i, r) for i, r in enumerate(recalls)] + [_ex(0, 1.0, role="baseline")]
    assert pick_examples(examples) == expected


def test_one_core_pins_the_process_and_its_children() -> None:
    code = (
        "import json; from bench._cpu import pin_one_core, pinning_state; pin_one_core(0); "
        "print(json.dumps(pinning_state()))"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    state = json.loads(out.stdout.strip().splitlines()[-1])
    assert state["cpus"] == [0] and state["threads"] == 1
    assert state["child"] == {"cpus": [0], "threads": 1}


def test_one_core_refuses_to_pin_after_torch_was_imported() -> None:
    code = "import torch; from bench._cpu import pin_one_core; pin_one_core(0)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode != 0 and "before torch is imported" in out.stderr


def _run(steps: int, facts: float, body: float, style: float, base_body: float = 0.1) -> dict[str, Any]:
    metrics = {
        "baseline": {"rougeL_body": base_body, "fact_recall": 0.0, "style": 0.0},
        "control": {"rougeL_body": base_body, "fact_recall": 0.0, "style": 1.0},
        "candidate": {"rougeL_body": body, "fact_recall": facts, "style": style},
    }
    return {
        "success": True,
        "adapter": {"steps": steps},
        "report": {"summary": {"models": {k: {"metrics": v} for k, v in metrics.items()}}},
    }


def test_targets_table_says_met_and_not_met_per_domain() -> None:
    results = {
        "acme/support": _run(134, 0.52, 0.86, 1.0),
        "velocia/service": _run(55, 0.21, 0.25, 0.917),
        "broken/domain": {"success": False},
    }
    two = bench_learning.targets_md(results, one_core=False).splitlines()
    assert "key-fact recall >= 0.50" in two[0]
    acme = next(line for line in two if line.startswith("| acme/support"))
    assert "0.520: met" in acme and "8.6x: met" in acme and "1.000: met" in acme and "NOT" not in acme
    velocia = next(line for line in two if line.startswith("| velocia/service"))
    assert "0.210: **NOT met**" in velocia and "2.5x: **NOT met**" in velocia and "0.917: **NOT met**" in velocia
    assert "0.250 vs 0.100: met" in velocia
    assert any(line.startswith("| broken/domain") and "run failed" in line for line in two)
    one = bench_learning.targets_md({"velocia/service": _run(55, 0.31, 0.8, 1.0)}, one_core=True)
    assert "key-fact recall >= 0.30" in one and "0.310: met" in one

"""Protects the GPU training path (bf16, accelerate, DeepSpeed ZeRO-2 with several GPUs) on real
GPUs. Skipped where CUDA is not available; the CPU tests cover the same code by construction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from aion_assets.seal.config import HyperParameters
from aion_assets.seal.training.train import detect_devices, train_lora

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (none available)"),
]


def test_trains_on_one_gpu(tiny_llama: Path, sft_rows: list[dict[str, Any]], tmp_path: Path) -> None:
    devices = detect_devices()
    assert devices.n_gpus >= 1
    hp = HyperParameters(max_steps=30, batch_size=4, learning_rate=2e-2, dropout=0.0)
    # One visible GPU: plain accelerate, no DeepSpeed, bf16 where the GPU supports it.
    from dataclasses import replace

    one = replace(devices, n_gpus=1)
    result = train_lora(tiny_llama, sft_rows, sft_rows[:4], hp, tmp_path / "a", devices=one)
    assert result.precision == ("bf16" if devices.gpu_bf16 else "fp32")
    assert result.extra["zero_stage"] is None
    assert sum(v for _, v in result.loss_curve[-5:]) / 5 < result.loss_curve[0][1]
    assert (tmp_path / "a" / "adapter_model.safetensors").is_file()


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs at least 2 CUDA GPUs for DeepSpeed ZeRO-2")
def test_zero2_on_several_gpus(tmp_path: Path) -> None:
    import subprocess
    import sys

    from aion_assets.seal.training.train_args import launch_command

    sys.path.insert(0, str(Path(__file__).parent))
    from tests.seal.conftest import build_tiny_llama, make_rows

    model = build_tiny_llama(tmp_path / "m")
    (tmp_path / "train.jsonl").write_text("\n".join(json.dumps(r) for r in make_rows()))
    (tmp_path / "hp.json").write_text(json.dumps({"max_steps": 6, "batch_size": 2}))
    n = torch.cuda.device_count()
    cmd = launch_command(
        [
            "--base-model",
            str(model),
            "--train",
            str(tmp_path / "train.jsonl"),
            "--hyperparameters",
            str(tmp_path / "hp.json"),
            "--output-dir",
            str(tmp_path / "out"),
            "--result-json",
            str(tmp_path / "r.json"),
        ],
        n,
    )
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=root,
        env={**__import__("os").environ, "PYTHONPATH": str(root)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["extra"] == {"world_size": n, "distributed_type": "DEEPSPEED", "zero_stage": 2}

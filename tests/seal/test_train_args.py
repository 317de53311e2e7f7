"""Protects the hardware-dependent training set-up without needing the hardware: the
TrainingArguments for 0, 1 and 4 GPUs (DeepSpeed ZeRO-2 exactly with several), the shipped
DeepSpeed / accelerate configs, the accelerate launch command, and real DeepSpeed ZeRO-2 runs
on DeepSpeed's CPU accelerator (one process, and two processes through `accelerate launch`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aion_assets.seal.config import HyperParameters
from aion_assets.seal.training.train_args import (
    ACCELERATE_MULTI_GPU_CONFIG,
    DEEPSPEED_ZERO2_CONFIG,
    DeviceInfo,
    build_training_arguments,
    launch_command,
    planned_steps,
    resolve_precision,
    training_arguments_kwargs,
)

ROOT = Path(__file__).resolve().parents[2]
HP = HyperParameters()


@pytest.mark.parametrize(
    ("devices", "precision", "deepspeed", "use_cpu"),
    [
        (DeviceInfo(n_gpus=0, cpu_bf16=True), "bf16", None, True),
        (DeviceInfo(n_gpus=0, cpu_bf16=False), "fp32", None, True),
        (DeviceInfo(n_gpus=1, gpu_bf16=True), "bf16", None, False),
        (DeviceInfo(n_gpus=1, gpu_bf16=False), "fp32", None, False),
        (DeviceInfo(n_gpus=4, gpu_bf16=True), "bf16", str(DEEPSPEED_ZERO2_CONFIG), False),
    ],
)
def test_arguments_per_hardware(
    devices: DeviceInfo, precision: str, deepspeed: str | None, use_cpu: bool
) -> None:
    kw = training_arguments_kwargs(HP, devices, Path("/tmp/work"), n_examples=480)
    assert resolve_precision(HP, devices) == precision
    assert kw["bf16"] is (precision == "bf16") and kw["fp16"] is False
    assert kw.get("deepspeed") == deepspeed
    assert kw["use_cpu"] is use_cpu
    assert kw["per_device_train_batch_size"] == 8 and kw["learning_rate"] == 1e-3
    assert kw["save_strategy"] == "no" and kw["report_to"] == "none" and kw["logging_steps"] == 1
    assert kw["ddp_find_unused_parameters"] is (False if devices.n_gpus > 1 else None)


def test_explicit_precision_wins() -> None:
    assert resolve_precision(HyperParameters(precision="fp32"), DeviceInfo(n_gpus=2, gpu_bf16=True)) == "fp32"
    assert resolve_precision(HyperParameters(precision="bf16"), DeviceInfo()) == "bf16"


def test_step_bound_is_whichever_comes_first() -> None:
    cpu = DeviceInfo()
    assert (
        planned_steps(HyperParameters(epochs=2, max_steps=None), 100, cpu) == 26
    )  # ceil(100/8)=13 per epoch
    assert planned_steps(HyperParameters(epochs=2, max_steps=10), 100, cpu) == 10
    assert planned_steps(HyperParameters(epochs=2, max_steps=None), 100, DeviceInfo(n_gpus=4)) == 8
    assert planned_steps(HyperParameters(epochs=None, max_steps=None, max_train_minutes=1), 100, cpu) >= 10**6


def test_training_arguments_build_on_this_machine(tmp_path: Path) -> None:
    # TrainingArguments probes the hardware, so only fp32 is constructible for GPUs on a CPU box.
    fp32 = HyperParameters(precision="fp32")
    cpu_args = build_training_arguments(HP, DeviceInfo(n_gpus=0, cpu_bf16=True), tmp_path)
    assert cpu_args.use_cpu and cpu_args.bf16 and cpu_args.deepspeed is None
    one = build_training_arguments(fp32, DeviceInfo(n_gpus=1), tmp_path)
    assert one.deepspeed is None
    four = build_training_arguments(fp32, DeviceInfo(n_gpus=4), tmp_path)
    assert four.deepspeed == str(DEEPSPEED_ZERO2_CONFIG)
    ds = four.hf_deepspeed_config.config
    assert ds["zero_optimization"]["stage"] == 2
    assert ds["train_micro_batch_size_per_gpu"] == 8 and ds["gradient_clipping"] == 1.0


def test_shipped_configs_agree() -> None:
    ds = json.loads(DEEPSPEED_ZERO2_CONFIG.read_text())
    assert ds["zero_optimization"]["stage"] == 2
    # "auto" lets the Trainer fill these from the hyperparameters, so they cannot disagree.
    for key in ("train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "gradient_clipping"):
        assert ds[key] == "auto"
    assert ds["bf16"]["enabled"] == "auto"
    acc = yaml.safe_load(ACCELERATE_MULTI_GPU_CONFIG.read_text())
    assert acc["distributed_type"] == "DEEPSPEED"
    assert (ROOT / acc["deepspeed_config"]["deepspeed_config_file"]).resolve() == DEEPSPEED_ZERO2_CONFIG


def test_launch_command_parses_with_accelerate() -> None:
    from accelerate.commands.launch import launch_command_parser

    cmd = launch_command(
        ["--base-model", "/m", "--train", "t.jsonl", "--output-dir", "/o"], 4, main_process_port=29999
    )
    assert cmd[1] == "launch" and Path(cmd[0]).name == "accelerate"
    args = launch_command_parser().parse_args(cmd[2:])
    assert args.num_processes == 4 and args.config_file == str(ACCELERATE_MULTI_GPU_CONFIG)
    assert args.deepspeed_config_file == str(DEEPSPEED_ZERO2_CONFIG)
    assert args.module and args.training_script == "aion_assets.seal.training.train"
    assert args.training_script_args == ["--base-model", "/m", "--train", "t.jsonl", "--output-dir", "/o"]


_ONE_PROCESS = """
import json, os, sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from conftest import build_tiny_llama, make_rows
from aion_assets.seal.config import HyperParameters
from aion_assets.seal.training.train import DEEPSPEED_ZERO2_CONFIG, DeviceInfo, train_lora
d = Path({tmp!r})
model = build_tiny_llama(d / "m")
hp = HyperParameters(max_steps=6, batch_size=4, learning_rate=2e-2, precision="bf16", dropout=0.0)
r = train_lora(model, make_rows(), None, hp, d / "out", devices=DeviceInfo(cpu_bf16=True),
               deepspeed_config=DEEPSPEED_ZERO2_CONFIG)
print("RESULT " + json.dumps(r.as_dict()))
"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    return dict(
        os.environ, DS_ACCELERATOR="cpu", PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1"
    )


@pytest.mark.slow
def test_deepspeed_zero2_trains_on_the_cpu_accelerator(tmp_path: Path) -> None:
    env = _env() | {
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(_free_port()),
        "RANK": "0",
        "LOCAL_RANK": "0",
        "WORLD_SIZE": "1",
    }
    script = _ONE_PROCESS.format(tests=str(Path(__file__).parent), tmp=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.split("RESULT ", 1)[1])
    assert result["extra"]["distributed_type"] == "DEEPSPEED" and result["extra"]["zero_stage"] == 2
    assert result["steps"] == 6
    assert result["loss_curve"][-1][1] < result["loss_curve"][0][1]
    assert (tmp_path / "out" / "adapter_model.safetensors").is_file()


@pytest.mark.slow
def test_two_process_zero2_through_accelerate_launch(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from tests.seal.conftest import build_tiny_llama, make_rows

    model = build_tiny_llama(tmp_path / "m")
    (tmp_path / "train.jsonl").write_text("\n".join(json.dumps(r) for r in make_rows()))
    (tmp_path / "hp.json").write_text(json.dumps({"max_steps": 4, "batch_size": 2, "precision": "fp32"}))
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
        2,
        main_process_port=_free_port(),
    )
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "r.json").read_text())
    distributed = {k: result["extra"][k] for k in ("world_size", "distributed_type", "zero_stage")}
    assert distributed == {"world_size": 2, "distributed_type": "DEEPSPEED", "zero_stage": 2}
    assert result["steps"] == 4
    assert (tmp_path / "out" / "adapter_model.safetensors").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]

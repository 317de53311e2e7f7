"""Hardware -> training arguments: precision, accelerate, DeepSpeed ZeRO-2 with several GPUs.

`training_arguments_kwargs` is a pure function of the hyperparameters and a `DeviceInfo`, so
the GPU and multi-GPU set-ups are tested on a machine without GPUs; `detect_devices` is the
only part that looks at the hardware.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aion_assets.core.settings import CONFIG_DIR
from aion_assets.seal.config import HyperParameters

if TYPE_CHECKING:
    from transformers import TrainingArguments

DEEPSPEED_ZERO2_CONFIG = CONFIG_DIR / "deepspeed_zero2.json"
ACCELERATE_MULTI_GPU_CONFIG = CONFIG_DIR / "accelerate_multi_gpu.yaml"
#: Used when neither epochs nor max_steps bound a run: the time budget ends it.
UNBOUNDED_STEPS = 1_000_000


@dataclass(frozen=True)
class DeviceInfo:
    """What training can use: CUDA GPUs visible to this process, and bf16 support."""

    n_gpus: int = 0
    gpu_bf16: bool = False
    cpu_bf16: bool = False

    @property
    def use_deepspeed(self) -> bool:
        """DeepSpeed ZeRO-2 shards optimizer state and gradients: worth it with several GPUs."""
        return self.n_gpus > 1


def _cpu_has_native_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    # Without AVX512-BF16 / AMX, bf16 autocast on CPU is emulated and slower than fp32.
    return " avx512_bf16" in flags or " amx_bf16" in flags


def detect_devices() -> DeviceInfo:
    """Probe CUDA and CPU capabilities of this process."""
    import torch

    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return DeviceInfo(
        n_gpus=n,
        gpu_bf16=bool(n and torch.cuda.is_bf16_supported()),
        cpu_bf16=_cpu_has_native_bf16(),
    )


def resolve_precision(hp: HyperParameters, devices: DeviceInfo) -> str:
    """``"bf16"`` (autocast, fp32 master weights) or ``"fp32"``, from hp.precision and the hardware."""
    if hp.precision != "auto":
        return hp.precision
    if devices.n_gpus:
        return "bf16" if devices.gpu_bf16 else "fp32"
    # Measured on 2 Xeon cores with AMX: fp32 ~167 tokens/s, bf16 autocast ~215 (issue 7).
    return "bf16" if devices.cpu_bf16 else "fp32"


def planned_steps(hp: HyperParameters, n_examples: int | None, devices: DeviceInfo) -> int:
    """Optimizer steps the run may take: the smaller of max_steps and the epochs' steps."""
    bounds = []
    if hp.max_steps is not None:
        bounds.append(hp.max_steps)
    if hp.epochs is not None and n_examples is not None:
        per_step = hp.batch_size * hp.grad_accum * max(1, devices.n_gpus)
        bounds.append(max(1, math.ceil(hp.epochs * math.ceil(n_examples / per_step))))
    return min(bounds) if bounds else UNBOUNDED_STEPS


def training_arguments_kwargs(
    hp: HyperParameters,
    devices: DeviceInfo,
    output_dir: Path,
    *,
    n_examples: int | None = None,
    deepspeed_config: Path | dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The keyword arguments of `transformers.TrainingArguments` for one run (pure).

    Args:
        hp: validated hyperparameters.
        devices: the hardware (see `detect_devices`).
        output_dir: the Trainer's scratch folder (nothing is checkpointed there).
        n_examples: training rows, to turn ``epochs`` into a step bound.
        deepspeed_config: force this DeepSpeed config; by default the shipped ZeRO-2 config
            is used exactly when there are several GPUs.
    """
    precision = resolve_precision(hp, devices)
    if deepspeed_config is None and devices.use_deepspeed:
        deepspeed_config = DEEPSPEED_ZERO2_CONFIG
    kwargs: dict[str, Any] = {
        "output_dir": str(output_dir),
        "per_device_train_batch_size": hp.batch_size,
        "per_device_eval_batch_size": hp.batch_size,
        "gradient_accumulation_steps": hp.grad_accum,
        "learning_rate": hp.learning_rate,
        "lr_scheduler_type": hp.lr_scheduler,
        "warmup_steps": hp.warmup_steps,
        "weight_decay": hp.weight_decay,
        "max_grad_norm": 1.0,
        "optim": "adamw_torch",
        # Step-bounded always: epochs are converted to steps so "whichever comes first" holds.
        "max_steps": planned_steps(hp, n_examples, devices),
        "seed": hp.seed,
        "data_seed": hp.seed,
        "bf16": precision == "bf16",
        "fp16": False,
        "use_cpu": devices.n_gpus == 0,
        "logging_strategy": "steps",
        "logging_steps": 1,
        "save_strategy": "no",
        "eval_strategy": "no",
        "report_to": "none",
        "disable_tqdm": True,
        "remove_unused_columns": False,
        "dataloader_num_workers": 0,
        "dataloader_pin_memory": devices.n_gpus > 0,
        "ddp_find_unused_parameters": False if devices.n_gpus > 1 else None,
    }
    if deepspeed_config is not None:
        kwargs["deepspeed"] = (
            str(deepspeed_config) if isinstance(deepspeed_config, Path) else deepspeed_config
        )
    return kwargs


def build_training_arguments(
    hp: HyperParameters,
    devices: DeviceInfo,
    output_dir: Path,
    *,
    n_examples: int | None = None,
    deepspeed_config: Path | dict[str, Any] | None = None,
) -> TrainingArguments:
    """`TrainingArguments` from `training_arguments_kwargs` (DeepSpeed set when n_gpus > 1)."""
    from transformers import TrainingArguments

    return TrainingArguments(
        **training_arguments_kwargs(
            hp, devices, output_dir, n_examples=n_examples, deepspeed_config=deepspeed_config
        )
    )


def launch_command(
    train_args: list[str],
    n_gpus: int,
    *,
    config_file: Path = ACCELERATE_MULTI_GPU_CONFIG,
    deepspeed_config: Path = DEEPSPEED_ZERO2_CONFIG,
    main_process_port: int | None = None,
) -> list[str]:
    """The ``accelerate launch`` command that runs ``python -m aion_assets.seal.training.train`` on N GPUs.

    Args:
        train_args: arguments of the training CLI (see ``python -m aion_assets.seal.training.train --help``).
        n_gpus: processes to start, one per GPU.
        config_file: the accelerate config (DeepSpeed ZeRO-2 by default).
        deepspeed_config: the DeepSpeed JSON, passed as an absolute path so the launch works
            from any working directory.
        main_process_port: rendezvous port, when the default 29500 is taken.
    """
    # The `accelerate` script of this interpreter's environment, so the launch uses the same venv.
    script = Path(sys.executable).parent / "accelerate"
    cmd = [
        str(script) if script.exists() else "accelerate",
        "launch",
        "--config_file",
        str(config_file),
        "--num_processes",
        str(n_gpus),
        "--deepspeed_config_file",
        str(Path(deepspeed_config).resolve()),
    ]
    if main_process_port is not None:
        cmd += ["--main_process_port", str(main_process_port)]
    return [*cmd, "-m", "aion_assets.seal.training.train", *train_args]

"""What the learning benchmarks say about the CPU: its bf16 support, and the one-core emulation.

``pin_one_core`` emulates a machine half as fast (issue 15): ``taskset -c 0`` semantics for this
process and every process it starts (Linux children inherit the CPU affinity), one OpenMP / MKL
thread through the environment (read by torch when it is first imported, and by any child
Python), and ``torch.set_num_threads(1)``. It must run before anything imports torch, or the
thread pools torch sized at import stay as they were; it refuses to run late.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

#: The environment variables that size the thread pools of torch, OpenMP and MKL.
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def cpu_bf16_label() -> str:
    """The CPU's bf16 support in the words of the figures (the product's own detection, `detect_devices`)."""
    from aion_assets.seal.training.train_args import _cpu_has_native_bf16

    return "native bf16 (AVX512-BF16 or AMX)" if _cpu_has_native_bf16() else "no native bf16 (training in fp32)"


def pin_one_core(cpu: int = 0) -> None:
    """Pin this process (and what it starts) to CPU and one thread, as ``taskset -c CPU`` plus one torch thread.

    Raises:
        RuntimeError: torch was imported already (its thread pools would keep their size).
    """
    if "torch" in sys.modules:
        raise RuntimeError("pin_one_core must run before torch is imported")
    for name in THREAD_ENV:
        os.environ[name] = "1"
    os.sched_setaffinity(0, {cpu})
    import torch

    torch.set_num_threads(1)


def pinning_state() -> dict[str, Any]:
    """The CPUs and threads this process and a child process it starts really have (to print beside figures)."""
    import torch

    probe = (
        "import os, json, torch; "
        "print(json.dumps({'cpus': sorted(os.sched_getaffinity(0)), 'threads': torch.get_num_threads()}))"
    )
    child = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    return {
        "cpus": sorted(os.sched_getaffinity(0)),
        "threads": torch.get_num_threads(),
        "child": json.loads(child.stdout.strip().splitlines()[-1]),
        "env": {k: os.environ.get(k) for k in THREAD_ENV},
    }


def describe_pinning(state: dict[str, Any]) -> str:
    """One line for the report: what the process and its children ran on."""
    return (
        f"process on CPU(s) {state['cpus']} with {state['threads']} torch thread(s); a child process it starts "
        f"sees CPU(s) {state['child']['cpus']} and {state['child']['threads']} torch thread(s)"
    )

"""Protects: bench_profile's attribution of operator time to phases and kinds, and its table (pure parts)."""

from __future__ import annotations

import pytest

from bench.bench_profile import KINDS, OpTime, breakdown, kind_of, phase_of, table_markdown

R = 16


def op(name: str, *ancestors: str, shapes: tuple[tuple[int, ...], ...] = (), us: float = 1e6) -> OpTime:
    return OpTime(name, tuple(ancestors), shapes, us)


def test_phase_follows_the_autograd_engine_and_the_optimizer_step() -> None:
    assert phase_of(op("aten::mm", "aten::linear", "nn.Module: Linear")) == "forward"
    assert phase_of(op("aten::mm", "MmBackward0", "autograd::engine::evaluate_function: MmBackward0")) == "backward"
    assert phase_of(op("aten::_foreach_mul_", "Optimizer.step#AdamW.step")) == "optimizer"
    assert phase_of(op("aten::zero_", "Optimizer.zero_grad#AdamW.zero_grad")) == "optimizer"


def test_kind_tells_lora_from_frozen_matmuls_by_the_rank_and_finds_attention_both_ways() -> None:
    lora_a = op("aten::mm", "aten::linear", shapes=((1200, 576), (576, R)))
    lora_b = op("aten::mm", "aten::linear", shapes=((1200, R), (R, 576)))
    frozen = op("aten::addmm", "aten::linear", shapes=((576,), (1200, 576), (576, 1536)))
    assert kind_of(lora_a, R) == kind_of(lora_b, R) == "LoRA matmuls"
    assert kind_of(frozen, R) == "frozen-weight matmuls"
    assert kind_of(op("aten::_scaled_dot_product_flash_attention_for_cpu"), R) == "attention"
    back = op("aten::_scaled_dot_product_flash_attention_for_cpu_backward",
              "autograd::engine::evaluate_function: ScaledDotProductFlashAttentionForCpuBackward0")
    assert kind_of(back, R) == "attention" and phase_of(back) == "backward"
    # a copy inside attention's backward is attention's time too
    assert kind_of(op("aten::copy_", "ScaledDotProductFlashAttentionForCpuBackward0"), R) == "attention"
    assert kind_of(op("aten::rms_norm"), R) == "the rest"


def test_breakdown_sums_self_time_per_cell_and_the_table_shows_what_is_outside_operators() -> None:
    ops = [
        op("aten::mm", shapes=((10, 576), (576, R)), us=1.5e6),
        op("aten::mm", "autograd::engine::evaluate_function: MmBackward0", shapes=((10, 576), (576, 576)), us=2e6),
        op("aten::_foreach_add_", "Optimizer.step#AdamW.step", us=0.5e6),
    ]
    cells = breakdown(ops, R)
    assert cells == {("forward", "LoRA matmuls"): 1.5, ("backward", "frozen-weight matmuls"): 2.0,
                     ("optimizer", "the rest"): 0.5}
    table = table_markdown(cells, wall_s=5.0)
    assert "| all operators | 1.50 s (30%) | 2.00 s (40%) | 0.50 s (10%) | **4.00 s (80%)** |" in table
    assert "| outside operators (Python, data, Trainer) | | | | 1.00 s (20%) |" in table
    assert all(f"| {k} |" in table for k in KINDS)


@pytest.mark.parametrize("argv", [["--warmup", "0"], ["--active", "0"]])
def test_the_command_refuses_empty_windows(argv: list[str]) -> None:
    from bench.bench_profile import main

    with pytest.raises(SystemExit) as exc:
        main(["--no-write", *argv])
    assert exc.value.code == 2


def test_top_ops_ranks_one_kind_by_self_time() -> None:
    from bench.bench_profile import top_ops

    ops = [op("aten::mul", us=1e6), op("aten::mul", us=2e6), op("aten::add", us=2.5e6),
           op("aten::mm", shapes=((4, 576), (576, 576)), us=9e6)]
    assert top_ops(ops, R, "the rest") == [("aten::mul", 3.0), ("aten::add", 2.5)]
    assert top_ops(ops, R, "frozen-weight matmuls", 1) == [("aten::mm", 9.0)]

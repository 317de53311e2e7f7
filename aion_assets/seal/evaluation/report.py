"""The evaluation report (baseline, candidate, style-only control), its renderings, and the gate.

Kept apart from :mod:`aion_assets.seal.evaluation.evaluate` (which runs models) so that the promotion
logic, the console and the tests can read, render and gate reports without torch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aion_assets.core.artifacts import key_segment
from aion_assets.seal.evaluation.bootstrap import BootstrapCI
from aion_assets.seal.evaluation.metrics import METRICS

ROLES = ("baseline", "candidate", "control")
SCENARIO_PASS_RATE = "scenario_pass_rate"


@dataclass
class ModelResult:
    """One row of the report: a model's aggregate metrics and its per-example results.

    ``metrics`` maps each name of :data:`METRICS` (plus ``scenario_pass_rate``) to its mean
    over the examples where it applies, or None when it applies to none.
    """

    role: str
    model_version: str
    metrics: dict[str, float | None]
    examples: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def examples_per_second(self) -> float | None:
        """Generation throughput (answers per second of generation), None for the control."""
        return len(self.examples) / self.seconds if self.seconds > 0 else None


@dataclass
class EvaluationReport:
    """Baseline, candidate and control on the same eval split and scenarios.

    ``diffs`` holds candidate-minus-baseline for every metric (paired bootstrap over the
    examples); ``control_diffs`` candidate-minus-control, which shows whether the candidate
    learned more than the house frame.
    """

    dataset_id: str
    models: dict[str, ModelResult]
    diffs: dict[str, BootstrapCI]
    control_diffs: dict[str, BootstrapCI]
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def candidate(self) -> ModelResult:
        return self.models["candidate"]

    @property
    def baseline(self) -> ModelResult:
        return self.models["baseline"]

    @property
    def control(self) -> ModelResult:
        return self.models["control"]

    def metric(self, role: str, name: str) -> float | None:
        """The aggregate value of metric NAME for ROLE (baseline / candidate / control)."""
        return self.models[role].metrics.get(name)

    def to_markdown(self) -> str:
        """A readable table: one line per metric, one column per model, then the differences."""
        b, c, k = self.baseline, self.candidate, self.control
        lines = [
            f"Evaluation on `{self.dataset_id}`: baseline `{b.model_version}`, "
            f"candidate `{c.model_version}`, control = baseline answers in the house greeting/sign-off.",
            "",
            "| metric | baseline | candidate | control | candidate - baseline [95% CI] | relative "
            "| candidate - control [95% CI] |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name in [*METRICS, SCENARIO_PASS_RATE]:
            values = [m.metrics.get(name) for m in (b, c, k)]
            if all(v is None for v in values):
                continue
            d, dc = self.diffs.get(name), self.control_diffs.get(name)
            rel = f"{d.relative:+.0%}" if d is not None and d.relative is not None else ""
            cells = [name, *(_f(v) for v in values), _ci(d), rel, _ci(dc)]
            lines.append("| " + " | ".join(cells) + " |")
        n_eval = sum(1 for e in c.examples if e["source"] == "eval")
        n_scen = sum(1 for e in c.examples if e["source"] == "scenario")
        lines += [
            "",
            f"{n_eval} eval examples, {n_scen} scenarios; metrics in [0, 1]; "
            "body = the answer without greeting and sign-off.",
        ]
        return "\n".join(lines)

    def to_rows(self, run_id: str | None = None) -> list[dict[str, Any]]:
        """One row per (model, metric) for the ``evaluations`` table.

        Keys: model_version, dataset_id, metric_name, metric_value, run_id, metadata (role, n,
        and for the candidate the difference to the baseline with its interval).
        """
        rows = []
        for role in ROLES:
            result = self.models[role]
            for name, value in result.metrics.items():
                if value is None:
                    continue
                meta: dict[str, Any] = {"role": role, "n": _n_applicable(result.examples, name)}
                if role == "candidate" and name in self.diffs:
                    meta["vs_baseline"] = self.diffs[name].to_dict()
                if role == "candidate" and name in self.control_diffs:
                    meta["vs_control"] = self.control_diffs[name].to_dict()
                rows.append(
                    {
                        "model_version": result.model_version,
                        "dataset_id": self.dataset_id,
                        "metric_name": name,
                        "metric_value": float(value),
                        "run_id": run_id,
                        "metadata": meta,
                    }
                )
        return rows

    def iter_examples(self) -> Iterator[dict[str, Any]]:
        """Per-example results of every model (one dict per model and example)."""
        for role in ROLES:
            result = self.models[role]
            for ex in result.examples:
                yield {"role": role, "model_version": result.model_version, **ex}

    def write_examples_jsonl(self, path: Path) -> Path:
        """Write :meth:`iter_examples` as JSONL (atomically)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            for ex in self.iter_examples():
                fh.write(json.dumps(ex, ensure_ascii=False, sort_keys=True, default=str) + "\n")
        tmp.replace(path)
        return path

    def summary(self) -> dict[str, Any]:
        """Aggregates, differences and config, without per-example results (for asset metadata)."""
        return {
            "dataset_id": self.dataset_id,
            "models": {
                r: {
                    "model_version": m.model_version,
                    "metrics": m.metrics,
                    "seconds": round(m.seconds, 3),
                    "examples_per_second": m.examples_per_second,
                }
                for r, m in self.models.items()
            },
            "vs_baseline": {k: v.to_dict() for k, v in self.diffs.items()},
            "vs_control": {k: v.to_dict() for k, v in self.control_diffs.items()},
            "config": self.config,
        }


def _n_applicable(examples: Sequence[Mapping[str, Any]], name: str) -> int:
    if name == SCENARIO_PASS_RATE:
        return sum(1 for e in examples if e.get("passed") is not None)
    return sum(1 for e in examples if e["source"] == "eval" and e.get(name) is not None)


def _f(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def _ci(ci: BootstrapCI | None) -> str:
    return "" if ci is None else f"{ci.diff:+.3f} [{ci.low:+.3f}, {ci.high:+.3f}]"


# ----------------------------------------------------------------------------------------------
# Gate


@dataclass(frozen=True)
class GateResult:
    """Whether the candidate may be promoted, and why not."""

    passed: bool
    reasons: tuple[str, ...]

    def __bool__(self) -> bool:
        return self.passed


def gate(
    report: EvaluationReport,
    tolerance: float | Mapping[str, float] = 0.0,
    metrics: Sequence[str] | None = None,
    require_beats_control: Sequence[str] = (),
) -> GateResult:
    """The blocking check on an evaluation report.

    Fails when, on any metric, the candidate's mean is below the baseline's by more than the
    tolerance (absolute, on the [0, 1] scale; a mapping gives per-metric tolerances, missing
    names use 0), or when the scenario pass rate drops at all. Optionally also requires the
    candidate to be above the style-only control on the named metrics (e.g. ``rougeL_body``),
    so that learning the greeting never passes for learning facts.

    Args:
        report: the evaluation report.
        tolerance: allowed drop per metric.
        metrics: the metrics to check (default: every metric both models have).
        require_beats_control: metrics on which candidate must exceed the control.

    Returns:
        GateResult(passed, reasons); reasons name each failing metric with the figures.
    """
    reasons: list[str] = []
    names = list(metrics) if metrics is not None else [*METRICS, SCENARIO_PASS_RATE]
    for name in names:
        cand, base = report.metric("candidate", name), report.metric("baseline", name)
        if cand is None or base is None:
            if metrics is not None:
                reasons.append(f"{name}: not measured for {'candidate' if cand is None else 'baseline'}")
            continue
        if name == SCENARIO_PASS_RATE:
            if cand < base:
                reasons.append(f"{name} dropped from {base:.3f} to {cand:.3f}")
            continue
        tol = tolerance.get(name, 0.0) if isinstance(tolerance, Mapping) else float(tolerance)
        if cand < base - tol:
            ci = report.diffs.get(name)
            interval = f" (95% CI {ci.low:+.3f} to {ci.high:+.3f})" if ci is not None else ""
            reasons.append(
                f"{name}: candidate {cand:.3f} is below baseline {base:.3f} by {base - cand:.3f}, "
                f"more than the tolerance {tol:.3f}{interval}"
            )
    for name in require_beats_control:
        cand, ctrl = report.metric("candidate", name), report.metric("control", name)
        if cand is None or ctrl is None:
            reasons.append(f"{name}: not measured, cannot compare with the style-only control")
        elif cand <= ctrl:
            reasons.append(f"{name}: candidate {cand:.3f} does not beat the style-only control {ctrl:.3f}")
    return GateResult(passed=not reasons, reasons=tuple(reasons))


def report_prefix(tenant_id: str, domain: str, run_id: str) -> str:
    """Where an evaluation run's ``report.json`` and ``examples.jsonl`` go: ``reports/{tenant}/{domain}/{run_id}``.

    The registry reads the same layout (``registry.evaluation.examples_key``) for the console.
    """
    return f"reports/{key_segment(tenant_id)}/{domain}/{run_id}"

"""Protects: the promotion rules of ``seal.promotion.decide`` and the ``promotion:`` config section.

Each rule (primary-metric gain with its interval above zero, max loss on the other metrics, no drop
of key-fact recall or scenario pass rate, a failed evaluation gate) rejects on its own, with a reason
naming the metric; a candidate that meets every rule passes; the thresholds merge defaults, tenant and
domain key by key and a bad value fails at load time naming the key.
"""

from __future__ import annotations

from typing import Any

import pytest

from aion_assets.core.errors import ConfigError
from aion_assets.registry.models import ModelStatus
from aion_assets.seal.config import PromotionThresholds, parse_seal_config
from aion_assets.seal.promotion import decide, snapshot

BASE = {"rougeL_body": 0.30, "fact_recall": 0.50, "style": 0.80, "bleu_body": 0.20, "scenario_pass_rate": 0.75}


def summary(candidate: dict[str, float | None] | None = None, ci: dict[str, tuple[float, float]] | None = None,
            baseline: dict[str, float | None] | None = None) -> dict[str, Any]:
    """An evaluation summary shaped like ``EvaluationReport.summary()``; the candidate defaults to a clear win."""
    base = dict(BASE if baseline is None else baseline)
    cand = {**base, "rougeL_body": 0.40, "fact_recall": 0.60} | (candidate or {})
    intervals = {"rougeL_body": (0.05, 0.15)} | (ci or {})
    vs = {}
    for name, (low, high) in intervals.items():
        if cand.get(name) is not None and base.get(name) is not None:
            vs[name] = {"diff": cand[name] - base[name], "low": low, "high": high}
    return {
        "dataset_id": "acme/support@abc",
        "models": {
            "baseline": {"model_version": "aion-base", "metrics": base},
            "candidate": {"model_version": "cand@1", "metrics": cand},
            "control": {"model_version": "aion-base+style", "metrics": base},
        },
        "vs_baseline": vs,
    }


DEFAULT = PromotionThresholds()


def test_a_clear_win_passes_with_its_snapshot() -> None:
    decision = decide(summary(), DEFAULT)
    assert decision.passed and decision.reasons == ()
    assert decision.candidate == "cand@1" and decision.baseline == "aion-base"
    assert decision.metrics["rougeL_body"].diff == pytest.approx(0.10)
    assert decision.status(DEFAULT) is ModelStatus.promoted
    assert decision.status(DEFAULT.model_copy(update={"auto_promote": False})) is ModelStatus.pending_approval
    names = {m.name: m for m in decision.metrics_in()}
    assert names["rougeL_body"].value == pytest.approx(0.40)
    assert (names["rougeL_body.diff"].ci_low, names["rougeL_body.diff"].ci_high) == (0.05, 0.15)


@pytest.mark.parametrize(
    ("candidate", "ci", "thresholds", "expected"),
    [
        # The gain's interval touches zero: noise, not a gain.
        ({"rougeL_body": 0.33}, {"rougeL_body": (-0.01, 0.07)}, {}, "does not lie above zero"),
        # A gain with a clean interval, but smaller than the configured minimum.
        ({"rougeL_body": 0.32}, {"rougeL_body": (0.01, 0.03)}, {"min_gain": 0.05}, "below the required"),
        # The primary metric got worse.
        ({"rougeL_body": 0.20}, {"rougeL_body": (-0.15, -0.05)}, {}, "must be above zero"),
        # Key-fact recall may not drop at all, even within max_loss.
        ({"fact_recall": 0.49}, {}, {}, "fact_recall: dropped from 0.500 to 0.490"),
        # Nor the scenario pass rate.
        ({"scenario_pass_rate": 0.5}, {}, {}, "scenario_pass_rate: dropped"),
        # Another metric lost more than max_loss.
        ({"style": 0.70}, {}, {}, "style: dropped by 0.100"),
        # The primary metric was not measured.
        ({"rougeL_body": None}, {}, {}, "not measured for both models"),
        # Key-fact recall was not measured: no silent pass.
        ({"fact_recall": None}, {}, {}, "fact_recall: not measured"),
        # Another primary metric, configured per tenant/domain.
        ({}, {}, {"primary_metric": "bleu_body"}, "bleu_body (primary metric)"),
    ],
)
def test_each_rule_rejects_on_its_own(
    candidate: dict[str, float | None], ci: dict[str, tuple[float, float]], thresholds: dict[str, Any], expected: str
) -> None:
    decision = decide(summary(candidate, ci), DEFAULT.model_copy(update=thresholds))
    assert not decision.passed
    assert any(expected in r for r in decision.reasons), decision.reasons
    assert decision.status(DEFAULT) is ModelStatus.rejected


def test_losses_within_max_loss_and_missing_scenarios_pass() -> None:
    s = summary({"style": 0.79, "bleu_body": 0.185, "scenario_pass_rate": None},
                baseline={k: v for k, v in BASE.items() if k != "scenario_pass_rate"})
    assert decide(s, DEFAULT).passed
    assert not decide(s, DEFAULT.model_copy(update={"max_loss": 0.01})).passed


def test_a_failed_gate_never_passes_and_its_reasons_are_kept() -> None:
    decision = decide(summary(), DEFAULT, gate_passed=False, gate_reasons=["bleu: candidate below baseline"])
    assert not decision.passed
    assert decision.reasons[:2] == (
        "the evaluation gate candidate_not_worse_than_baseline failed",
        "bleu: candidate below baseline",
    )


def test_a_summary_without_models_is_refused() -> None:
    with pytest.raises(ValueError, match="no metrics for the candidate"):
        snapshot({"models": {"baseline": {"metrics": {}}}})


def test_thresholds_merge_defaults_tenant_and_domain() -> None:
    config = parse_seal_config(
        {
            "defaults": {"promotion": {"max_loss": 0.05}},
            "tenants": {
                "acme": {"promotion": {"auto_promote": False}, "domains": {"support": {"promotion": {"min_gain": 0.1}}}}
            },
        }
    )
    support = config.promotion_for("acme", "support")
    assert (support.max_loss, support.auto_promote, support.min_gain) == (0.05, False, 0.1)
    assert config.promotion_for("acme", "billing").min_gain == 0.0
    assert config.promotion_for("globex", "x").auto_promote is True


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        ({"defaults": {"promotion": {"max_loss": 2}}}, "defaults.promotion.max_loss"),
        ({"tenants": {"acme": {"promotion": {"auto_promot": False}}}}, "tenants.acme.promotion.auto_promot"),
    ],
)
def test_bad_promotion_config_names_the_key(doc: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError, match=where.replace(".", r"\.")):
        parse_seal_config(doc, "seal.yaml")

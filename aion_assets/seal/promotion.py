"""Promotion: decide from an evaluation report whether a candidate adapter replaces the serving model.

Plain Python (no Dagster): :func:`decide` reads the report's summary (``EvaluationReport.summary()``,
candidate minus the model that serves the route today, with paired-bootstrap intervals) and the
tenant/domain's thresholds (``promotion:`` in config/seal.yaml, see ``seal.config.PromotionThresholds``).
A candidate passes only when all of these hold:

1. the evaluation's blocking gate (``candidate_not_worse_than_baseline``) passed;
2. the primary metric (e.g. ``rougeL_body``) gained at least ``min_gain`` and the lower end of its
   bootstrap interval is above zero (the statistical guard: a gain inside the noise is no gain);
3. no other metric dropped by more than ``max_loss``;
4. the key-fact recall and the scenario pass rate did not drop at all.

:func:`apply_decision` then writes the outcome to the registry: ``promoted`` (pass, auto-promotion
on), ``pending_approval`` (pass, auto-promotion off: a reviewer approves through the API) or
``rejected`` with the reasons, and on a rejection queues an alert in the webhook outbox.

Crash and concurrency safety, step by step:

1. The decision is a pure function of the report's summary and the thresholds: running it again
   on the same report gives the same decision, so a retried run cannot decide differently.
2. The version is registered with its status in ONE registry transaction, together with its
   audit entry (``RegistryStore.register_version``). Versions are content-addressed by the
   adapter's authenticated manifest hash: a run that crashed after this step and is retried gets
   the stored version back (``created`` False), never a second version of the same weights, and
   a concurrent registration of the same manifest collides on the unique constraint and then
   finds the winner's row. A stored version keeps its status: a retry never re-decides it.
3. On a rejection the alert is queued in the outbox with an idempotency key derived from the
   version id. A crash between 2 and 3 is repaired by the retry: step 2 returns the rejected
   version, step 3 queues the alert (a second enqueue of the same key is a no-op). Delivery is
   the outbox drain's job (``registry.webhooks``): a receiver that is down delays it, never loses it.
4. Routes are not touched here: ``registry/route_table`` publishes them from the promoted
   versions, with compare-and-set on each route's version, only in runs whose blocking checks
   passed. A crash between 2 and 4 leaves a promoted version that no route serves yet; the next
   ``route_table`` run routes it (publishing is idempotent: an unchanged route is not rewritten).
5. Dry run stops after step 1: nothing is registered, queued or routed.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aion_assets.core.errors import NotFoundError
from aion_assets.registry.models import MetricIn, ModelStatus, ModelVersion, ModelVersionIn
from aion_assets.registry.store import RegistryStore
from aion_assets.seal.config import PromotionThresholds

SCENARIO_PASS_RATE = "scenario_pass_rate"
#: Float noise below this is no change (metrics are means in [0, 1]).
EPSILON = 1e-9


@dataclass(frozen=True)
class MetricSnapshot:
    """One metric of the candidate and of the baseline, and the difference with its interval."""

    name: str
    candidate: float | None
    baseline: float | None
    diff: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain form for metadata and the alert."""
        return {
            "candidate": self.candidate,
            "baseline": self.baseline,
            "diff": self.diff,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
        }


@dataclass(frozen=True)
class Decision:
    """The outcome of :func:`decide`: whether the candidate passed, why not, and the figures it read."""

    passed: bool
    reasons: tuple[str, ...]
    metrics: dict[str, MetricSnapshot] = field(default_factory=dict)
    candidate: str | None = None
    baseline: str | None = None

    def status(self, thresholds: PromotionThresholds) -> ModelStatus:
        """The registry status this decision leads to under THRESHOLDS' auto-promotion flag."""
        if not self.passed:
            return ModelStatus.rejected
        return ModelStatus.promoted if thresholds.auto_promote else ModelStatus.pending_approval

    def metrics_in(self) -> list[MetricIn]:
        """The candidate's metrics as registry metrics: ``<name>`` (its value) and ``<name>.diff``.

        ``<name>.diff`` is candidate minus baseline, with the bootstrap interval when there is one.
        """
        out: list[MetricIn] = []
        for name, m in sorted(self.metrics.items()):
            if m.candidate is not None and math.isfinite(m.candidate):
                out.append(MetricIn(name=name, value=m.candidate))
            if m.diff is not None and math.isfinite(m.diff):
                has_ci = m.ci_low is not None and m.ci_high is not None
                out.append(
                    MetricIn(
                        name=f"{name}.diff",
                        value=m.diff,
                        ci_low=m.ci_low if has_ci else None,
                        ci_high=m.ci_high if has_ci else None,
                    )
                )
        return out

    def to_metadata(self) -> dict[str, Any]:
        """Plain values for the asset's metadata."""
        return {
            "passed": self.passed,
            "reasons": list(self.reasons),
            "candidate": self.candidate,
            "baseline": self.baseline,
            "metrics": {name: m.to_dict() for name, m in sorted(self.metrics.items())},
        }


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def snapshot(summary: Mapping[str, Any]) -> dict[str, MetricSnapshot]:
    """Every metric of the summary that the candidate or the baseline has, with its difference.

    Raises:
        ValueError: the summary lacks the candidate's or the baseline's metrics.
    """
    models = summary.get("models")
    if not isinstance(models, Mapping):
        raise ValueError("the evaluation summary has no 'models' section")
    sides: dict[str, Mapping[str, Any]] = {}
    for role in ("candidate", "baseline"):
        entry = models.get(role)
        if not isinstance(entry, Mapping) or not isinstance(entry.get("metrics"), Mapping):
            raise ValueError(f"the evaluation summary has no metrics for the {role}")
        sides[role] = entry["metrics"]
    diffs = summary.get("vs_baseline") or {}
    out: dict[str, MetricSnapshot] = {}
    for name in sorted(set(sides["candidate"]) | set(sides["baseline"])):
        cand, base = _number(sides["candidate"].get(name)), _number(sides["baseline"].get(name))
        if cand is None and base is None:
            continue
        ci = diffs.get(name) if isinstance(diffs, Mapping) else None
        ci = ci if isinstance(ci, Mapping) else {}
        diff = _number(ci.get("diff"))
        if diff is None and cand is not None and base is not None:
            diff = cand - base
        out[name] = MetricSnapshot(name, cand, base, diff, _number(ci.get("low")), _number(ci.get("high")))
    return out


def decide(
    summary: Mapping[str, Any],
    thresholds: PromotionThresholds,
    *,
    gate_passed: bool = True,
    gate_reasons: Sequence[str] = (),
) -> Decision:
    """Decide whether the candidate of an evaluation SUMMARY may replace the serving model.

    Args:
        summary: ``EvaluationReport.summary()`` (models' metrics and ``vs_baseline`` intervals).
        thresholds: the tenant/domain's ``promotion:`` settings.
        gate_passed: whether the evaluation's blocking gate passed (a failed gate never promotes).
        gate_reasons: the gate's reasons, repeated in the decision's.

    Returns:
        Decision(passed, reasons, metrics): every failed rule is one reason naming the metric and
        the figures; a metric that a rule needs and the report lacks is a reason too (no silent pass).

    Raises:
        ValueError: the summary is not an evaluation summary (no candidate/baseline metrics).
    """
    metrics = snapshot(summary)
    reasons: list[str] = []
    if not gate_passed:
        reasons.append("the evaluation gate candidate_not_worse_than_baseline failed")
        reasons.extend(gate_reasons)

    primary = metrics.get(thresholds.primary_metric)
    if primary is None or primary.diff is None:
        reasons.append(f"{thresholds.primary_metric} (primary metric): not measured for both models")
    else:
        if primary.diff < thresholds.min_gain - EPSILON or primary.diff <= 0:
            reasons.append(
                f"{thresholds.primary_metric} (primary metric): gain {primary.diff:+.3f} is below the "
                f"required {max(thresholds.min_gain, 0):+.3f} (and must be above zero)"
            )
        if primary.ci_low is None:
            reasons.append(f"{thresholds.primary_metric} (primary metric): no bootstrap interval in the report")
        elif primary.ci_low <= 0:
            reasons.append(
                f"{thresholds.primary_metric} (primary metric): the 95% interval of the gain "
                f"[{primary.ci_low:+.3f}, {primary.ci_high if primary.ci_high is not None else float('nan'):+.3f}] "
                "does not lie above zero (the gain may be noise)"
            )

    for name in (thresholds.key_fact_metric, SCENARIO_PASS_RATE):
        m = metrics.get(name)
        if m is None or m.candidate is None or m.baseline is None:
            # No scenarios configured is not a failure; missing key-fact recall is (nothing to compare).
            if name == thresholds.key_fact_metric:
                reasons.append(f"{name}: not measured for both models, cannot check that it does not drop")
            continue
        if m.candidate < m.baseline - EPSILON:
            reasons.append(f"{name}: dropped from {m.baseline:.3f} to {m.candidate:.3f}; it must not drop")

    guarded = {thresholds.primary_metric, thresholds.key_fact_metric, SCENARIO_PASS_RATE}
    for name, m in metrics.items():
        if name in guarded or m.candidate is None or m.baseline is None:
            continue
        loss = m.baseline - m.candidate
        if loss > thresholds.max_loss + EPSILON:
            reasons.append(
                f"{name}: dropped by {loss:.3f} (from {m.baseline:.3f} to {m.candidate:.3f}), more than "
                f"max_loss {thresholds.max_loss:.3f}"
            )
    models = summary.get("models") or {}
    return Decision(
        passed=not reasons,
        reasons=tuple(reasons),
        metrics=metrics,
        candidate=(models.get("candidate") or {}).get("model_version"),
        baseline=(models.get("baseline") or {}).get("model_version"),
    )


def agents_of(tenant_config: Mapping[str, Any] | None, domain: str) -> list[str]:
    """The agents a tenant's config puts in DOMAIN (``agents.<id>.domain``); none: one agent named DOMAIN.

    Raises:
        ConfigError: the config's ``agents`` section is malformed.
    """
    from aion_assets.seal.datasets.tenant_config import agent_profiles

    profiles = agent_profiles(tenant_config) if tenant_config else {}
    agents = sorted(a for a, p in profiles.items() if p.domain == domain)
    return agents or [domain]


def serving_version(store: RegistryStore, tenant_id: str, domain: str, agents: Sequence[str]) -> ModelVersion | None:
    """The version that serves DOMAIN today: the default of the first of AGENTS' routes on a version
    of DOMAIN; None when no such route exists (the base model serves)."""
    for agent in agents:
        try:
            route = store.get_route(tenant_id, agent)
        except NotFoundError:
            continue
        version = store.get_version(tenant_id, route.default_model_id)
        if version.domain == domain:
            return version
    return None


@dataclass(frozen=True)
class Candidate:
    """What the registry records of a candidate adapter besides the decision."""

    tenant_id: str
    domain: str
    base_model: str
    adapter_uri: str
    manifest_sha256: str
    dataset_version: str
    evaluation_run_id: str | None
    source_edit_count: int | None = None
    parent_id: uuid.UUID | None = None
    description: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What :func:`apply_decision` did: the version (None on a dry run) and whether it was new."""

    status: ModelStatus
    version: ModelVersion | None
    created: bool
    alert_queued: bool


def version_in(candidate: Candidate, decision: Decision, status: ModelStatus) -> ModelVersionIn:
    """The registry input of CANDIDATE with DECISION's metrics and reasons."""
    reason = "; ".join(decision.reasons) if decision.reasons else "passed the promotion thresholds"
    return ModelVersionIn(
        tenant_id=candidate.tenant_id,
        manifest_sha256=candidate.manifest_sha256,
        adapter_uri=candidate.adapter_uri,
        base_model=candidate.base_model,
        domain=candidate.domain,
        status=status,
        status_reason=reason[:2000],
        parent_id=candidate.parent_id,
        description=candidate.description,
        dataset_version=candidate.dataset_version,
        evaluation_run_id=candidate.evaluation_run_id,
        source_edit_count=candidate.source_edit_count,
        metrics=decision.metrics_in(),
    )


def apply_decision(
    store: RegistryStore,
    candidate: Candidate,
    decision: Decision,
    thresholds: PromotionThresholds,
    *,
    actor: str,
    enqueue_alert: Any = None,
) -> Outcome:
    """Register CANDIDATE with the status DECISION leads to, and queue an alert on a rejection.

    See the module docstring for why each step is safe to repeat after a crash.

    Args:
        store: the registry.
        candidate: the adapter and its lineage.
        decision: from :func:`decide`.
        thresholds: auto-promotion and dry-run flags.
        actor: who decides (recorded as the version's creator and in the audit log).
        enqueue_alert: ``callable(version, decision) -> bool`` queuing the rejection alert
            idempotently (True when queued now); None: no alerting configured.

    Returns:
        The outcome. A dry run registers nothing (``version`` None).
    """
    status = decision.status(thresholds)
    if thresholds.dry_run:
        return Outcome(status=status, version=None, created=False, alert_queued=False)
    version, created = store.register_version(
        candidate.tenant_id, version_in(candidate, decision, status), actor
    )
    queued = False
    if version.status is ModelStatus.rejected and enqueue_alert is not None:
        queued = bool(enqueue_alert(version, decision))
    return Outcome(status=version.status, version=version, created=created, alert_queued=queued)

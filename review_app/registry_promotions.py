"""What the Promotions page does, as plain functions over a RegistryClient (no Streamlit here).

The versions waiting for approval, the baseline each is compared with, the metric comparison (table
and chart), the scenario outcomes and the decision. Shared helpers are in ``registry_services``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import altair as alt

from aion_assets.registry.evaluation import AnswerDifference, EvaluationDetails
from aion_assets.registry.http_client import RegistryApiError, RegistryClient
from aion_assets.registry.models import Metric, ModelStatus, ModelVersion
from review_app.registry_services import VERSIONS_LIMIT, Outcome, describe_registry_error

# A repeated decision returns the stored version; one decided this long before our call was not ours.
_CLOCK_SLACK = timedelta(seconds=2)


def pending_promotions(client: RegistryClient) -> list[ModelVersion]:
    """The tenant's versions waiting for approval, oldest first (the longest waiting on top).

    Raises:
        RegistryApiError: refused or unreachable.
    """
    versions = client.list_models(status=ModelStatus.pending_approval, limit=VERSIONS_LIMIT)
    return sorted(versions, key=lambda v: v.status_changed_at)

def baseline_of(client: RegistryClient, candidate: ModelVersion,
                versions: Sequence[ModelVersion] = ()) -> ModelVersion | None:
    """What CANDIDATE is compared with: its parent, else the newest promoted version of its domain.

    Args:
        versions: versions already read (looked up first, to spare a call).

    Raises:
        RegistryApiError: the parent could not be read (other than 404).
    """
    if candidate.parent_id is not None:
        known = {v.id: v for v in versions}
        if candidate.parent_id in known:
            return known[candidate.parent_id]
        try:
            return client.get_model(candidate.parent_id, edit_ids_limit=0)
        except RegistryApiError as exc:
            if exc.status != 404:
                raise
    promoted = client.list_models(domain=candidate.domain, status=ModelStatus.promoted, limit=VERSIONS_LIMIT)
    promoted = [v for v in promoted if v.id != candidate.id]
    return max(promoted, key=lambda v: v.created_at) if promoted else None

def _interval(metric: Metric | None) -> str:
    if metric is None or metric.ci_low is None or metric.ci_high is None:
        return ""
    return f"[{metric.ci_low:.4f}, {metric.ci_high:.4f}]"

def compare_metrics(candidate: ModelVersion, baseline: ModelVersion | None) -> list[dict[str, Any]]:
    """One row per metric of either version: both values, their bootstrap intervals and the difference.

    A metric one side lacks is shown empty on that side (never as 0).
    """
    mine = {m.name: m for m in candidate.metrics}
    theirs = {m.name: m for m in baseline.metrics} if baseline else {}
    rows = []
    for name in sorted(set(mine) | set(theirs)):
        c, b = mine.get(name), theirs.get(name)
        rows.append({
            "metric": name,
            "candidate": c.value if c else None,
            "candidate 95% CI": _interval(c),
            "baseline": b.value if b else None,
            "baseline 95% CI": _interval(b),
            "difference": (c.value - b.value) if c and b else None,
        })
    return rows

def comparison_points(candidate: ModelVersion, baseline: ModelVersion | None) -> list[dict[str, Any]]:
    """Long-form rows (metric, which, version, value, ci_low, ci_high) of both versions, for a chart."""
    rows = []
    for which, version in (("candidate", candidate), ("baseline", baseline)):
        for m in version.metrics if version else []:
            rows.append({"metric": m.name, "which": which, "version": version.name if version else "",
                         "value": m.value, "ci_low": m.ci_low, "ci_high": m.ci_high})
    return rows

def comparison_chart(points: list[dict[str, Any]]) -> alt.FacetChart:
    """Candidate and baseline per metric, one panel a metric, with their bootstrap intervals as bars."""
    which = alt.Scale(domain=["candidate", "baseline"], range=["#1f5fbf", "#6b6b6b"])
    base = alt.Chart(alt.Data(values=points)).encode(
        y=alt.Y("which:N", title=None, sort=["candidate", "baseline"], axis=alt.Axis(labelFontSize=12)),
        color=alt.Color("which:N", legend=None, scale=which),
    )
    dots = base.mark_point(filled=True, size=110, opacity=1).encode(
        x=alt.X("value:Q", title=None, scale=alt.Scale(zero=False, nice=False, padding=12)),
        tooltip=["metric:N", "which:N", "version:N", "value:Q", "ci_low:Q", "ci_high:Q"],
    )
    bars = base.mark_rule(strokeWidth=3).encode(x="ci_low:Q", x2="ci_high:Q")
    return (bars + dots).properties(width=560, height=56).facet(
        row=alt.Row("metric:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left", labelFontSize=13,
                                                                labelFontWeight="bold")),
    ).resolve_scale(x="independent")

def decide_promotion(client: RegistryClient, model_id: uuid.UUID | str, approve: bool, reviewer: str,
                     comment: str | None = None) -> Outcome:
    """Approve (promote) or reject a version waiting for approval, with the reviewer's comment.

    A rejection needs a comment. The four-eyes rule (whoever registered the version or asked for its
    approval cannot decide on it) is the API's; its refusal is reported as such.

    Returns:
        An Outcome; never raises for an API error.
    """
    comment = (comment or "").strip() or None
    verb = "approved" if approve else "rejected"
    if not approve and not comment:
        return Outcome("failed", "Give a comment to reject.")
    started = datetime.now().astimezone()
    try:
        call = client.approve if approve else client.reject
        version = call(model_id, reason=comment)
    except RegistryApiError as exc:
        kind = "refused" if exc.status in (403, 409) else "failed"
        return Outcome(kind, describe_registry_error(exc))
    ours = version.status_changed_by == reviewer and version.status_changed_at >= started - _CLOCK_SLACK
    if not ours:
        return Outcome("already", f"`{version.name}` was already {verb} by {version.status_changed_by} at "
                       f"{version.status_changed_at:%Y-%m-%d %H:%M:%S UTC}; nothing was changed.")
    shown = "promoted" if approve else "rejected"
    return Outcome("done", f"`{version.name}` {shown}.")

def scenario_rows(details: EvaluationDetails) -> list[dict[str, Any]]:
    """One row per scenario prompt: whether the baseline and the candidate passed it, and what changed."""

    def word(passed: bool | None) -> str:
        return "-" if passed is None else ("passed" if passed else "FAILED")

    rows = []
    for s in details.scenarios:
        change = ""
        if s.baseline_passed is not None and s.candidate_passed is not None and s.baseline_passed != s.candidate_passed:
            change = "now passes" if s.candidate_passed else "now fails"
        rows.append({"scenario": s.id, "prompt": s.prompt, "baseline": word(s.baseline_passed),
                     "candidate": word(s.candidate_passed), "change": change})
    return rows

def difference_label(diff: AnswerDifference, metric: str) -> str:
    """An expander title for one differing example: the prompt's start and the score change."""
    prompt = diff.prompt if len(diff.prompt) <= 70 else diff.prompt[:69] + "…"
    b, c = diff.baseline_score or 0.0, diff.candidate_score or 0.0
    return f"{prompt} — {metric} {b:.2f} → {c:.2f} ({c - b:+.2f})"

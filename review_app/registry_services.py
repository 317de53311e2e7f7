"""What the registry pages do, as plain functions over a RegistryClient (no Streamlit here).

Promotions, models and lineage, routes and rollback, and the audit log. Every read and action
goes through the registry API with a token of one tenant, so its tenant scoping, role checks, the
four-eyes rule and the audit log apply to reviewers as to any other client. Errors become messages
a reviewer can act on; nothing here raises for an API error in an action.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import altair as alt

from aion_assets.registry.evaluation import AnswerDifference, EvaluationDetails
from aion_assets.registry.http_client import RegistryApiError, RegistryClient
from aion_assets.registry.models import AuditEntry, Metric, ModelStatus, ModelVersion, Route
from review_app.services import CLIENT_OPTIONS

#: How many versions the pages read (the API's maximum page).
VERSIONS_LIMIT = 500
AUDIT_LIMIT_CHOICES = (50, 100, 500, 1000)
# A repeated decision returns the stored version; one decided this long before our call was not ours.
_CLOCK_SLACK = timedelta(seconds=2)


def make_registry_client(base_url: str, token: str) -> RegistryClient:
    """A registry API client with the console's short retry budget (the memory client's)."""
    return RegistryClient(base_url, token, **CLIENT_OPTIONS)


def describe_registry_error(exc: RegistryApiError, base_url: str = "", thing: str = "version") -> str:
    """A message a reviewer can act on, for a registry API error."""
    message = exc.message
    if exc.status is None:
        where = f" at {base_url}" if base_url else ""
        return f"The registry API{where} is unreachable; nothing was changed. Try again shortly."
    if exc.status in (502, 503, 504):
        return f"The registry cannot reach its database right now ({message}); nothing was changed. Try again shortly."
    if exc.status == 401:
        return f"Your sign-in is no longer accepted ({message}): sign out and sign in again."
    if exc.status == 403:
        if "four-eyes" in message:
            return (f"Refused by the four-eyes rule: {message}. Another reviewer must decide on this version; "
                    "nothing was changed.")
        return f"Not allowed: {message}."
    if exc.status == 404:
        return f"This {thing} does not exist (or belongs to another tenant)."
    if exc.status == 409:
        return f"Not done: {message}. Nothing was changed; the page shows what is stored now."
    if exc.status == 422:
        where = f" ({exc.field})" if exc.field else ""
        return f"Invalid value{where}: {message}"
    return f"The registry API answered {exc.status}: {message}"


@dataclass(frozen=True)
class Outcome:
    """The result of one registry action.

    Attributes:
        kind: ``done`` (this call did it), ``already`` (someone decided the same before),
            ``refused`` (four-eyes, role or state: nothing changed) or ``failed`` (input or outage).
        message: what to show the reviewer.
    """

    kind: str
    message: str


# -- promotions --------------------------------------------------------------------------------


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


def version_label(version: ModelVersion) -> str:
    """A short label of a version for lists (names are unique per tenant)."""
    return f"{version.name} · {version.status.value} · {version.created_at:%Y-%m-%d %H:%M}"


# -- models and lineage ------------------------------------------------------------------------


def short_name(name: str) -> str:
    """A version's name without its tenant (every page shows one tenant): ``<base> <domain>@<date>[.N]``.

    Names are ``<base>+seal-<tenant>~<domain>@YYYY.MM.DD[.N]`` (``aion_assets.registry.naming``); a name
    of another shape is returned whole.
    """
    base, plus, rest = name.partition("+seal-")
    _, tilde, tail = rest.rpartition("~")
    return f"{base} {tail}" if plus and tilde else name


def version_rows(versions: Iterable[ModelVersion]) -> list[dict[str, Any]]:
    """The versions as table rows: short name, status, parent, dataset, evaluation, source edits, who and when."""
    listed = list(versions)
    names = {v.id: short_name(v.name) for v in listed}
    return [
        {
            "version": short_name(v.name),
            "status": v.status.value,
            "parent": names.get(v.parent_id, str(v.parent_id)) if v.parent_id else "",
            "dataset version": v.dataset_version or "",
            "evaluation run": v.evaluation_run_id or "",
            "source edits": v.source_edit_count,
            "created (UTC)": f"{v.created_at:%Y-%m-%d %H:%M}",
            "status changed": f"{v.status_changed_at:%Y-%m-%d %H:%M} by {v.status_changed_by}",
        }
        for v in listed
    ]


def metric_history(versions: Iterable[ModelVersion], domain: str) -> list[dict[str, Any]]:
    """Long-form rows (version, label, created, metric, value, ci_low, ci_high) of DOMAIN's versions, oldest
    first; the label is the date part of the name (``2026.11.29.2``), or the short name when two share it."""
    chosen = sorted((v for v in versions if v.domain == domain), key=lambda v: v.created_at)
    tags = [v.name.rpartition("@")[2] or v.name for v in chosen]
    unique = len(set(tags)) == len(tags)
    rows = []
    for v, tag in zip(chosen, tags, strict=True):
        for m in v.metrics:
            rows.append({"version": v.name, "label": tag if unique else short_name(v.name),
                         "created": v.created_at.isoformat(), "status": v.status.value,
                         "metric": m.name, "value": m.value, "ci_low": m.ci_low, "ci_high": m.ci_high})
    return rows


def history_charts(rows: list[dict[str, Any]]) -> dict[str, alt.LayerChart]:
    """One chart per metric: its value over the versions (in order of registration), the bootstrap interval
    of each as a bar. Keyed by metric name, sorted."""
    order = list(dict.fromkeys(r["label"] for r in rows))
    charts = {}
    for metric in sorted({r["metric"] for r in rows}):
        points = [r for r in rows if r["metric"] == metric]
        base = alt.Chart(alt.Data(values=points)).encode(
            x=alt.X("label:N", sort=order, title="version", axis=alt.Axis(labelAngle=0, labelLimit=200)),
        )
        line = base.mark_line(point=alt.OverlayMarkDef(filled=True, size=80), color="#1f5fbf").encode(
            y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
            tooltip=["version:N", "status:N", "value:Q", "ci_low:Q", "ci_high:Q"],
        )
        bars = base.mark_rule(strokeWidth=3, opacity=0.5, color="#1f5fbf").encode(y="ci_low:Q", y2="ci_high:Q")
        charts[metric] = (bars + line).properties(height=220, title=alt.Title(metric, anchor="start", fontSize=14))
    return charts


def status_history(client: RegistryClient, model_id: uuid.UUID | str) -> list[dict[str, Any]]:
    """Every status change of a version from the audit log (admin), newest first: when, who, from, to, why.

    Raises:
        RegistryApiError: the audit log could not be read (403 for a non-admin).
    """
    rows = []
    for e in client.list_audit(subject=f"model:{model_id}", limit=1000):
        before, after = e.before or {}, e.after or {}
        rows.append({"when (UTC)": f"{e.at:%Y-%m-%d %H:%M:%S}", "by": e.actor, "action": e.action,
                     "from": before.get("status", ""), "to": after.get("status", ""),
                     "reason": after.get("status_reason") or ""})
    return rows


# -- routes ------------------------------------------------------------------------------------


def route_rows(routes: Iterable[Route]) -> list[dict[str, Any]]:
    """The routes as table rows: agent, default and fallback versions, route version, last change."""
    return [
        {
            "agent": r.agent_id,
            "default": short_name(r.default_model_name),
            "fallback": short_name(r.fallback_model_name) if r.fallback_model_name else "(none)",
            "route version": r.version,
            "updated": f"{r.updated_at:%Y-%m-%d %H:%M} by {r.updated_by}",
        }
        for r in routes
    ]


def route_history(client: RegistryClient, route: Route, *, may_read_audit: bool) -> tuple[list[dict[str, Any]], str]:
    """The history of ROUTE, newest first, and a note on where it comes from.

    With MAY_READ_AUDIT (admins), every ``route.*`` audit entry of the agent; otherwise only what the
    routes API gives (the current version and its last change).

    Raises:
        RegistryApiError: the audit log could not be read.
    """
    if may_read_audit:
        entries = client.list_audit(subject=f"route:{route.agent_id}", limit=1000)
        rows = []
        for e in entries:
            after = e.after or {}
            rows.append({
                "when (UTC)": f"{e.at:%Y-%m-%d %H:%M:%S}",
                "action": e.action,
                "by": e.actor,
                "default": short_name(str(after.get("default_model_name", ""))),
                "fallback": short_name(str(after["fallback_model_name"])) if after.get("fallback_model_name")
                else "(none)",
                "route version": after.get("version"),
                "reason": after.get("reason") or "",
            })
        return rows, f"From the audit log: {len(rows)} change(s)."
    row = {"when (UTC)": f"{route.updated_at:%Y-%m-%d %H:%M:%S}", "action": "current", "by": route.updated_by,
           "default": short_name(route.default_model_name),
           "fallback": short_name(route.fallback_model_name) if route.fallback_model_name else "(none)",
           "route version": route.version, "reason": ""}
    return [row], ("Only the current route: earlier versions are in the audit log, which only an admin of "
                   "this tenant may read.")


def rollback_route(client: RegistryClient, agent_id: str, expected_version: int, reason: str | None = None) -> Outcome:
    """Roll AGENT_ID's route back to its fallback, only if it is still at EXPECTED_VERSION (what was shown).

    Returns:
        An Outcome; never raises for an API error (a route changed meanwhile is refused, 409).
    """
    try:
        route = client.rollback(agent_id, expected_version=expected_version, reason=(reason or "").strip() or None)
    except RegistryApiError as exc:
        kind = "refused" if exc.status in (403, 409) else "failed"
        return Outcome(kind, describe_registry_error(exc, thing="route"))
    return Outcome("done", f"Route {agent_id} rolled back: it now serves `{route.default_model_name}` "
                   f"(route version {route.version}, no fallback).")


# -- audit log ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilters:
    """Filters of the audit log (None or empty: not applied); ACTION and SUBJECT are the API's, ACTOR and
    TEXT narrow what it returned."""

    action: str | None = None
    subject: str | None = None
    actor: str | None = None
    text: str | None = None
    limit: int = 100


def fetch_audit(client: RegistryClient, filters: AuditFilters) -> list[AuditEntry]:
    """The tenant's audit entries matching FILTERS, newest first (admin).

    Raises:
        RegistryApiError: refused (403 for a non-admin, 422 naming a bad filter) or unreachable.
    """
    entries = client.list_audit(action=(filters.action or "").strip() or None,
                                subject=(filters.subject or "").strip() or None, limit=filters.limit)
    actor = (filters.actor or "").strip().lower()
    text = (filters.text or "").strip().lower()
    if actor:
        entries = [e for e in entries if actor in e.actor.lower()]
    if text:
        entries = [e for e in entries if text in _compact(e.before).lower() or text in _compact(e.after).lower()]
    return entries


def _compact(value: dict[str, Any] | None) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True, separators=(", ", ": "))


def audit_rows(entries: Iterable[AuditEntry], names: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The entries as table rows (before and after as compact JSON).

    Args:
        names: model id -> name; a ``model:<id>`` subject is shown with the version's short name.
    """
    names = names or {}
    rows = []
    for e in entries:
        kind, _, key = e.subject.partition(":")
        what = short_name(names[key]) if kind == "model" and key in names else ""
        rows.append({"when (UTC)": f"{e.at:%Y-%m-%d %H:%M:%S}", "actor": e.actor, "action": e.action,
                     "subject": e.subject, "version": what, "before": _compact(e.before), "after": _compact(e.after)})
    return rows


def audit_label(entry: AuditEntry) -> str:
    """A short label of an audit entry for lists."""
    return f"{entry.at:%Y-%m-%d %H:%M:%S} · {entry.action} · {entry.subject} · by {entry.actor}"


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

"""What the Models and lineage page does, as plain functions over a RegistryClient (no Streamlit here).

The versions as table rows, each domain's metric history (rows and charts) and a version's status
history from the audit log. Shared helpers are in ``registry_services``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import altair as alt

from aion_assets.registry.http_client import RegistryClient
from aion_assets.registry.models import ModelVersion
from review_app.registry_services import short_name


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

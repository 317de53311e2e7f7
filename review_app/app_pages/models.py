"""Models and lineage: every version of the tenant, the lineage of one, and each metric over the versions of a domain.

A version named in the URL (``?model=<id>``) is read with the tenant's token: another tenant's is
"not found", like one that does not exist.
"""

from __future__ import annotations

import streamlit as st

from aion_assets.registry.http_client import RegistryApiError
from aion_assets.registry.models import ModelStatus
from review_app import registry_ui as rui
from review_app import ui
from review_app.registry_models import history_charts, metric_history, status_history, version_rows
from review_app.registry_services import version_label

STATUS_CHOICES = ["any", *(s.value for s in ModelStatus)]

cfg = ui.config()
who = rui.signed_in()
tenant = rui.pick_tenant(who, "models_tenant")
st.title("Models and lineage")
ui.show_flash()
bearer = ui.token(who, tenant, cfg)
if bearer is None:
    st.stop()
assert bearer is not None
try:
    versions = rui.load_versions(cfg.api_url, bearer)
except RegistryApiError as exc:
    rui.registry_error(exc)
    st.stop()
if not versions:
    st.caption(f"Tenant **{tenant}**")
    st.info("No model version is registered for this tenant yet.")
    st.stop()

domains = sorted({v.domain for v in versions})
with st.sidebar:
    st.selectbox("Domain", ["any", *domains], key="models_domain")
    st.selectbox("Status", STATUS_CHOICES, key="models_status")
domain = st.session_state.get("models_domain", "any")
status = st.session_state.get("models_status", "any")
shown = [v for v in versions if (domain == "any" or v.domain == domain) and (status == "any" or v.status == status)]
st.caption(f"Tenant **{tenant}** · {len(shown)} of {len(versions)} version(s), newest first")
st.dataframe(version_rows(shown), hide_index=True, width="stretch")

st.subheader("Metrics over versions")
chart_domain = domain if domain != "any" else domains[0]
if domain == "any" and len(domains) > 1:
    chart_domain = st.selectbox("Domain of the chart", domains, key="models_chart_domain")
history = metric_history(versions, chart_domain)
if history:
    panels = list(history_charts(history).values())
    for start in range(0, len(panels), 2):  # two a row: each keeps its own axes, within the page's width
        for column, chart in zip(st.columns(2), panels[start:start + 2], strict=False):
            column.altair_chart(chart, width="stretch")
    st.caption(f"Domain **{chart_domain}**, versions in order of registration; bars are bootstrap 95% intervals "
               "where the evaluation computed them.")
else:
    st.info(f"No version of {chart_domain} has metrics yet.")

st.subheader("Lineage")
ids = [str(v.id) for v in shown]
labels = {str(v.id): version_label(v) for v in versions}
requested = st.query_params.get("model")
if requested and requested not in labels:
    # Not one of this tenant's versions as listed: ask the API, which answers 404 for another tenant's.
    try:
        rui.load_detail(cfg.api_url, bearer, requested)
    except RegistryApiError as exc:
        st.error(f"Version {requested!r}: " + rui.describe_registry_error(exc))
    del st.query_params["model"]
    requested = None
if requested in ids:
    st.session_state["models_pick"] = requested
if not ids:
    st.info("No version matches these filters.")
    st.stop()
if st.session_state.get("models_pick") not in ids:
    st.session_state["models_pick"] = ids[0]
pick: str = st.selectbox("Version", ids, key="models_pick", format_func=lambda i: labels[i])
st.query_params["model"] = pick
try:
    detail = rui.load_detail(cfg.api_url, bearer, pick)
except RegistryApiError as exc:
    rui.registry_error(exc)
    st.stop()
lineage = detail.lineage
facts = [
    ("Status", f"{detail.status.value} (since {detail.status_changed_at:%Y-%m-%d %H:%M} UTC, by "
               f"{detail.status_changed_by})" + (f": {detail.status_reason}" if detail.status_reason else "")),
    ("Parent", f"{lineage.parent.name} ({lineage.parent.status.value})" if lineage.parent else "none"),
    ("Dataset version", lineage.dataset_version or "-"),
    ("Evaluation run", lineage.evaluation_run_id or "-"),
    ("Source edits", str(lineage.source_edit_count) if lineage.source_edit_count is not None else "-"),
    ("Base model", detail.base_model),
    ("Adapter", detail.adapter_uri),
    ("Registered", f"{detail.created_at:%Y-%m-%d %H:%M} UTC by {detail.created_by}"),
]
st.dataframe([{"": k, "value": v} for k, v in facts], hide_index=True, width="stretch")
if lineage.source_edit_ids is not None:
    total = lineage.source_edit_ids_total or len(lineage.source_edit_ids)
    with st.expander(f"Source self-edit ids ({len(lineage.source_edit_ids)} of {total} shown)"):
        st.code("\n".join(lineage.source_edit_ids) or "(none)", language=None)
elif lineage.source_edit_ids_error:
    st.caption(f"Source self-edit ids unavailable: {lineage.source_edit_ids_error}")
if detail.metrics:
    st.dataframe([m.model_dump() for m in detail.metrics], hide_index=True, width="stretch")
if rui.is_admin(who, tenant):
    st.markdown("**Status history** (from the audit log)")
    try:
        st.dataframe(status_history(rui.registry_client(cfg.api_url, bearer), pick), hide_index=True, width="stretch")
    except RegistryApiError as exc:
        rui.registry_error(exc)
else:
    st.caption("The full status history is in the audit log, which only an admin of this tenant may read.")

"""Audit log of the registry (admins only): who did what to which version or route, newest first. Read-only."""

from __future__ import annotations

import streamlit as st

from aion_assets.registry.http_client import RegistryApiError
from review_app import registry_ui as rui
from review_app import ui
from review_app.registry_audit import AUDIT_LIMIT_CHOICES, AuditFilters, audit_label, audit_rows

cfg = ui.config()
who = rui.signed_in()
admin_of = [t for t in who.tenants if rui.is_admin(who, t)]
st.title("Audit log")
if not admin_of:  # navigation hides this page from non-admins; a stale session lands here
    st.error("Only an admin of a tenant may read its audit log.")
    st.stop()
tenant = rui.pick_tenant(who, "audit_tenant", admin_of)
with st.sidebar, st.form("audit_filters"):
    st.text_input("Action", key="a_action", placeholder="e.g. route.rollback, model.promoted")
    st.text_input("Subject", key="a_subject", placeholder="e.g. route:support-bot, model:<id>")
    st.text_input("Actor contains", key="a_actor")
    st.text_input("Before/after contains", key="a_text")
    st.selectbox("At most", AUDIT_LIMIT_CHOICES, index=1, key="a_limit")
    st.form_submit_button("Apply filters", icon=":material/filter_alt:")
filters = AuditFilters(
    action=st.session_state.get("a_action") or None,
    subject=st.session_state.get("a_subject") or None,
    actor=st.session_state.get("a_actor") or None,
    text=st.session_state.get("a_text") or None,
    limit=int(st.session_state.get("a_limit", 100)),
)
bearer = ui.token(who, tenant, cfg)
if bearer is None:
    st.stop()
assert bearer is not None
try:
    entries = rui.load_audit(cfg.api_url, bearer, filters)
except RegistryApiError as exc:
    rui.registry_error(exc, "entry")
    st.stop()
st.caption(f"Tenant **{tenant}** · {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}, newest first "
           f"(the newest {filters.limit} matching the action and subject, then narrowed by actor and text)")
if not entries:
    st.info("No audit entry matches these filters.")
    st.stop()
try:
    names = {str(v.id): v.name for v in rui.load_versions(cfg.api_url, bearer)}
except RegistryApiError:
    names = {}  # the log stands without names: subjects keep their ids
st.dataframe(audit_rows(entries, names), hide_index=True, width="stretch", column_config={
    "before": st.column_config.TextColumn(width="medium"),
    "after": st.column_config.TextColumn(width="medium"),
})
labels = [audit_label(e) for e in entries]
chosen: int = st.selectbox("Entry", range(len(entries)), key="audit_pick", format_func=lambda i: labels[i])
entry = entries[min(chosen, len(entries) - 1)]
before, after = st.columns(2)
before.markdown("**Before**")
before.json(entry.before or {}, expanded=True)
after.markdown("**After**")
after.json(entry.after or {}, expanded=True)

"""Routes: the current route of each agent (default and fallback), its history, and rollback after a confirmation.

A rollback names the route version the reviewer saw, so a route changed meanwhile is refused by the
API (409) instead of rolling back something nobody looked at.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from aion_assets.registry.http_client import RegistryApiError
from aion_assets.registry.models import Route
from review_app import registry_ui as rui
from review_app import ui
from review_app.registry_routes import rollback_route, route_history, route_rows
from review_app.registry_services import short_name

cfg = ui.config()
who = rui.signed_in()
tenant = rui.pick_tenant(who, "routes_tenant")
st.session_state.setdefault("rollback_confirm", None)
st.title("Routes")
ui.show_flash()
bearer = ui.token(who, tenant, cfg)
if bearer is None:
    st.stop()
assert bearer is not None
token: str = bearer
can_roll_back = who.can_review(tenant)
try:
    routes = rui.load_routes(cfg.api_url, bearer)
except RegistryApiError as exc:
    rui.registry_error(exc, "route")
    st.stop()
st.caption(f"Tenant **{tenant}** · {len(routes)} route(s)")
if not routes:
    st.info("No agent of this tenant has a route yet.")
    st.stop()
st.dataframe(route_rows(routes), hide_index=True, width="stretch")

agents = [r.agent_id for r in routes]
if st.session_state.get("routes_pick") not in agents:
    st.session_state["routes_pick"] = agents[0]
agent: str = st.selectbox("Agent", agents, key="routes_pick")
route: Route = routes[agents.index(agent)]
st.subheader(f"Route of {agent}")
fallback_name = f"`{route.fallback_model_name}`" if route.fallback_model_name else "(none)"
st.markdown(f"Default `{route.default_model_name}` · fallback {fallback_name} · route version {route.version}")

try:
    history, where = route_history(rui.registry_client(cfg.api_url, bearer), route,
                                   may_read_audit=rui.is_admin(who, tenant))
except RegistryApiError as exc:
    rui.registry_error(exc, "route")
    history, where = [], "The history could not be read."
st.caption(where)
st.dataframe(history, hide_index=True, width="stretch")


def _ask(agent_id: str, version: int, default: str, fallback: str) -> None:
    st.session_state["rollback_confirm"] = {"agent": agent_id, "version": version, "default": default,
                                            "fallback": fallback, "tenant": tenant}


def _run() -> None:
    pending: dict[str, Any] | None = st.session_state.get("rollback_confirm")
    st.session_state["rollback_confirm"] = None
    if not pending or pending["tenant"] != tenant:
        return
    reason = ui.draft_value(f"rollback_reason:{pending['agent']}")
    outcome = rollback_route(rui.registry_client(cfg.api_url, token), pending["agent"], pending["version"], reason)
    ui.flash("success" if outcome.kind == "done" else "error", outcome.message)
    if outcome.kind == "done":
        ui.drop_draft(f"rollback_reason:{pending['agent']}")
    if outcome.kind != "failed":
        rui.registry_changed()


def _cancel() -> None:
    st.session_state["rollback_confirm"] = None


st.divider()
st.subheader("Roll back")
confirm: dict[str, Any] | None = st.session_state.get("rollback_confirm")
if confirm and (confirm["agent"] != agent or confirm["tenant"] != tenant):
    confirm = st.session_state["rollback_confirm"] = None  # another route is shown now: nothing is pending
if not can_roll_back:
    st.info(f"Your role on {tenant} lets you read the routes, not roll them back.")
elif route.fallback_model_id is None:
    st.info(f"{agent} has no fallback version: there is nothing to roll back to.")
else:
    ui.draft(st.text_input, "Reason (stored in the audit log)", f"rollback_reason:{agent}", disabled=bool(confirm),
             placeholder="e.g. refund answers regressed after the last promotion")
    target = short_name(route.fallback_model_name or "")
    st.button(f"Roll back {agent} to {target}", key="rollback", disabled=bool(confirm), on_click=_ask,
              args=(agent, route.version, route.default_model_name, route.fallback_model_name), icon=":material/undo:")
    if confirm:
        st.warning(f"Roll back **{confirm['agent']}** of tenant **{tenant}**: `{confirm['fallback']}` becomes the "
                   f"default and `{confirm['default']}` is retired unless another route uses it. There is no "
                   "fallback afterwards.")
        yes, no = st.columns([1, 5])
        yes.button("Confirm rollback", key="rollback_yes", type="primary", on_click=_run)
        no.button("Cancel", key="rollback_no", on_click=_cancel)

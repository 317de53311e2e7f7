"""What the Routes page does, as plain functions over a RegistryClient (no Streamlit here).

The routes as table rows, a route's history, and the rollback (compare-and-set on the route version
the reviewer saw). Shared helpers are in ``registry_services``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aion_assets.registry.http_client import RegistryApiError, RegistryClient
from aion_assets.registry.models import Route
from review_app.registry_services import Outcome, describe_registry_error, short_name


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

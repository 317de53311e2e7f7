"""What the Audit log page does, as plain functions over a RegistryClient (no Streamlit here).

Filters (the API's, then the console's own on actor and text), table rows and labels of entries.
Shared helpers are in ``registry_services``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aion_assets.registry.http_client import RegistryClient
from aion_assets.registry.models import AuditEntry
from review_app.registry_services import short_name

AUDIT_LIMIT_CHOICES = (50, 100, 500, 1000)


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

"""Automatic rollback when a promoted version's observed quality falls (plain Python).

What "observed quality" means: the interactions a version answered (gateways record the served
version's name, or its id, in ``interactions.model_version``) within a window, and how many of
them drew a correction rewarded below ``regression_low_reward``. When at least
``regression_min_samples`` answers were served and the share of bad ones exceeds
``regression_max_bad_share`` (thresholds per tenant/domain, ``promotion:`` in seal.yaml), the
route goes back to its fallback and an alert is queued.

Safety, step by step:
1. Only routes with a fallback are judged: there is nothing to roll back to otherwise, and the
   alert for a version with no fallback would ask a human for the same action anyway.
2. The rollback names the route version that was judged (optimistic concurrency): if a human or
   the pipeline changed the route meanwhile, the registry refuses, nothing is rolled back, and the
   next tick judges the new route.
3. The registry's rollback is one transaction with its audit entry (and, with a deployment webhook
   configured, its deployment trigger in the outbox), and retires the version it leaves, so a
   crash after it leaves a consistent route; the alert is queued afterwards under an event key
   naming the route version, so a tick repeated after a crash never alerts twice, and a
   crash between rollback and alert loses only the alert, which the next tick cannot re-derive
   (the version is retired): the audit entry stays the record.
4. Too few samples never roll back: a handful of angry corrections is noise, not a regression.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from aion_assets.core.errors import ConflictError
from aion_assets.registry.alerts import alertmanager_payload
from aion_assets.registry.models import ModelVersion, Route
from aion_assets.registry.store import RegistryStore
from aion_assets.seal.config import PromotionThresholds

ACTOR = "regression-sensor"


class ServedQuality(Protocol):
    """What the check needs of the memory store (``MemoryStore.served_quality``)."""

    def served_quality(
        self, tenant_id: str, model_versions: list[str], since: datetime, *, low_reward: float
    ) -> tuple[int, int]: ...


class AlertQueue(Protocol):
    """What the check needs of the webhook outbox (``WebhookOutbox.enqueue``)."""

    def enqueue(self, tenant_id: str, event_key: str, kind: str, url: str, payload: dict) -> bool: ...


@dataclass(frozen=True)
class Verdict:
    """The judgement of one route's default version."""

    tenant_id: str
    agent_id: str
    model_name: str
    served: int
    flagged: int
    rolled_back: bool
    reason: str

    @property
    def share(self) -> float:
        """Share of served answers that drew a low reward (0 when nothing was served)."""
        return self.flagged / self.served if self.served else 0.0


def judge(
    route: Route,
    version: ModelVersion,
    bounds: PromotionThresholds,
    memory: ServedQuality,
    registry: RegistryStore,
    *,
    now: datetime,
    alerts: AlertQueue | None = None,
    alert_url: str | None = None,
    deploy_url: str | None = None,
) -> Verdict:
    """Judge ROUTE's default VERSION on the window ending NOW; roll back and alert when it regressed.

    A rollback queues the deployment trigger of the new route version for DEPLOY_URL (when given) in
    its own transaction, as ``aion rollback`` does.

    Returns:
        The verdict (``rolled_back`` true only when this call changed the route).
    """
    since = now - timedelta(hours=bounds.regression_window_hours)
    served, flagged = memory.served_quality(
        route.tenant_id, [version.name, str(version.id)], since, low_reward=bounds.regression_low_reward
    )

    def verdict(rolled_back: bool, reason: str) -> Verdict:
        return Verdict(route.tenant_id, route.agent_id, version.name, served, flagged, rolled_back, reason)

    if route.fallback_model_id is None:
        return verdict(False, "no fallback to roll back to")
    if served < bounds.regression_min_samples:
        return verdict(False, f"{served} answers served, fewer than {bounds.regression_min_samples}")
    share = flagged / served
    if share <= bounds.regression_max_bad_share:
        return verdict(False, f"{share:.1%} of answers drew a low reward (bound {bounds.regression_max_bad_share:.0%})")
    reason = (
        f"{flagged} of {served} answers in {bounds.regression_window_hours:g} h drew a reward below "
        f"{bounds.regression_low_reward} ({share:.1%} > {bounds.regression_max_bad_share:.0%})"
    )
    try:
        registry.rollback_route(
            route.tenant_id, route.agent_id, ACTOR, expected_version=route.version, reason=f"regression: {reason}",
            deploy_webhook_url=deploy_url,
        )
    except ConflictError as exc:
        return verdict(False, f"route changed meanwhile, not rolled back: {exc}")
    if alerts is not None and alert_url:
        payload = alertmanager_payload(
            "AionModelRegression",
            {"tenant_id": route.tenant_id, "agent_id": route.agent_id, "model": version.name, "severity": "critical"},
            {
                "summary": f"{version.name} rolled back on {route.agent_id}",
                "description": f"{reason}; the route now serves {route.fallback_model_name}.",
            },
            starts_at=now,
        )
        alerts.enqueue(
            route.tenant_id, f"regression:{route.agent_id}:{route.version}", "alert", alert_url, payload
        )
    return verdict(True, reason)

"""Sensors of the registry: approvals start a ``route_table`` run; the webhook outbox is drained.

``approved_promotions_sensor`` reads each tenant's audit log (tenants taken from the
``tenant_domains`` partitions) for ``model.promoted`` entries whose version was
``pending_approval`` before (a reviewer's approval through the API), newer than its cursor, and
requests one ``registry/route_table`` run per approved version (run key ``approved:<model id>``,
so a tick repeated after a crash requests nothing twice). Promotions registered directly by the
pipeline are not approvals: their own run publishes the route.

``webhook_outbox_sensor`` drains the outbox each tick (retries with backoff, every attempt
recorded; see ``registry.webhooks``).
"""

import json
from datetime import datetime

import dagster as dg

from aion_assets.registry.assets import TENANT_DOMAINS, route_table, split_key
from aion_assets.registry.models import ModelStatus
from aion_assets.registry.resources import RegistryResource

CURSOR_VERSION = 1
#: Audit entries read per tenant and tick at most; the cursor makes the next tick read on.
AUDIT_PAGE = 500


def _load_cursor(raw: str | None) -> dict[str, str]:
    if not raw:
        return {}
    data = json.loads(raw)
    if data.get("v") != CURSOR_VERSION:
        raise ValueError(f"sensor cursor version {data.get('v')!r} is not {CURSOR_VERSION}; reset the cursor")
    return dict(data["tenants"])


@dg.sensor(
    target=route_table,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="A promotion approved through the API publishes the route table of its tenant/domain.",
)
def approved_promotions_sensor(
    context: dg.SensorEvaluationContext, registry: RegistryResource
) -> dg.SensorResult | dg.SkipReason:
    """One route_table run per version approved (pending_approval -> promoted) since the cursor."""
    partitions = context.instance.get_dynamic_partitions(TENANT_DOMAINS)
    if not partitions:
        return dg.SkipReason("no tenant/domain partitions yet")
    domains_by_tenant: dict[str, set[str]] = {}
    for key in partitions:
        tenant_id, domain = split_key(key)
        domains_by_tenant.setdefault(tenant_id, set()).add(domain)
    cursor = _load_cursor(context.cursor)
    store = registry.get_store()
    requests: list[dg.RunRequest] = []
    seen = 0
    for tenant_id in sorted(domains_by_tenant):
        since = datetime.fromisoformat(cursor[tenant_id]) if tenant_id in cursor else None
        entries = store.list_audit(tenant_id, action=f"model.{ModelStatus.promoted.value}", limit=AUDIT_PAGE)
        fresh = sorted((e for e in entries if since is None or e.at > since), key=lambda e: e.at)
        for entry in fresh:
            seen += 1
            before, after = entry.before or {}, entry.after or {}
            if before.get("status") != ModelStatus.pending_approval.value:
                continue
            domain = str(after.get("domain"))
            if domain not in domains_by_tenant[tenant_id]:
                continue
            requests.append(
                dg.RunRequest(
                    run_key=f"approved:{after.get('id')}",
                    partition_key=f"{tenant_id}/{domain}",
                    tags={"aion/approved_model": str(after.get("id")), "aion/tenant": tenant_id},
                )
            )
        if fresh:
            cursor[tenant_id] = fresh[-1].at.isoformat()
    new_cursor = json.dumps({"v": CURSOR_VERSION, "tenants": cursor}, sort_keys=True)
    if not requests:
        return dg.SensorResult(
            skip_reason=dg.SkipReason(
                f"no approval since the cursor ({seen} promotion(s) seen, none was pending_approval before)"
            ),
            cursor=new_cursor,
        )
    return dg.SensorResult(run_requests=requests, cursor=new_cursor)


@dg.sensor(
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Delivers pending webhooks (alerts, deployment triggers) with retries and backoff.",
)
def webhook_outbox_sensor(context: dg.SensorEvaluationContext, registry: RegistryResource) -> dg.SkipReason:
    """Drain the webhook outbox once; it never requests runs, it only reports what it delivered."""
    result = registry.get_outbox().drain()
    return dg.SkipReason(
        f"webhooks: {result.delivered} delivered, {result.failed} failed (retried after their backoff)"
        if result.attempted
        else "no webhook due"
    )


sensors = [approved_promotions_sensor, webhook_outbox_sensor]

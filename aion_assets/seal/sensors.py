"""Sensor ``regression_sensor``: a promoted version whose observed quality falls is rolled back.

Each tick judges the default version of every route that has a fallback (``seal.regression``):
the share of its served answers that drew a low-reward correction, over the tenant/domain's
window, with a minimum sample size. A regression is rolled back at once (seconds matter more than
a run's lineage here) and alerted through the webhook outbox; the sensor's skip reason says what
it checked and what it did, and every rollback is in the registry's audit log.
"""

from datetime import UTC, datetime

import dagster as dg

from aion_assets.memory.resources import MemoryStoreResource
from aion_assets.registry.resources import RegistryResource
from aion_assets.seal.regression import judge
from aion_assets.seal.resources import SealResource


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Rolls a route back to its fallback when its promoted version's share of low-reward "
    "corrections passes the bound (promotion.regression_* in seal.yaml), and alerts.",
)
def regression_sensor(
    context: dg.SensorEvaluationContext, memory: MemoryStoreResource, registry: RegistryResource, seal: SealResource
) -> dg.SkipReason:
    """Judge every routed version with a fallback; roll back and alert on a regression."""
    store, reg, config = memory.get_store(), registry.get_store(), seal.load_config()
    outbox = registry.get_outbox() if registry.alert_webhook_url else None
    now = datetime.now(UTC)
    judged, rolled = 0, []
    for tenant in store.list_tenants():
        for route in reg.list_routes(tenant.tenant_id):
            if route.fallback_model_id is None:
                continue
            version = reg.get_version(tenant.tenant_id, route.default_model_id)
            bounds = config.promotion_for(tenant.tenant_id, version.domain)
            verdict = judge(
                route, version, bounds, store, reg, now=now, alerts=outbox, alert_url=registry.alert_webhook_url,
                deploy_url=registry.deploy_webhook_url,
            )
            judged += 1
            if verdict.rolled_back:
                context.log.warning(
                    "rolled back %s on %s/%s: %s", version.name, route.tenant_id, route.agent_id, verdict.reason
                )
                rolled.append(f"{route.tenant_id}/{route.agent_id}")
    if rolled:
        return dg.SkipReason(f"judged {judged} route(s); rolled back {len(rolled)}: {', '.join(rolled)}")
    return dg.SkipReason(f"judged {judged} route(s) with a fallback; none regressed")


sensors = [regression_sensor]

"""``registry/route_table``: each agent of a tenant/domain routed to the newest promoted version.

Per (tenant, agent): default = the domain's newest promoted version, fallback = the promoted one
before it (none when there is only one). The asset depends on ``seal/promotion_decision`` by asset
key only (the registry never imports seal), so in a run that includes the decision, its blocking
checks and those upstream of it (the evaluation gate) must pass before a route is touched. The
registry's status is the record of those gates: only ``promoted`` versions are ever routed, so a
run of its own (the approvals sensor, the UI) cannot route a rejected or pending version either.

Every write is compare-and-set on the route's version (``RegistryStore.set_route``): a route that
changed since it was read makes the run fail with a conflict (run it again) instead of silently
overwriting a concurrent rollback. An unchanged route is not rewritten, so running it again is a
no-op. Each materialization writes the table as JSON to the artifact store under a snapshot number
one above the previous materialization's.
"""

import json
from dataclasses import dataclass
from typing import Any

import dagster as dg

from aion_assets.core.artifacts import key_segment
from aion_assets.core.errors import NotFoundError
from aion_assets.core.resources import ArtifactStoreResource
from aion_assets.registry.models import ModelStatus, ModelVersion, Route, RouteIn
from aion_assets.registry.resources import RegistryResource
from aion_assets.registry.store import RegistryStore
from aion_assets.registry.webhooks import deploy_event_key, deploy_trigger

GROUP = "registry"
PREFIX = ["registry"]
#: The decision asset of seal, named by key (see the import rule in docs/design/layout.md).
PROMOTION_DECISION = dg.AssetKey(["seal", "promotion_decision"])
#: The same dynamic partitions as seal's assets (``seal.partitions.TENANT_DOMAINS``), restated by name.
TENANT_DOMAINS = "tenant_domains"
tenant_domain_partitions = dg.DynamicPartitionsDefinition(name=TENANT_DOMAINS)
#: Publish after a decision, and only when every blocking check of the decision (and so of the
#: evaluation it read) passed; evaluated by ``aion_automation``.
AFTER_PASSED_DECISION = (
    dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
).with_label("after_passed_decision")


def split_key(key: str) -> tuple[str, str]:
    """``tenant/domain`` -> (tenant, domain), split at the last ``/`` (tenant ids may contain one)."""
    tenant_id, sep, domain = key.rpartition("/")
    if not sep or not tenant_id or not domain:
        raise ValueError(f"partition key {key!r} is not 'tenant/domain'")
    return tenant_id, domain


@dataclass(frozen=True)
class RouteChange:
    """What publishing did to one agent's route."""

    agent_id: str
    before: Route | None
    after: Route
    changed: bool


def desired(store: RegistryStore, tenant_id: str, domain: str) -> tuple[ModelVersion, ModelVersion | None] | None:
    """(default, fallback) of DOMAIN: its newest promoted version and the promoted one before it."""
    promoted = store.list_versions(tenant_id, domain=domain, status=ModelStatus.promoted, limit=2)
    if not promoted:
        return None
    return promoted[0], promoted[1] if len(promoted) > 1 else None


def publish(
    store: RegistryStore, tenant_id: str, domain: str, agents: list[str], actor: str
) -> list[RouteChange]:
    """Route every agent of AGENTS to DOMAIN's newest promoted version (see the module docstring).

    Returns:
        One change per agent (``changed`` False when the route already was so); none when the
        domain has no promoted version.

    Raises:
        ConflictError: a route changed between its read and its write; run again.
    """
    target = desired(store, tenant_id, domain)
    if target is None:
        return []
    default, fallback = target
    changes = []
    for agent in agents:
        try:
            before: Route | None = store.get_route(tenant_id, agent)
        except NotFoundError:
            before = None
        fallback_id = fallback.id if fallback is not None else None
        if before is not None and (before.default_model_id, before.fallback_model_id) == (default.id, fallback_id):
            changes.append(RouteChange(agent, before, before, changed=False))
            continue
        after = store.set_route(
            tenant_id,
            RouteIn(
                agent_id=agent,
                default_model_id=default.id,
                fallback_model_id=fallback_id,
                policy=before.policy if before is not None else {},
                expected_version=before.version if before is not None else 0,
            ),
            actor,
        )
        changes.append(RouteChange(agent, before, after, changed=True))
    return changes


def _agents(instance: dg.DagsterInstance, partition: str, domain: str) -> list[str]:
    """The agents the latest promotion decision named (metadata ``agents``); none recorded: DOMAIN."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=PROMOTION_DECISION, asset_partitions=[partition]), limit=1
    ).records
    if records and records[0].asset_materialization is not None:
        value = records[0].asset_materialization.metadata.get("agents")
        agents = value.value if isinstance(value, dg.MetadataValue) else value
        if isinstance(agents, list) and agents and all(isinstance(a, str) for a in agents):
            return agents
    return [domain]


def _previous_snapshot(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str) -> int:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        return 0
    value = records[0].asset_materialization.metadata.get("snapshot_version")
    number = value.value if isinstance(value, dg.MetadataValue) else value
    return int(number) if isinstance(number, int) else 0


def snapshot_doc(tenant_id: str, domain: str, number: int, routes: list[Route]) -> dict[str, Any]:
    """The JSON snapshot of a published route table."""
    return {
        "snapshot_version": number,
        "tenant_id": tenant_id,
        "domain": domain,
        "routes": [r.model_dump(mode="json") for r in routes],
    }


def _queue_deploy_triggers(
    registry: RegistryResource, tenant_id: str, routes: list[Route], snapshot_uri: str, snapshot_version: int
) -> int:
    """Queue one deployment trigger per route version and try to deliver them; returns how many were new.

    Every route of the table is offered, changed or not: the event key (agent and route version)
    makes a repeat a no-op, and a run that crashed between a route write and its trigger is
    repaired by the next run.
    """
    url = registry.deploy_webhook_url
    if url is None or not routes:
        return 0
    outbox = registry.get_outbox()
    queued = sum(
        outbox.enqueue(
            tenant_id, deploy_event_key(r), "deployment", url,
            deploy_trigger(r, snapshot_uri, snapshot_version),
        )
        for r in routes
    )
    if queued:
        outbox.drain(tenant_id)  # one immediate try; the webhook sensor retries what failed
    return queued


@dg.asset(
    key_prefix=PREFIX,
    group_name=GROUP,
    deps=[PROMOTION_DECISION],
    partitions_def=tenant_domain_partitions,
    kinds={"postgres", "json"},
    automation_condition=AFTER_PASSED_DECISION,
)
def route_table(
    context: dg.AssetExecutionContext, registry: RegistryResource, artifacts: ArtifactStoreResource
) -> dg.MaterializeResult:
    """Per-agent routes of a tenant/domain (newest promoted version, previous as fallback), snapshotted as JSON."""
    partition = context.partition_key
    tenant_id, domain = split_key(partition)
    store = registry.get_store()
    agents = _agents(context.instance, partition, domain)
    changes = publish(store, tenant_id, domain, agents, registry.actor)
    number = _previous_snapshot(context.instance, context.asset_key, partition) + 1
    routes = [c.after for c in changes]
    key = f"route-tables/{key_segment(tenant_id)}/{domain}/{number:06d}.json"
    artifact_store = artifacts.get_store()
    artifact_store.put_bytes(
        key, json.dumps(snapshot_doc(tenant_id, domain, number, routes), indent=1, sort_keys=True).encode()
    )
    changed = [c.agent_id for c in changes if c.changed]
    triggers = _queue_deploy_triggers(registry, tenant_id, routes, artifact_store.uri(key), number)
    context.log.info(
        f"{partition}: {len(routes)} route(s), changed: {changed or 'none'}"
        + ("" if routes else " (no promoted version yet: nothing to route)")
    )
    return dg.MaterializeResult(
        metadata={
            "snapshot_version": number,
            "snapshot_uri": artifact_store.uri(key),
            "agents": dg.MetadataValue.json(agents),
            "changed": dg.MetadataValue.json(changed),
            "deploy_triggers_queued": triggers,
            "routes": dg.MetadataValue.json(
                [
                    {
                        "agent_id": r.agent_id,
                        "default": r.default_model_name,
                        "fallback": r.fallback_model_name,
                        "version": r.version,
                    }
                    for r in routes
                ]
            ),
        }
    )


assets = [route_table]

"""Memory-domain assets: the source observation and the retention archive.

Lineage starts at ``memory/interactions`` (row counts of the memory store); the dataset assets
(``aion_assets.seal.datasets.assets``) depend on it by key. The work is done by plain modules
(``memory.store``, ``memory.retention``).
"""


import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from pydantic import Field

from aion_assets.core.resources import ArtifactStoreResource
from aion_assets.memory.resources import MemoryStoreResource
from aion_assets.memory.retention import run_retention

GROUP = "memory"
PREFIX = ["memory"]


#: Refresh the source observation every 15 minutes (run by the automation sensor).
EVERY_15_MINUTES = dg.AutomationCondition.on_cron("*/15 * * * *")


@dg.asset(key_prefix=PREFIX, group_name=GROUP, kinds={"sql"}, automation_condition=EVERY_15_MINUTES)
def interactions(memory: MemoryStoreResource) -> dg.MaterializeResult:
    """Interactions and self-edits in the memory store (counts per tenant, newest timestamp)."""
    store = memory.get_store()
    per_tenant: dict[str, Any] = {}
    newest: datetime | None = None
    for tenant in store.list_tenants():
        counts = store.counts(tenant.tenant_id)
        per_tenant[tenant.tenant_id] = {
            "interactions": counts["interactions"],
            "edits": counts["edits"],
            "newest": counts["newest"].isoformat() if counts["newest"] else None,
            "retention_days": tenant.retention_days,
            "adaptation_opt_out": tenant.adaptation_opt_out,
        }
        if counts["newest"] and (newest is None or counts["newest"] > newest):
            newest = counts["newest"]
    snapshot = json.dumps(per_tenant, sort_keys=True)
    return dg.MaterializeResult(
        metadata={
            "tenants": len(per_tenant),
            "interactions": sum(v["interactions"] for v in per_tenant.values()),
            "approved_edits": sum(v["edits"]["approved"] for v in per_tenant.values()),
            "pending_edits": sum(v["edits"]["pending"] for v in per_tenant.values()),
            "newest": newest.isoformat() if newest else "none",
            "per_tenant": dg.MetadataValue.json(per_tenant),
        },
        # Unchanged counts give an unchanged data version, so downstream is not marked stale.
        data_version=dg.DataVersion(hashlib.sha256(snapshot.encode()).hexdigest()[:16]),
    )


class RetentionConfig(dg.Config):
    """Run configuration of ``memory/interaction_archive``."""

    now: str | None = Field(
        default=None, description="Reference time (ISO 8601) for the cutoff; default: the run's start time."
    )


@dg.asset(key_prefix=PREFIX, group_name=GROUP, deps=[interactions], kinds={"gzip"})
def interaction_archive(
    context: dg.AssetExecutionContext,
    config: RetentionConfig,
    memory: MemoryStoreResource,
    artifacts: ArtifactStoreResource,
) -> dg.MaterializeResult:
    """Interactions older than each tenant's retention, archived as verified gzip JSONL and removed from memory."""
    store = memory.get_store()
    now = datetime.fromisoformat(config.now) if config.now else datetime.now(UTC)
    # Encrypted and signed when the resource has a key (AION_ARCHIVE_KEY or AION_ADAPTER_KEY), like adapters.
    keys = memory.archive_keys()
    run = run_retention(store.engine, artifacts.get_store(), store.list_tenants(), now=now, keys=keys)
    per_tenant: dict[str, dict[str, Any]] = {
        tenant: {
            "archives": len(items),
            "rows": sum(r.manifest.rows for r in items),
            "edits": sum(r.manifest.edits for r in items),
            "deleted": sum(r.deleted for r in items),
            "kept_changed": sum(r.kept for r in items),
            "keys": [r.manifest.key for r in items],
            **({"error": run.failures[tenant]} if tenant in run.failures else {}),
        }
        for tenant, items in run.results.items()
    }
    context.log.info("retention: %s", {t: v["rows"] for t, v in per_tenant.items()})
    metadata = {
        "tenants_with_retention": len(per_tenant),
        "tenants_failed": len(run.failures),
        "archives_written": sum(v["archives"] for v in per_tenant.values()),
        "rows_archived": sum(v["rows"] for v in per_tenant.values()),
        "rows_deleted": sum(v["deleted"] for v in per_tenant.values()),
        "encrypted": keys is not None,
        "per_tenant": dg.MetadataValue.json(per_tenant),
        "failures": dg.MetadataValue.json(run.failures),
        "cutoff_reference": now.isoformat(),
    }
    if run.failures:
        # The other tenants ran; the run still fails, so that the schedule's failure is seen.
        raise dg.Failure(
            description=f"retention failed for {len(run.failures)} tenant(s): {', '.join(sorted(run.failures))}; "
            "the other tenants were archived (see the failure metadata)",
            metadata=metadata,
        )
    return dg.MaterializeResult(metadata=metadata)


assets = [interactions, interaction_archive]

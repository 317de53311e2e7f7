"""Memory-domain assets: the source observation, PII-free edits, and the retention archive.

Lineage starts at ``memory/interactions`` (row counts of the memory store), goes through
``memory/scrubbed_edits`` (one partition per ``tenant/domain``) to ``seal/sft_dataset``.
The work is done by plain modules (``seal.curation``, ``memory.scrub``, ``memory.retention``).
"""


import hashlib
import json
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from aion_assets.core.errors import ConfigError, NotFoundError
from aion_assets.memory.resources import ArtifactStoreResource, MemoryStoreResource, ScrubberResource
from aion_assets.memory.retention import run_retention, tenant_segment
from aion_assets.seal.curation import (
    curate,
    curation_settings,
    dumps_row,
    find_tenant,
    is_usable,
    scrub_examples,
)
from aion_assets.seal.partitions import split_partition_key, tenant_domain_partitions

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


class ScrubbedEditsConfig(dg.Config):
    """Run configuration of ``memory/scrubbed_edits``."""

    min_reward: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Reward threshold; default: the tenant's curation.min_reward (0.5)."
    )


class _Counter:
    """Counts the items passing through an iterator."""

    def __init__(self) -> None:
        self.n = 0

    def wrap(self, items: Iterable[Any]) -> Iterator[Any]:
        for item in items:
            self.n += 1
            yield item


@dg.asset(
    key_prefix=PREFIX,
    group_name=GROUP,
    deps=[interactions],
    partitions_def=tenant_domain_partitions,
    kinds={"presidio", "jsonl"},
)
def scrubbed_edits(
    context: dg.AssetExecutionContext,
    config: ScrubbedEditsConfig,
    memory: MemoryStoreResource,
    artifacts: ArtifactStoreResource,
    scrubber: ScrubberResource,
) -> dg.MaterializeResult:
    """Approved self-edits of one tenant/domain, deduplicated, with PII replaced by typed placeholders."""
    tenant_id, domain = split_partition_key(context.partition_key)
    store = memory.get_store()
    tenant = find_tenant(store.list_tenants(), tenant_id)
    if tenant is None:
        raise NotFoundError(
            f"tenant {tenant_id!r} has no data in the memory store; remove partition {tenant_id}/{domain}"
        )
    if tenant.adaptation_opt_out:
        raise ConfigError(f"tenant {tenant_id!r} opted out of adaptation: its edits are never curated")
    settings = curation_settings(tenant, min_reward=config.min_reward)
    policy = scrubber.policy_for(tenant)
    read, kept = _Counter(), _Counter()
    examples = kept.wrap(
        curate(
            read.wrap(store.iter_approved_edits(tenant_id, min_reward=settings.min_reward)),
            tenant_config=tenant.config,
            min_reward=settings.min_reward,
            domain=domain,
        )
    )
    removed: dict[str, int] = {}
    rows_out = dropped = 0
    digest = hashlib.sha256()
    with tempfile.TemporaryDirectory(prefix="aion-scrub-") as tmp:
        path = Path(tmp) / "scrubbed.jsonl"
        with open(path, "wb") as fh:
            for ex, counts in scrub_examples(examples, scrubber.get_scrubber(), policy, batch_size=scrubber.batch_size):
                for k, v in counts.items():
                    removed[k] = removed.get(k, 0) + v
                if not is_usable(ex):
                    dropped += 1
                    continue
                data = dumps_row(ex.to_row()).encode()
                fh.write(data)
                digest.update(data)
                rows_out += 1
        sha = digest.hexdigest()
        key = f"scrubbed/{tenant_segment(tenant_id)}/{domain}/{sha[:16]}.jsonl"
        uri = artifacts.get_store().put_file(key, path)
    context.log.info("scrubbed %d of %d examples of %s/%s to %s", rows_out, kept.n, tenant_id, domain, uri)
    return dg.MaterializeResult(
        metadata={
            "approved_edits_read": read.n,
            "rows_in": kept.n,
            "rows_out": rows_out,
            "rows_dropped_empty": dropped,
            "removed_total": sum(removed.values()),
            "removed_by_type": dg.MetadataValue.json(dict(sorted(removed.items()))),
            "min_reward": settings.min_reward,
            "sha256": sha,
            "key": key,
            "uri": dg.MetadataValue.url(uri) if uri.startswith("s3://") else dg.MetadataValue.path(uri),
        },
        data_version=dg.DataVersion(sha[:16]),
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
    results = run_retention(store.engine, artifacts.get_store(), store.list_tenants(), now=now)
    per_tenant: dict[str, dict[str, Any]] = {
        tenant: {
            "archives": len(items),
            "rows": sum(r.manifest.rows for r in items),
            "edits": sum(r.manifest.edits for r in items),
            "deleted": sum(r.deleted for r in items),
            "keys": [r.manifest.key for r in items],
        }
        for tenant, items in results.items()
    }
    context.log.info("retention: %s", {t: v["rows"] for t, v in per_tenant.items()})
    return dg.MaterializeResult(
        metadata={
            "tenants_with_retention": len(per_tenant),
            "archives_written": sum(v["archives"] for v in per_tenant.values()),
            "rows_archived": sum(v["rows"] for v in per_tenant.values()),
            "rows_deleted": sum(v["deleted"] for v in per_tenant.values()),
            "per_tenant": dg.MetadataValue.json(per_tenant),
            "cutoff_reference": now.isoformat(),
        }
    )


assets = [interactions, scrubbed_edits, interaction_archive]

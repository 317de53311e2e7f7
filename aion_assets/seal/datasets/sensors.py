"""Sensor ``approved_edits_sensor``: enough newly approved edits in a tenant/domain start a dataset run.

The cursor (JSON) keeps, per tenant, the approval time up to which edits were counted, and per
``tenant/domain`` how many approved edits arrived since its last run. Each tick scans only edits
approved after the tenant's watermark (and at least ``settle_seconds`` ago, so that a review
committing late with an earlier timestamp is still counted), adds them to the pending counts, and
for every partition with at least N pending edits adds the partition if it is new and requests a
run. The run key names the partition and the watermark, so evaluating the same tick twice (a
crash before the cursor was saved) never launches the same work twice. Each run carries the tags
``aion/partition`` and ``aion/queue: gpu`` (``seal.partitions.run_tags``): the run queue holds a
second run of the same partition, and a second training run, until the first one ends.
"""


import json
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from aion_assets.memory.resources import MemoryStoreResource
from aion_assets.memory.watermarks import iter_approved_between
from aion_assets.seal.datasets.assets import scrubbed_edits, sft_dataset, tenant_vocabulary
from aion_assets.seal.datasets.tenant_config import agent_profiles, curation_settings, domain_of
from aion_assets.seal.partitions import (
    GPU_QUEUE,
    QUEUE_TAG,
    TENANT_DOMAINS,
    partition_key,
    run_tags,
    tenant_domain_partitions,
)

CURSOR_VERSION = 1

sft_dataset_job = dg.define_asset_job(
    "sft_dataset_job",
    # Downstream of the dataset come the adapter and its evaluation (when the code location
    # has them), so enough newly approved edits run the whole loop: curate, train, evaluate.
    selection=dg.AssetSelection.assets(tenant_vocabulary, scrubbed_edits, sft_dataset).downstream(),
    description="Scrub and curate one tenant/domain's approved edits into a versioned SFT dataset (with checks), "
    "then train and evaluate its adapter.",
    # The job trains an adapter: its runs wait in the GPU queue, also when launched from the UI.
    tags={QUEUE_TAG: GPU_QUEUE},
)


def _load_cursor(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {"v": CURSOR_VERSION, "tenants": {}, "pending": {}}
    data = json.loads(raw)
    if data.get("v") != CURSOR_VERSION:
        raise ValueError(f"sensor cursor version {data.get('v')!r} is not {CURSOR_VERSION}; reset the cursor")
    return data


#: An approval is counted once it is this old (a review committing late with an earlier timestamp still counts).
SETTLE_SECONDS = 5.0


def build_approved_edits_sensor(
    *, min_new_edits: int = 20, settle_seconds: float = SETTLE_SECONDS, minimum_interval_seconds: int = 60
) -> dg.SensorDefinition:
    """The sensor, with N = MIN_NEW_EDITS unless a tenant's ``config.curation.min_new_edits`` says otherwise.

    Args:
        min_new_edits: newly approved edits in one tenant/domain that trigger a run.
        settle_seconds: edits approved less than this long ago wait for the next tick.
        minimum_interval_seconds: time between ticks.
    """

    @dg.sensor(
        name="approved_edits_sensor",
        job=sft_dataset_job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Starts sft_dataset_job for a tenant/domain once it has >= N (default {min_new_edits}) "
        "newly approved edits.",
    )
    def approved_edits_sensor(context: dg.SensorEvaluationContext, memory: MemoryStoreResource) -> dg.SensorResult:
        cursor = _load_cursor(context.cursor)
        store = memory.get_store()
        until = datetime.now(UTC) - timedelta(seconds=settle_seconds)
        known = set(context.instance.get_dynamic_partitions(TENANT_DOMAINS))
        requests: list[dg.RunRequest] = []
        new_partitions: list[str] = []
        waiting: dict[str, int] = {}
        for tenant in store.list_tenants():
            if tenant.adaptation_opt_out:
                continue
            settings = curation_settings(tenant)
            explicit = (tenant.config.get("curation") or {}).get("min_new_edits")
            threshold = settings.min_new_edits if explicit is not None else min_new_edits
            profiles = agent_profiles(tenant.config)
            after_raw = cursor["tenants"].get(tenant.tenant_id)
            after = datetime.fromisoformat(after_raw) if after_raw else None
            watermark = after
            for edit in iter_approved_between(
                store.engine, tenant.tenant_id, after=after, until=until, min_reward=settings.min_reward
            ):
                pk = partition_key(tenant.tenant_id, domain_of(edit.agent_id, edit.interaction_metadata, profiles))
                cursor["pending"][pk] = cursor["pending"].get(pk, 0) + 1
                watermark = edit.reviewed_at
            if watermark is not None:
                cursor["tenants"][tenant.tenant_id] = watermark.isoformat()
            prefix = tenant.tenant_id + "/"
            for pk, count in sorted(cursor["pending"].items()):
                if not pk.startswith(prefix) or "/" in pk[len(prefix):]:
                    continue
                if count < threshold:
                    waiting[pk] = count
                    continue
                if pk not in known:
                    new_partitions.append(pk)
                    known.add(pk)
                requests.append(
                    dg.RunRequest(
                        partition_key=pk,
                        run_key=f"{pk}@{cursor['tenants'][tenant.tenant_id]}",
                        tags={**run_tags(pk, gpu=True), "aion/trigger": f"{count} approved edits"},
                    )
                )
                cursor["pending"][pk] = 0
        new_cursor = json.dumps(cursor, sort_keys=True)
        dynamic = [tenant_domain_partitions.build_add_request(new_partitions)] if new_partitions else []
        if not requests:
            detail = ", ".join(f"{pk}: {n}" for pk, n in sorted(waiting.items()) if n) or "no newly approved edits"
            return dg.SensorResult(
                skip_reason=dg.SkipReason(f"no tenant/domain reached its threshold ({detail})"),
                cursor=new_cursor,
            )
        return dg.SensorResult(run_requests=requests, dynamic_partitions_requests=dynamic, cursor=new_cursor)

    return approved_edits_sensor


approved_edits_sensor = build_approved_edits_sensor()
sensors = [approved_edits_sensor]
jobs = [sft_dataset_job]

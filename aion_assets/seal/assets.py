"""SEAL-domain assets: the curated SFT dataset (training and evaluation assets join later).

``seal/sft_dataset`` reads the latest ``memory/scrubbed_edits`` materialization of its partition,
splits it deterministically into train and eval, and writes both files under a version derived
from their content hash, so re-materializing unchanged data produces the same version.
"""


import contextlib
import json
import tempfile
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from aion_assets.core.errors import ConfigError, NotFoundError
from aion_assets.memory.assets import scrubbed_edits
from aion_assets.memory.resources import ArtifactStoreResource, MemoryStoreResource
from aion_assets.memory.retention import tenant_segment
from aion_assets.seal.curation import (
    SPLITS,
    Example,
    curation_settings,
    find_tenant,
    read_rows,
    write_splits,
)
from aion_assets.seal.partitions import split_partition_key, tenant_domain_partitions

GROUP = "seal"
PREFIX = ["seal"]


def latest_metadata(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str) -> dict[str, Any]:
    """The metadata values of KEY's latest materialization of PARTITION.

    Raises:
        NotFoundError: the partition was never materialized.
    """
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        raise NotFoundError(f"{key.to_user_string()} has no materialization of partition {partition!r}; materialize it")
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}


def dataset_prefix(tenant_id: str, domain: str, version: str) -> str:
    """``datasets/{tenant}/{domain}/{version}`` (tenant percent-quoted like the archives)."""
    return f"datasets/{tenant_segment(tenant_id)}/{domain}/{version}"


class SftDatasetConfig(dg.Config):
    """Run configuration of ``seal/sft_dataset``; unset fields come from the tenant's curation settings."""

    eval_share: float | None = Field(
        default=None, ge=0.0, lt=1.0, description="Share of interactions held out for evaluation (default 0.2)."
    )
    min_rows: int | None = Field(
        default=None, ge=1, description="Fewest rows the blocking check accepts (default 10)."
    )


@dg.asset(
    key_prefix=PREFIX,
    group_name=GROUP,
    deps=[scrubbed_edits],
    partitions_def=tenant_domain_partitions,
    kinds={"jsonl", "s3"},
)
def sft_dataset(
    context: dg.AssetExecutionContext,
    config: SftDatasetConfig,
    memory: MemoryStoreResource,
    artifacts: ArtifactStoreResource,
) -> dg.MaterializeResult:
    """Curated PII-free SFT dataset of one tenant/domain: train.jsonl and eval.jsonl, versioned by content."""
    partition = context.partition_key
    tenant_id, domain = split_partition_key(partition)
    tenant = find_tenant(memory.get_store().list_tenants(), tenant_id)
    if tenant is not None and tenant.adaptation_opt_out:
        raise ConfigError(f"tenant {tenant_id!r} opted out of adaptation: no dataset is built for it")
    settings = curation_settings(tenant, eval_share=config.eval_share, min_rows=config.min_rows)
    upstream = latest_metadata(context.instance, scrubbed_edits.key, partition)
    store = artifacts.get_store()
    with tempfile.TemporaryDirectory(prefix="aion-sft-") as tmp:
        paths = {s: Path(tmp) / f"{s}.jsonl" for s in SPLITS}
        with contextlib.ExitStack() as stack:
            outputs = {s: stack.enter_context(open(p, "wb")) for s, p in paths.items()}
            source = stack.enter_context(contextlib.closing(store.open_read(upstream["key"])))
            summary = write_splits(
                (Example.from_row(r) for r in read_rows(source)), outputs, eval_share=settings.eval_share
            )
        prefix = dataset_prefix(tenant_id, domain, summary.version)
        keys = {s: f"{prefix}/{s}.jsonl" for s in SPLITS}
        manifest_key = f"{prefix}/manifest.json"
        reused = store.exists(manifest_key)
        if not reused:
            for s in SPLITS:
                store.put_file(keys[s], paths[s])
            # The manifest goes last: its presence means the version is complete.
            manifest = {
                "tenant_id": tenant_id,
                "domain": domain,
                "version": summary.version,
                "content_hash": summary.content_hash,
                "rows": summary.rows,
                "split_sha256": summary.split_sha256,
                "min_reward": upstream.get("min_reward"),
                "eval_share": settings.eval_share,
            }
            store.put_bytes(manifest_key, json.dumps(manifest, sort_keys=True, indent=1).encode())
    uri = store.uri(prefix)
    context.log.info("sft_dataset %s version %s: %s rows (%s)", partition, summary.version, summary.rows, uri)
    return dg.MaterializeResult(
        metadata={
            "version": summary.version,
            "content_hash": summary.content_hash,
            "rows_train": summary.rows["train"],
            "rows_eval": summary.rows["eval"],
            "rows_total": summary.total,
            "reward_histogram": dg.MetadataValue.json(summary.reward_histogram),
            "uri": uri,
            "train_key": keys["train"],
            "eval_key": keys["eval"],
            "train_uri": store.uri(keys["train"]),
            "eval_uri": store.uri(keys["eval"]),
            "min_reward": float(upstream.get("min_reward", settings.min_reward)),
            "min_rows": settings.min_rows,
            "eval_share": settings.eval_share,
            "reused_existing_version": reused,
            "scrubbed_key": upstream["key"],
        },
        data_version=dg.DataVersion(summary.version),
    )


assets = [sft_dataset]

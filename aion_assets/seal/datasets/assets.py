"""Dataset assets: approved edits made PII-free, then the versioned SFT dataset.

Lineage: ``memory/interactions`` -> ``memory/scrubbed_edits`` (one partition per ``tenant/domain``)
-> ``seal/sft_dataset``. The work is done by plain modules (``seal.datasets.curate``,
``memory.scrub``, ``seal.datasets.versions``); ``seal/sft_dataset`` splits the scrubbed rows
deterministically into train and eval and writes both files under a version derived from their
content hash, so re-materializing unchanged data produces the same version.
"""

import contextlib
import hashlib
import json
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from aion_assets.core.artifacts import key_segment
from aion_assets.core.errors import ConfigError, NotFoundError
from aion_assets.core.jsonl import read_rows
from aion_assets.core.resources import ArtifactStoreResource
from aion_assets.memory.assets import interactions
from aion_assets.memory.resources import MemoryStoreResource, ScrubberResource
from aion_assets.seal.datasets.curate import curate, is_usable, scrub_examples
from aion_assets.seal.datasets.rows import SPLITS, Example, dumps_row
from aion_assets.seal.datasets.tenant_config import curation_settings
from aion_assets.seal.datasets.versions import dataset_prefix, write_splits
from aion_assets.seal.partitions import split_partition_key, tenant_domain_partitions
from aion_assets.seal.refs import latest_metadata

#: ``scrubbed_edits`` keeps the memory group and key prefix it always had (its key is unchanged).
MEMORY_GROUP = "memory"
MEMORY_PREFIX = ["memory"]
GROUP = "seal"
PREFIX = ["seal"]


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
    key_prefix=MEMORY_PREFIX,
    group_name=MEMORY_GROUP,
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
    tenant = store.get_tenant(tenant_id)
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
        key = f"scrubbed/{key_segment(tenant_id)}/{domain}/{sha[:16]}.jsonl"
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
    tenant = memory.get_store().get_tenant(tenant_id)
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


assets = [scrubbed_edits, sft_dataset]

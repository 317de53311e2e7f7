"""Dataset assets: approved edits made PII-free, then the versioned SFT dataset.

Lineage: ``memory/interactions`` -> ``seal/tenant_vocabulary`` -> ``memory/scrubbed_edits`` (one
partition per ``tenant/domain``) -> ``seal/sft_dataset``. The vocabulary (terms the tenant's answers
give many different users) is part of the scrub policy ``scrubbed_edits`` applies. The work is done
by plain modules (``seal.datasets.curate``, ``seal.datasets.vocabulary``, ``memory.scrub``,
``seal.datasets.versions``); ``seal/sft_dataset`` splits the scrubbed rows
deterministically into train and eval and writes both files under a version derived from their
content hash, so re-materializing unchanged data produces the same version.
``scrubbed_edits`` applies the policy to the stored analysis of each text (``memory.detections``):
only texts that this scrubber version never analysed (new approvals) run the NER.
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
from aion_assets.core.errors import ArtifactError, ConfigError, NotFoundError
from aion_assets.core.jsonl import read_rows
from aion_assets.core.resources import ArtifactStoreResource
from aion_assets.memory.assets import interactions
from aion_assets.memory.detections import DetectionStore, StoredScrubber
from aion_assets.memory.models import Tenant
from aion_assets.memory.resources import MemoryStoreResource, ScrubberResource
from aion_assets.memory.scrub.policy import ScrubPolicy, scrub_policy, vocabulary_settings
from aion_assets.seal.datasets.curate import curate, is_usable, scrub_examples
from aion_assets.seal.datasets.rows import SPLITS, Example, dumps_row
from aion_assets.seal.datasets.tenant_config import curation_settings
from aion_assets.seal.datasets.versions import dataset_prefix, write_splits
from aion_assets.seal.datasets.vocabulary import answers_of, learn_vocabulary, read_vocabulary
from aion_assets.seal.partitions import split_partition_key, tenant_domain_partitions
from aion_assets.seal.refs import DatasetRef, ScrubbedRef, VocabularyRef, latest

#: ``scrubbed_edits`` keeps the memory group and key prefix it always had (its key is unchanged).
MEMORY_GROUP = "memory"
MEMORY_PREFIX = ["memory"]
GROUP = "seal"
PREFIX = ["seal"]
PROGRESS_EVERY = 1000  # examples between two progress lines of scrubbed_edits


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
    kinds={"json"},
)
def tenant_vocabulary(
    context: dg.AssetExecutionContext, memory: MemoryStoreResource, artifacts: ArtifactStoreResource
) -> dg.MaterializeResult:
    """The tenant's learned vocabulary: terms its answers give many different users, kept by the scrubber."""
    # Learned from all the tenant's answered interactions (every domain: the company's voice is one),
    # stored as vocabulary/<tenant>/<version>.json; metadata holds counts, never a term.
    tenant_id, domain = split_partition_key(context.partition_key)
    store = memory.get_store()
    tenant = store.get_tenant(tenant_id)
    if tenant is None:
        raise NotFoundError(
            f"tenant {tenant_id!r} has no data in the memory store; remove partition {tenant_id}/{domain}"
        )
    if tenant.adaptation_opt_out:
        raise ConfigError(f"tenant {tenant_id!r} opted out of adaptation: no vocabulary is learned from its data")
    vocab = learn_vocabulary(
        tenant_id,
        answers_of(store.iter_approved_edits(tenant_id, min_reward=0.0)),
        vocabulary_settings(tenant),
        deny_list=scrub_policy(tenant).deny_list,
    )
    data = vocab.to_json()
    ref = VocabularyRef(
        key=f"vocabulary/{key_segment(tenant_id)}/{vocab.version}.json",
        version=vocab.version,
        sha256=vocab.sha256,
        terms=len(vocab.terms),
    )
    uri = artifacts.get_store().put_bytes(ref.key, data)
    counts = vocab.counts()
    context.log.info("vocabulary of %s: %d terms from %d answers (%s)", tenant_id, len(vocab.terms), vocab.answers, uri)
    return dg.MaterializeResult(
        metadata={
            **ref.to_metadata(),
            "answers": counts["answers"],
            "users": counts["users"],
            "candidates": counts["candidates"],
            "refused_by_reason": dg.MetadataValue.json(counts["refused"]),
            "min_users": vocab.settings.min_users,
            "min_share": vocab.settings.min_share,
            "uri": dg.MetadataValue.url(uri) if uri.startswith("s3://") else dg.MetadataValue.path(uri),
        },
        data_version=dg.DataVersion(vocab.version),
    )


def learned_policy(
    instance: dg.DagsterInstance, partition: str, tenant: Tenant | None, artifacts: ArtifactStoreResource
) -> tuple[VocabularyRef, ScrubPolicy]:
    """TENANT's scrub policy with the vocabulary of the latest ``tenant_vocabulary`` of PARTITION.

    Used by ``scrubbed_edits`` and by the dataset's PII check, so the re-scan applies the policy
    the rows were scrubbed with (a kept catalogue term is not "PII found again").

    Raises:
        NotFoundError: the vocabulary of PARTITION was never materialized.
        ArtifactError: its artifact cannot be read.
    """
    ref = latest(instance, tenant_vocabulary.key, partition, VocabularyRef)
    try:
        terms = read_vocabulary(artifacts.get_store().get_bytes(ref.key))
    except ValueError as exc:
        raise ArtifactError(f"vocabulary artifact {ref.key}: {exc}; materialize seal/tenant_vocabulary again") from exc
    return ref, scrub_policy(tenant, terms)


@dg.asset(
    key_prefix=MEMORY_PREFIX,
    group_name=MEMORY_GROUP,
    deps=[interactions, tenant_vocabulary],
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
    vocab, policy = learned_policy(context.instance, context.partition_key, tenant, artifacts)
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
    # Stored detections (memory.detections): only texts never analysed by this scrubber version run
    # the NER; after a version change this run is the backfill, and logs its progress.
    engine = StoredScrubber(scrubber.get_scrubber(), DetectionStore(store.engine), tenant_id)
    with tempfile.TemporaryDirectory(prefix="aion-scrub-") as tmp:
        path = Path(tmp) / "scrubbed.jsonl"
        with open(path, "wb") as fh:
            for n, (ex, counts) in enumerate(
                scrub_examples(examples, engine, policy, batch_size=scrubber.batch_size), start=1
            ):
                if n % PROGRESS_EVERY == 0:
                    context.log.info("scrubbed %d examples: %d texts analysed, %d reused", n, engine.analysed,
                                     engine.reused)
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
        ref = ScrubbedRef(
            key=f"scrubbed/{key_segment(tenant_id)}/{domain}/{sha[:16]}.jsonl",
            sha256=sha,
            rows=rows_out,
            min_reward=settings.min_reward,
        )
        uri = artifacts.get_store().put_file(ref.key, path)
    context.log.info("scrubbed %d of %d examples of %s/%s to %s", rows_out, kept.n, tenant_id, domain, uri)
    return dg.MaterializeResult(
        metadata={
            **ref.to_metadata(),
            "approved_edits_read": read.n,
            "rows_in": kept.n,
            "rows_dropped_empty": dropped,
            "removed_total": sum(removed.values()),
            "removed_by_type": dg.MetadataValue.json(dict(sorted(removed.items()))),
            "vocabulary_version": vocab.version,
            "vocabulary_terms": vocab.terms,
            "texts_analysed": engine.analysed,
            "texts_reused": engine.reused,
            "scrubber_version": engine.analysis.version,
            "uri": dg.MetadataValue.url(uri) if uri.startswith("s3://") else dg.MetadataValue.path(uri),
        },
        data_version=dg.DataVersion(sha[:16]),
    )


def _noting_edit_ids(examples: Iterable[Example], into: set[str]) -> Iterator[Example]:
    """EXAMPLES unchanged, adding each one's self-edit id to INTO as it passes (streaming)."""
    for ex in examples:
        into.add(ex.edit_id)
        yield ex


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
    upstream = latest(context.instance, scrubbed_edits.key, partition, ScrubbedRef)
    store = artifacts.get_store()
    with tempfile.TemporaryDirectory(prefix="aion-sft-") as tmp:
        paths = {s: Path(tmp) / f"{s}.jsonl" for s in SPLITS}
        with contextlib.ExitStack() as stack:
            outputs = {s: stack.enter_context(open(p, "wb")) for s, p in paths.items()}
            source = stack.enter_context(contextlib.closing(store.open_read(upstream.key)))
            edit_ids: set[str] = set()
            summary = write_splits(
                _noting_edit_ids((Example.from_row(r) for r in read_rows(source)), edit_ids),
                outputs,
                eval_share=settings.eval_share,
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
                "min_reward": upstream.min_reward,
                "eval_share": settings.eval_share,
                # The registry's lineage of a version reads these (registry/lineage.py); the rows
                # hold them too, so the content hash already covers them.
                "source_edit_ids": sorted(edit_ids),
            }
            store.put_bytes(manifest_key, json.dumps(manifest, sort_keys=True, indent=1).encode())
    ref = DatasetRef(
        version=summary.version,
        content_hash=summary.content_hash,
        train_key=keys["train"],
        eval_key=keys["eval"],
        uri=store.uri(prefix),
        min_reward=upstream.min_reward,
        min_rows=settings.min_rows,
    )
    context.log.info("sft_dataset %s version %s: %s rows (%s)", partition, ref.version, summary.rows, ref.uri)
    return dg.MaterializeResult(
        metadata={
            **ref.to_metadata(),
            "rows_train": summary.rows["train"],
            "rows_eval": summary.rows["eval"],
            "rows_total": summary.total,
            "reward_histogram": dg.MetadataValue.json(summary.reward_histogram),
            "train_uri": store.uri(keys["train"]),
            "eval_uri": store.uri(keys["eval"]),
            "eval_share": settings.eval_share,
            "reused_existing_version": reused,
            "scrubbed_key": upstream.key,
        },
        data_version=dg.DataVersion(summary.version),
    )


assets = [tenant_vocabulary, scrubbed_edits, sft_dataset]

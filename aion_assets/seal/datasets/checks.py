"""Blocking checks on the dataset assets: a failed check stops every downstream asset (training).

- ``scrubbed_file_intact``: the stored scrubbed file reads back with its recorded row count and sha256;

- ``no_pii_left``: a deterministic sample is scanned again by the scrubber (placeholders aside,
  nothing may be found), and the values the scrubber finds in the *original* texts of those rows
  are probed for verbatim in the dataset rows (both read the analyses stored when the rows were
  scrubbed, ``memory.detections``: a rebuild of unchanged data runs no NER);
- ``unique_interaction_ids``, ``rewards_above_threshold``, ``splits_disjoint``, ``enough_rows``:
  one pass over both splits.

Check metadata carries counts by entity type, never a value.
"""


import contextlib
import hashlib
import random
import re
import uuid
from collections.abc import Iterator
from typing import Any

import dagster as dg

from aion_assets.core.errors import NotFoundError
from aion_assets.core.jsonl import iter_lines, stored_rows
from aion_assets.core.resources import ArtifactStoreResource
from aion_assets.memory.detections import DetectionStore, StoredAnalysis
from aion_assets.memory.resources import MemoryStoreResource, ScrubberResource
from aion_assets.seal.datasets.assets import learned_policy, scrubbed_edits, sft_dataset
from aion_assets.seal.datasets.rows import SPLITS
from aion_assets.seal.partitions import split_partition_key, tenant_domain_partitions
from aion_assets.seal.refs import DatasetRef, ScrubbedRef, latest

PII_SAMPLE = 100
MIN_PROBE_CHARS = 3
_PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9_]*>")


def _rows(artifacts: ArtifactStoreResource, dataset: DatasetRef) -> Iterator[tuple[str, dict[str, Any]]]:
    store = artifacts.get_store()
    for split in SPLITS:
        for row in stored_rows(store, dataset.split_key(split)):
            yield split, row


def _outside_placeholders(text: str, start: int, end: int) -> bool:
    """Whether a letter or digit of TEXT[START:END] lies outside every ``<TYPE>`` placeholder."""
    masked: set[int] = set()
    for m in _PLACEHOLDER.finditer(text, max(0, start - 64), min(len(text), end + 64)):
        masked.update(range(m.start(), m.end()))
    return any(text[i].isalnum() and i not in masked for i in range(start, min(end, len(text))))


def _sample(rows: Iterator[tuple[str, dict[str, Any]]], k: int, seed: str) -> list[dict[str, Any]]:
    """A reservoir sample of K rows, the same for the same dataset (seeded by its content hash)."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for n, (_, row) in enumerate(rows):
        if n < k:
            out.append(row)
        else:
            j = rng.randint(0, n)
            if j < k:
                out[j] = row
    return out


@dg.asset_check(asset=sft_dataset, blocking=True, partitions_def=tenant_domain_partitions)
def no_pii_left(
    context: dg.AssetCheckExecutionContext,
    memory: MemoryStoreResource,
    artifacts: ArtifactStoreResource,
    scrubber: ScrubberResource,
) -> dg.AssetCheckResult:
    """No PII in a sample of the dataset: re-scan finds nothing, removed values are absent verbatim."""
    partition = context.partition_key
    tenant_id, _ = split_partition_key(partition)
    dataset = latest(context.instance, sft_dataset.key, partition, DatasetRef)
    store = memory.get_store()
    tenant = store.get_tenant(tenant_id)
    _, policy = learned_policy(context.instance, partition, tenant, artifacts)  # the policy the rows had
    engine = scrubber.get_scrubber()
    # The stored analyses of this scrubber version (memory.detections): the rows' outputs and their
    # originals were analysed when they were scrubbed, so the re-scan is the same computation, read back.
    stored = StoredAnalysis(DetectionStore(store.engine), tenant_id, engine)
    sample = _sample(_rows(artifacts, dataset), PII_SAMPLE, dataset.content_hash)
    texts = [t for row in sample for t in (row["prompt"], row["response"])]
    found: dict[str, int] = {}
    for text, spans in zip(texts, engine.analyze_many(texts, policy, stored), strict=True):
        for s in spans:
            if _outside_placeholders(text, s.start, s.end):
                found[s.entity_type] = found.get(s.entity_type, 0) + 1
    # Probes: what the scrubber finds in the originals must not appear verbatim in the rows.
    originals: list[str] = []
    scrubbed: list[str] = []
    missing = 0
    for row in sample:
        m = row["metadata"]
        try:
            inter = store.get_interaction(tenant_id, uuid.UUID(m["interaction_id"]))
            edit = store.get_self_edit(tenant_id, uuid.UUID(m["edit_id"]))
        except NotFoundError:
            missing += 1  # archived by retention since: nothing to compare with
            continue
        originals += [inter.input_text, edit.edited_output]
        scrubbed += [row["prompt"], row["response"]]
    leaks: dict[str, int] = {}
    probes = 0
    for orig, out, spans in zip(originals, scrubbed, engine.analyze_many(originals, policy, stored), strict=True):
        for s in spans:
            value = orig[s.start : s.end].strip()
            if len(value) < MIN_PROBE_CHARS:
                continue
            probes += 1
            if value in out:
                leaks[s.entity_type] = leaks.get(s.entity_type, 0) + 1
    passed = not found and not leaks
    return dg.AssetCheckResult(
        passed=passed,
        metadata={
            "sample_rows": len(sample),
            "rescan_findings_by_type": dg.MetadataValue.json(dict(sorted(found.items()))),
            "probes": probes,
            "probe_leaks_by_type": dg.MetadataValue.json(dict(sorted(leaks.items()))),
            "originals_missing": missing,
        },
        description=None if passed else "PII found in the dataset sample; see the counts by type",
    )


_STRUCTURE = ("unique_interaction_ids", "rewards_above_threshold", "splits_disjoint", "enough_rows")


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            name,
            asset=sft_dataset,
            blocking=True,
            partitions_def=tenant_domain_partitions,
            description=desc,
        )
        for name, desc in zip(
            _STRUCTURE,
            (
                "No interaction id appears twice in the dataset.",
                "Every row's reward is at least the dataset's min_reward.",
                "No interaction is in both train and eval.",
                "The dataset has at least min_rows rows.",
            ),
            strict=True,
        )
    ],
)
def sft_dataset_structure(
    context: dg.AssetCheckExecutionContext, artifacts: ArtifactStoreResource
) -> Iterator[dg.AssetCheckResult]:
    """Structural checks of the dataset (ids unique, rewards over threshold, splits disjoint, size)."""
    dataset = latest(context.instance, sft_dataset.key, context.partition_key, DatasetRef)
    min_reward, min_rows = dataset.min_reward, dataset.min_rows
    first_split: dict[str, str] = {}
    duplicates = cross = below = total = 0
    for split, row in _rows(artifacts, dataset):
        total += 1
        rid = row["metadata"]["interaction_id"]
        seen = first_split.get(rid)
        if seen is None:
            first_split[rid] = split
        elif seen == split:
            duplicates += 1
        else:
            cross += 1
        if float(row["metadata"]["reward_score"]) < min_reward:
            below += 1
    yield dg.AssetCheckResult(
        check_name="unique_interaction_ids", passed=duplicates == 0, metadata={"duplicates": duplicates}
    )
    yield dg.AssetCheckResult(
        check_name="rewards_above_threshold",
        passed=below == 0,
        metadata={"rows_below": below, "min_reward": min_reward},
    )
    yield dg.AssetCheckResult(check_name="splits_disjoint", passed=cross == 0, metadata={"in_both_splits": cross})
    yield dg.AssetCheckResult(
        check_name="enough_rows", passed=total >= min_rows, metadata={"rows": total, "min_rows": min_rows}
    )


@dg.asset_check(asset=scrubbed_edits, blocking=True, partitions_def=tenant_domain_partitions)
def scrubbed_file_intact(
    context: dg.AssetCheckExecutionContext, artifacts: ArtifactStoreResource
) -> dg.AssetCheckResult:
    """The stored scrubbed file reads back with the row count and sha256 recorded at materialization."""
    scrubbed = latest(context.instance, scrubbed_edits.key, context.partition_key, ScrubbedRef)
    digest, rows = hashlib.sha256(), 0
    with contextlib.closing(artifacts.get_store().open_read(scrubbed.key)) as stream:
        for line in iter_lines(stream):
            digest.update(line)
            rows += bool(line.strip())
    passed = digest.hexdigest() == scrubbed.sha256 and rows == scrubbed.rows
    return dg.AssetCheckResult(passed=passed, metadata={"rows_read": rows, "rows_expected": scrubbed.rows})


checks = [scrubbed_file_intact, no_pii_left, sft_dataset_structure]

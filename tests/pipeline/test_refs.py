"""The typed hand-offs between assets (``seal/refs.py``).

Protects: each ref survives a real materialization unchanged (types included: a row count comes
back an int, a threshold a float); the adapter's ref carries its dataset under ``dataset_*`` keys
without clashing with its own; a missing key is an ``ArtifactError`` naming the key, the asset and
the partition; a partition never materialized is a ``NotFoundError`` that says to materialize it.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import pytest

from aion_assets.core.errors import ArtifactError, NotFoundError
from aion_assets.seal.partitions import TENANT_DOMAINS, tenant_domain_partitions
from aion_assets.seal.refs import AdapterRef, DatasetRef, ScrubbedRef, VocabularyRef, latest

PARTITION = "acme/support"
VOCABULARY = VocabularyRef(
    key="vocabulary/acme/0123456789abcdef.json", version="0123456789abcdef", sha256="0123456789abcdef" * 4, terms=7
)
SCRUBBED = ScrubbedRef(key="scrubbed/acme/support/0123.jsonl", sha256="ab" * 32, rows=30, min_reward=0.5)
DATASET = DatasetRef(
    version="v-0123456789ab",
    content_hash="0123456789ab" + "cd" * 26,
    train_key="datasets/acme/support/v-0123456789ab/train.jsonl",
    eval_key="datasets/acme/support/v-0123456789ab/eval.jsonl",
    uri="file:///tmp/artifacts/datasets/acme/support/v-0123456789ab",
    min_reward=0.5,
    min_rows=10,
)
ADAPTER = AdapterRef(
    version="aion-base+seal-acme~support@2026.04.01-093015-1a2b3c4d",
    prefix="seal-adapters/aion-base+seal-acme~support/20260401T093015Z-1a2b3c4d",
    uri="file:///tmp/artifacts/seal-adapters/aion-base+seal-acme~support/20260401T093015Z-1a2b3c4d",
    base="aion-base",
    base_sha256="ef" * 32,
    dataset=DATASET,
)


def _record(instance: dg.DagsterInstance, metadata: dict[str, Any]) -> dg.AssetKey:
    """Materialize a partitioned asset whose metadata is METADATA; returns its key."""

    @dg.asset(name="handoff", partitions_def=tenant_domain_partitions)
    def handoff() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata=metadata)

    instance.add_dynamic_partitions(TENANT_DOMAINS, [PARTITION])
    assert dg.materialize([handoff], partition_key=PARTITION, instance=instance).success
    return handoff.key


@pytest.mark.parametrize("ref", [VOCABULARY, SCRUBBED, DATASET, ADAPTER], ids=lambda r: type(r).__name__)
def test_a_ref_survives_a_materialization(ref: VocabularyRef | ScrubbedRef | DatasetRef | AdapterRef) -> None:
    instance = dg.DagsterInstance.ephemeral()
    key = _record(instance, {**ref.to_metadata(), "shown_in_the_ui": 1})
    back = latest(instance, key, PARTITION, type(ref))
    assert back == ref
    for name, value in vars(back).items():
        assert type(value) is type(getattr(ref, name)), name


def test_the_adapter_ref_nests_its_dataset_under_a_prefix() -> None:
    meta = ADAPTER.to_metadata()
    assert meta["version"] == ADAPTER.version and meta["dataset_version"] == DATASET.version
    assert meta["dataset_eval_key"] == DATASET.eval_key
    assert all(isinstance(v, str | int | float | bool) for v in meta.values())
    assert AdapterRef.from_metadata(meta).dataset == DATASET


def test_a_missing_key_is_named() -> None:
    meta = DATASET.to_metadata()
    del meta["train_key"]
    with pytest.raises(ArtifactError, match="'train_key'"):
        DatasetRef.from_metadata(meta)
    instance = dg.DagsterInstance.ephemeral()
    key = _record(instance, meta)
    with pytest.raises(ArtifactError, match=rf"handoff partition '{PARTITION}': .*'train_key'"):
        latest(instance, key, PARTITION, DatasetRef)
    adapter_meta = ADAPTER.to_metadata()
    del adapter_meta["dataset_eval_key"]
    with pytest.raises(ArtifactError, match="'dataset_eval_key'"):
        AdapterRef.from_metadata(adapter_meta)


def test_a_partition_never_materialized_says_to_materialize_it() -> None:
    instance = dg.DagsterInstance.ephemeral()
    message = r"seal/sft_dataset has no materialization of partition 'acme/x'; materialize it"
    with pytest.raises(NotFoundError, match=message):
        latest(instance, dg.AssetKey(["seal", "sft_dataset"]), "acme/x", DatasetRef)

"""Typed hand-offs between assets: what one materialization tells the next.

Each asset that another asset reads records a frozen ref in its materialization metadata
(``to_metadata()``: plain values under the same keys the UI has always shown), and the reader
gets it back with :func:`latest` (``from_metadata()``), so a renamed or missing key is one clear
error here instead of a ``KeyError`` deep inside a run:

- ``seal/tenant_vocabulary`` -> :class:`VocabularyRef` (read by ``scrubbed_edits``);
- ``memory/scrubbed_edits`` -> :class:`ScrubbedRef` (read by ``sft_dataset`` and its check);
- ``seal/sft_dataset`` -> :class:`DatasetRef` (read by ``lora_adapter`` and the dataset checks);
- ``seal/lora_adapter`` -> :class:`AdapterRef`, which carries the :class:`DatasetRef` it was
  trained on, so ``evaluation_report`` evaluates on that dataset and never on a newer one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self, TypeVar

import dagster as dg

from aion_assets.core.errors import ArtifactError, NotFoundError

#: Metadata keys of the dataset nested in an adapter's ref start with this.
DATASET_PREFIX = "dataset_"


def _plain(value: Any) -> Any:
    """A metadata entry as a plain value (entries read from the instance are ``MetadataValue``)."""
    return value.value if isinstance(value, dg.MetadataValue) else value


def _field(metadata: Mapping[str, Any], key: str, ref: str) -> Any:
    try:
        value = _plain(metadata[key])
    except KeyError:
        raise ArtifactError(
            f"{ref}: the materialization metadata has no {key!r} (recorded by an older version?); "
            "materialize the asset again"
        ) from None
    if value is None:
        raise ArtifactError(f"{ref}: the materialization metadata has {key!r} = None; materialize the asset again")
    return value


@dataclass(frozen=True)
class ScrubbedRef:
    """The scrubbed approved edits of one partition: a JSONL file in the artifact store.

    Attributes:
        key: artifact store key of the JSONL file.
        sha256: sha256 of the file's bytes.
        rows: rows in the file (metadata key ``rows_out``).
        min_reward: reward threshold the edits were curated with.
    """

    key: str
    sha256: str
    rows: int
    min_reward: float

    def to_metadata(self) -> dict[str, Any]:
        """Plain metadata values (``rows`` under ``rows_out``, the name the UI has always shown)."""
        return {"key": self.key, "sha256": self.sha256, "rows_out": self.rows, "min_reward": self.min_reward}

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> Self:
        """The ref recorded in METADATA.

        Raises:
            ArtifactError: a key is missing; the message names it.
        """
        name = cls.__name__
        return cls(
            key=str(_field(metadata, "key", name)),
            sha256=str(_field(metadata, "sha256", name)),
            rows=int(_field(metadata, "rows_out", name)),
            min_reward=float(_field(metadata, "min_reward", name)),
        )


@dataclass(frozen=True)
class DatasetRef:
    """One version of a partition's SFT dataset.

    Attributes:
        version: content-derived version name (``datasets/<tenant>/<domain>/<version>/``).
        content_hash: sha256 over both splits.
        train_key, eval_key: artifact store keys of ``train.jsonl`` and ``eval.jsonl``.
        uri: the version's folder as a URI (local path or ``s3://``).
        min_reward: reward threshold its rows passed.
        min_rows: fewest rows the blocking check accepts.
    """

    version: str
    content_hash: str
    train_key: str
    eval_key: str
    uri: str
    min_reward: float
    min_rows: int

    def to_metadata(self, prefix: str = "") -> dict[str, Any]:
        """Plain metadata values, each key preceded by PREFIX (used when nested in another ref)."""
        return {
            f"{prefix}version": self.version,
            f"{prefix}content_hash": self.content_hash,
            f"{prefix}train_key": self.train_key,
            f"{prefix}eval_key": self.eval_key,
            f"{prefix}uri": self.uri,
            f"{prefix}min_reward": self.min_reward,
            f"{prefix}min_rows": self.min_rows,
        }

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any], prefix: str = "") -> Self:
        """The ref recorded in METADATA under keys preceded by PREFIX.

        Raises:
            ArtifactError: a key is missing; the message names it.
        """
        name = cls.__name__

        def get(key: str) -> Any:
            return _field(metadata, prefix + key, name)

        return cls(
            version=str(get("version")),
            content_hash=str(get("content_hash")),
            train_key=str(get("train_key")),
            eval_key=str(get("eval_key")),
            uri=str(get("uri")),
            min_reward=float(get("min_reward")),
            min_rows=int(get("min_rows")),
        )

    def split_key(self, split: str) -> str:
        """The artifact store key of SPLIT (``train`` or ``eval``)."""
        keys = {"train": self.train_key, "eval": self.eval_key}
        if split not in keys:
            raise ValueError(f"split {split!r} is not one of {sorted(keys)}")
        return keys[split]


@dataclass(frozen=True)
class AdapterRef:
    """One trained LoRA adapter package and the dataset version it was trained on.

    Attributes:
        version: version name, e.g. ``aion-base+seal-acme-support@2026.04.01-093015``.
        prefix: artifact store prefix of the package (manifest written last).
        uri: the package's location as a URI.
        base: name of the base model (a key of ``base_models`` in seal.yaml).
        base_sha256: sha256 of the base model's weights it was trained on.
        dataset: the dataset version it was trained on (metadata keys ``dataset_*``).
    """

    version: str
    prefix: str
    uri: str
    base: str
    base_sha256: str
    dataset: DatasetRef

    def to_metadata(self) -> dict[str, Any]:
        """Plain metadata values; the dataset's under ``dataset_*`` keys."""
        return {
            "version": self.version,
            "prefix": self.prefix,
            "uri": self.uri,
            "base_model": self.base,
            "base_sha256": self.base_sha256,
            **self.dataset.to_metadata(DATASET_PREFIX),
        }

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> Self:
        """The ref recorded in METADATA.

        Raises:
            ArtifactError: a key is missing; the message names it.
        """
        name = cls.__name__
        return cls(
            version=str(_field(metadata, "version", name)),
            prefix=str(_field(metadata, "prefix", name)),
            uri=str(_field(metadata, "uri", name)),
            base=str(_field(metadata, "base_model", name)),
            base_sha256=str(_field(metadata, "base_sha256", name)),
            dataset=DatasetRef.from_metadata(metadata, DATASET_PREFIX),
        )


@dataclass(frozen=True)
class VocabularyRef:
    """A tenant's learned vocabulary (``seal/tenant_vocabulary``): a JSON artifact of its terms.

    Attributes:
        key: artifact store key of the JSON file.
        version: content-derived version (first 16 hex digits of ``sha256``).
        sha256: sha256 of the file's bytes.
        terms: number of terms.
    """

    key: str
    version: str
    sha256: str
    terms: int

    def to_metadata(self) -> dict[str, Any]:
        """Plain metadata values (``terms`` under ``terms_total``)."""
        return {"key": self.key, "version": self.version, "sha256": self.sha256, "terms_total": self.terms}

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> Self:
        """The ref recorded in METADATA.

        Raises:
            ArtifactError: a key is missing; the message names it.
        """
        name = cls.__name__
        return cls(
            key=str(_field(metadata, "key", name)),
            version=str(_field(metadata, "version", name)),
            sha256=str(_field(metadata, "sha256", name)),
            terms=int(_field(metadata, "terms_total", name)),
        )


R = TypeVar("R", ScrubbedRef, DatasetRef, AdapterRef, VocabularyRef)


def _latest_materialization(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, partition: str
) -> dg.AssetMaterialization:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[partition]), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        raise NotFoundError(
            f"{asset_key.to_user_string()} has no materialization of partition {partition!r}; materialize it first"
        )
    return records[0].asset_materialization


def latest(instance: dg.DagsterInstance, asset_key: dg.AssetKey, partition: str, ref_type: type[R]) -> R:
    """The REF_TYPE recorded by ASSET_KEY's latest materialization of PARTITION.

    Args:
        instance: the Dagster instance holding the materializations.
        asset_key: the asset whose materialization hands over the ref.
        partition: the ``tenant/domain`` partition key.
        ref_type: ``ScrubbedRef``, ``DatasetRef`` or ``AdapterRef``.

    Raises:
        NotFoundError: the partition was never materialized (the message says to materialize it).
        ArtifactError: the materialization's metadata lacks a key of the ref.
    """
    materialization = _latest_materialization(instance, asset_key, partition)
    try:
        return ref_type.from_metadata(materialization.metadata)
    except ArtifactError as exc:
        raise ArtifactError(f"{asset_key.to_user_string()} partition {partition!r}: {exc}") from exc


def latest_metadata(instance: dg.DagsterInstance, asset_key: dg.AssetKey, partition: str) -> dict[str, Any]:
    """Every metadata value of ASSET_KEY's latest materialization of PARTITION, for display (bench/).

    Assets never read each other through this: they use :func:`latest` and a ref.

    Raises:
        NotFoundError: the partition was never materialized.
    """
    materialization = _latest_materialization(instance, asset_key, partition)
    return {k: _plain(v) for k, v in materialization.metadata.items()}

"""The candidate adapter pinned to its content address from training to promotion.

``seal/lora_adapter`` records, next to its :class:`~aion_assets.seal.refs.AdapterRef`, the sha256 of
the package's ``manifest.json`` as uploaded (``manifest_sha256``): the package's content address,
which the registry stores as the identity of the version it becomes. Without a key the manifest
only proves the package is self-consistent, and whoever can write to the store can write a
consistent one; so the evaluation and the promotion compare the stored manifest with the recorded
hash before they use the package, and a package replaced after training (same prefix, other bytes)
is refused with an error that names both hashes instead of being evaluated or registered under
the identity of the adapter that was trained.

Plain Python besides reading one materialization record: ``seal/assets.py`` and
``seal/promotion_assets.py`` call it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import dagster as dg

from aion_assets.core.artifacts import ArtifactStore
from aion_assets.core.errors import ArtifactError, NotFoundError
from aion_assets.seal.refs import AdapterRef

#: The metadata key under which ``seal/lora_adapter`` (and the evaluation of it) record the hash.
MANIFEST_SHA256 = "manifest_sha256"
#: The package's manifest file (``seal.training.manifest.MANIFEST``, restated to stay torch-free).
MANIFEST_FILE = "manifest.json"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class PinnedAdapter:
    """An adapter ref and the content address recorded when it was trained."""

    ref: AdapterRef
    manifest_sha256: str


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, dg.MetadataValue) else value


def recorded_manifest(metadata: Any, where: str) -> str:
    """The ``manifest_sha256`` in METADATA (a materialization's), checked to be a sha256.

    Raises:
        ArtifactError: missing or malformed; WHERE names the record in the message.
    """
    value = _plain(metadata.get(MANIFEST_SHA256))
    if not isinstance(value, str) or not _SHA256.match(value):
        raise ArtifactError(f"{where} recorded no valid {MANIFEST_SHA256} (got {value!r}); train the adapter again")
    return value


def pinned_adapter(instance: dg.DagsterInstance, adapter_key: dg.AssetKey, partition: str) -> PinnedAdapter:
    """The adapter of ADAPTER_KEY's latest materialization of PARTITION with its recorded content address.

    The ref and the hash come from one and the same record, so a newer adapter landing in
    between can never pair one adapter's ref with another's hash.

    Raises:
        NotFoundError: never materialized (the message says to materialize it).
        ArtifactError: the record lacks a key of the ref, or a valid ``manifest_sha256``.
    """
    where = f"{adapter_key.to_user_string()} partition {partition!r}"
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=adapter_key, asset_partitions=[partition]), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        raise NotFoundError(
            f"{adapter_key.to_user_string()} has no materialization of partition {partition!r}; materialize it first"
        )
    metadata = records[0].asset_materialization.metadata
    try:
        ref = AdapterRef.from_metadata(metadata)
    except ArtifactError as exc:
        raise ArtifactError(f"{where}: {exc}") from exc
    return PinnedAdapter(ref=ref, manifest_sha256=recorded_manifest(metadata, where))


def stored_manifest_sha256(store: ArtifactStore, prefix: str) -> str:
    """sha256 of the manifest stored under PREFIX, as bytes (what ``manifest_digest`` computes on disk).

    Raises:
        ArtifactError: no manifest there (an incomplete or deleted package).
    """
    key = f"{prefix.rstrip('/')}/{MANIFEST_FILE}"
    if not store.exists(key):
        raise ArtifactError(f"{store.uri(prefix)}: no {MANIFEST_FILE}; the adapter package is incomplete or gone")
    return hashlib.sha256(store.get_bytes(key)).hexdigest()


def check_pinned(store: ArtifactStore, adapter: PinnedAdapter) -> None:
    """Refuse the package under the adapter's prefix unless its manifest hashes to the recorded address.

    Raises:
        ArtifactError: the stored manifest hashes otherwise (the message names the adapter, the
            expected and the found sha256), or is missing.
    """
    found = stored_manifest_sha256(store, adapter.ref.prefix)
    if found != adapter.manifest_sha256:
        raise ArtifactError(
            f"adapter {adapter.ref.version} at {adapter.ref.uri} is not the package that was trained: its manifest "
            f"sha256 is {found}, expected {adapter.manifest_sha256} (recorded by seal/lora_adapter). The package "
            "was replaced after training; restore it or train the adapter again"
        )

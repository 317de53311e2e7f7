"""Lineage of a version: its parent, and the self-edits its dataset was built from.

The self-edit ids live in the dataset's manifest in the artifact store, written by the
``seal/sft_dataset`` asset at ``datasets/{tenant}/{domain}/{version}/manifest.json`` (the tenant
percent-quoted by ``core.artifacts.key_segment``). The registry may import only ``core``, so the
key layout is restated here; ``seal.datasets.versions.dataset_prefix`` is the writer's side and
``tests/registry/test_lineage.py`` checks that the two agree.

When the ids cannot be read (no artifact store configured, no dataset version, manifest
missing, older manifest without the ids, store unreachable) the lineage says so in
``source_edit_ids_error`` instead of failing the whole read of the version.
"""

from __future__ import annotations

import json
import logging
import re

from aion_assets.core.artifacts import ArtifactStore, key_segment
from aion_assets.core.errors import ArtifactError, NotFoundError, StoreUnavailableError
from aion_assets.registry.models import Lineage, ModelDetail, ModelRef, ModelVersion
from aion_assets.registry.store import RegistryStore

log = logging.getLogger(__name__)

#: Dataset versions are the first 16 hex digits of the content hash; anything that is one clean
#: key segment is accepted (a version is never allowed to climb out of its folder).
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")  # as seal.datasets.tenant_config.normalize_domain


def manifest_key(tenant_id: str, domain: str, dataset_version: str) -> str:
    """The artifact key of a dataset's manifest.

    Raises:
        ValueError: DOMAIN or DATASET_VERSION is not one clean key segment.
    """
    if not _DOMAIN.match(domain):
        raise ValueError(f"domain {domain!r} is not a dataset folder name")
    if not _VERSION.match(dataset_version) or dataset_version in {".", ".."}:
        raise ValueError(f"dataset_version {dataset_version!r} is not a dataset folder name")
    return f"datasets/{key_segment(tenant_id)}/{domain}/{dataset_version}/manifest.json"


def source_edit_ids(
    artifacts: ArtifactStore | None, version: ModelVersion
) -> tuple[str | None, list[str] | None, str | None]:
    """(manifest URI, the self-edit ids, why they are missing) of VERSION's dataset."""
    if version.dataset_version is None:
        return None, None, "the version names no dataset_version"
    try:
        key = manifest_key(version.tenant_id, version.domain, version.dataset_version)
    except ValueError as exc:
        return None, None, str(exc)
    if artifacts is None:
        return None, None, "the API has no artifact store configured (AION_ARTIFACTS_URI)"
    uri = artifacts.uri(key)
    try:
        doc = json.loads(artifacts.get_bytes(key))
    except (ArtifactError, NotFoundError) as exc:
        return uri, None, f"dataset manifest not readable: {exc}"
    except (StoreUnavailableError, OSError) as exc:
        log.warning("artifact store unavailable reading %s: %s", uri, exc)
        return uri, None, "artifact store unavailable; retry"
    except (ValueError, UnicodeDecodeError) as exc:
        return uri, None, f"dataset manifest is not JSON: {exc}"
    if not isinstance(doc, dict):
        return uri, None, "dataset manifest is not a JSON object"
    if (doc.get("tenant_id"), doc.get("version")) != (version.tenant_id, version.dataset_version):
        return uri, None, "dataset manifest names another tenant or version"
    ids = doc.get("source_edit_ids")
    if ids is None:
        return uri, None, "dataset manifest predates source_edit_ids; materialize seal/sft_dataset again"
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return uri, None, "dataset manifest's source_edit_ids is not a list of strings"
    return uri, ids, None


def model_detail(
    store: RegistryStore,
    artifacts: ArtifactStore | None,
    tenant_id: str,
    version: ModelVersion,
    *,
    max_edit_ids: int | None = None,
) -> ModelDetail:
    """VERSION of TENANT_ID with its lineage (parent read from STORE, edit ids from ARTIFACTS).

    Args:
        max_edit_ids: list at most this many edit ids (in the manifest's sorted order);
            ``source_edit_ids_total`` still counts them all.
    """
    parent = None
    if version.parent_id is not None:
        # The parent is the same tenant's (checked at registration, and a version is never deleted).
        p = store.get_version(tenant_id, version.parent_id)
        parent = ModelRef(id=p.id, name=p.name, status=p.status)
    uri, ids, error = source_edit_ids(artifacts, version)
    lineage = Lineage(
        parent=parent,
        dataset_version=version.dataset_version,
        evaluation_run_id=version.evaluation_run_id,
        source_edit_count=version.source_edit_count,
        dataset_manifest_uri=uri,
        source_edit_ids=ids if ids is None or max_edit_ids is None else ids[:max_edit_ids],
        source_edit_ids_total=None if ids is None else len(ids),
        source_edit_ids_error=error,
    )
    return ModelDetail(**version.model_dump(), lineage=lineage)

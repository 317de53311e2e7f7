"""Which dataset versions and model versions were built from purged self-edits (``aion purge``).

Found through lineage: every dataset version's manifest (``datasets/{tenant}/{domain}/{version}/
manifest.json``, the key ``lineage.manifest_key`` restates) lists its ``source_edit_ids``; a dataset
is affected when that list meets the purged ids, and a registered version is affected when its
``dataset_version`` (in its domain) is an affected dataset. Whether a version serves is read from
the tenant's routes (as default or as fallback).

Nothing here changes anything: the recommendations are text for the operator (docs/operations.md,
"Purging a user's or a tenant's edits"); ``aion purge --delete-datasets`` and ``--retire`` act on them.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aion_assets.core.artifacts import ArtifactStore, key_segment
from aion_assets.core.errors import ArtifactError, NotFoundError
from aion_assets.registry.lineage import manifest_key
from aion_assets.registry.models import ModelStatus, ModelVersion, Route
from aion_assets.registry.store import RegistryStore

log = logging.getLogger(__name__)

_MANIFEST = "manifest.json"
_MAX_VERSIONS = 100_000  # every version of a domain: a registry holds far fewer


@dataclass(frozen=True)
class AffectedDataset:
    """A dataset version whose manifest lists purged self-edits."""

    domain: str
    version: str
    prefix: str  # artifact key prefix of its files (train, eval, manifest), with trailing "/"
    uri: str
    purged_edits: int  # how many of its source edits are purged
    source_edits: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"domain": self.domain, "version": self.version, "uri": self.uri,
                "purged_edits": self.purged_edits, "source_edits": self.source_edits}


@dataclass(frozen=True)
class AffectedVersion:
    """A registered model version trained on an affected dataset, with where it serves."""

    version: ModelVersion
    default_of: tuple[str, ...]  # agent ids whose route serves it as default
    fallback_of: tuple[str, ...]  # agent ids whose route keeps it as fallback

    @property
    def routed(self) -> bool:
        """Whether any route names it (default or fallback)."""
        return bool(self.default_of or self.fallback_of)

    def recommendation(self) -> str:
        """What the operator should do about it (one sentence)."""
        v = self.version
        tenant = v.tenant_id
        if self.default_of:
            agents = ", ".join(self.default_of)
            return (
                f"serves as default of {agents}: route a version not trained on the purged edits "
                f"(`aion rollback --tenant {tenant} --agent <agent>` when the fallback is not affected, else "
                "POST /routes with expected_version), then retrain; rollback retires it"
            )
        if self.fallback_of:
            return (
                f"fallback of {', '.join(self.fallback_of)}: replace the fallback (POST /routes with "
                "expected_version), then retire it (`aion purge ... --retire`)"
            )
        if v.status is ModelStatus.promoted:
            return "promoted, not routed: retire it (`aion purge ... --retire`) so no route_table run picks it again"
        if v.status in (ModelStatus.candidate, ModelStatus.pending_approval):
            return "not yet decided: reject it (`aion purge ... --retire` or POST /models/{id}/reject)"
        return f"{v.status.value}: serves nowhere; delete its adapter package if the purge must reach weights"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: name, status, whether and where it is routed, the recommendation."""
        v = self.version
        return {
            "id": str(v.id), "name": v.name, "status": v.status.value, "domain": v.domain,
            "dataset_version": v.dataset_version, "adapter_uri": v.adapter_uri,
            "evaluation_run_id": v.evaluation_run_id, "routed": self.routed,
            "default_of": list(self.default_of), "fallback_of": list(self.fallback_of),
            "recommendation": self.recommendation(),
        }


@dataclass
class Impact:
    """Affected datasets and versions of one tenant, and what could not be read."""

    datasets: list[AffectedDataset] = field(default_factory=list)
    versions: list[AffectedVersion] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # manifest URIs with the reason


def _manifests(artifacts: ArtifactStore, tenant_id: str) -> Iterable[tuple[str, str, str]]:
    """(key, domain, version) of every dataset manifest of TENANT_ID."""
    prefix = f"datasets/{key_segment(tenant_id)}/"
    for key in artifacts.list(prefix):
        parts = key[len(prefix):].split("/")
        if len(parts) == 3 and parts[2] == _MANIFEST:
            yield key, parts[0], parts[1]


def affected_datasets(
    artifacts: ArtifactStore, tenant_id: str, edit_ids: Iterable[str], *, all_edits: bool = False
) -> tuple[list[AffectedDataset], list[str]]:
    """The dataset versions of TENANT_ID whose manifests list any of EDIT_IDS (ALL_EDITS: every version).

    Returns:
        (affected datasets sorted by domain and version, manifests that could not be read with why).

    Raises:
        StoreUnavailableError: the artifact store cannot be reached.
    """
    wanted = set(edit_ids)
    found: list[AffectedDataset] = []
    unreadable: list[str] = []
    for key, domain, version in _manifests(artifacts, tenant_id):
        uri = artifacts.uri(key)
        try:
            if manifest_key(tenant_id, domain, version) != key:
                raise ValueError("not at the key the dataset asset writes")
            doc = json.loads(artifacts.get_bytes(key))
            if not isinstance(doc, dict) or (doc.get("tenant_id"), doc.get("version")) != (tenant_id, version):
                raise ValueError("names another tenant or version")
            ids = doc.get("source_edit_ids")
            if not isinstance(ids, list):
                raise ValueError("has no source_edit_ids (an older manifest): its edits are unknown")
        except (ValueError, UnicodeDecodeError, ArtifactError, NotFoundError) as exc:
            unreadable.append(f"{uri}: {exc}")
            continue
        hit = len(ids) if all_edits else len(wanted.intersection(str(i) for i in ids))
        if hit:
            prefix = key[: -len(_MANIFEST)]
            found.append(AffectedDataset(domain, version, prefix, artifacts.uri(prefix.rstrip("/")), hit, len(ids)))
    return sorted(found, key=lambda d: (d.domain, d.version)), unreadable


def affected_versions(
    store: RegistryStore, tenant_id: str, datasets: Iterable[AffectedDataset]
) -> list[AffectedVersion]:
    """The versions of TENANT_ID registered with an affected dataset, newest first per domain, with their routes."""
    by_domain: dict[str, set[str]] = {}
    for d in datasets:
        by_domain.setdefault(d.domain, set()).add(d.version)
    if not by_domain:
        return []
    default_of: dict[uuid.UUID, list[str]] = {}
    fallback_of: dict[uuid.UUID, list[str]] = {}
    for route in store.list_routes(tenant_id):
        _note(route, default_of, fallback_of)
    out: list[AffectedVersion] = []
    for domain in sorted(by_domain):
        for v in store.list_versions(tenant_id, domain=domain, limit=_MAX_VERSIONS):
            if v.dataset_version in by_domain[domain]:
                out.append(AffectedVersion(v, tuple(default_of.get(v.id, ())), tuple(fallback_of.get(v.id, ()))))
    return out


def _note(route: Route, default_of: dict[uuid.UUID, list[str]], fallback_of: dict[uuid.UUID, list[str]]) -> None:
    default_of.setdefault(route.default_model_id, []).append(route.agent_id)
    if route.fallback_model_id is not None:
        fallback_of.setdefault(route.fallback_model_id, []).append(route.agent_id)


def impact_of(
    store: RegistryStore, artifacts: ArtifactStore, tenant_id: str, edit_ids: Iterable[str], *, all_edits: bool = False
) -> Impact:
    """Affected datasets (from the manifests in ARTIFACTS) and versions (from STORE) of purged EDIT_IDS."""
    datasets, unreadable = affected_datasets(artifacts, tenant_id, edit_ids, all_edits=all_edits)
    for item in unreadable:
        log.warning("dataset manifest not read during purge impact: %s", item)
    return Impact(datasets=datasets, versions=affected_versions(store, tenant_id, datasets), unreadable=unreadable)


__all__ = ["AffectedDataset", "AffectedVersion", "Impact", "affected_datasets", "affected_versions", "impact_of"]

"""The serving baseline of an evaluation: the adapter the registry serves today, fetched and verified."""

from __future__ import annotations

import json
from pathlib import Path

from aion_assets.core.artifacts import ArtifactStore
from aion_assets.core.errors import ArtifactError
from aion_assets.registry.models import ModelVersion


def serving_adapter(
    store: ArtifactStore, serving: ModelVersion, tenant_id: str, domain: str, key: bytes | None, into: Path
) -> Path:
    """The serving version's adapter as a plain PEFT folder, verified against its registered content address.

    Raises:
        ArtifactError: the adapter is not in this artifact store, or fails verification.
    """
    from urllib.parse import unquote

    from aion_assets.seal.training.adapters import plain_peft_folder
    from aion_assets.seal.training.manifest import MANIFEST, AdapterBinding
    from aion_assets.seal.training.packaging import download_adapter

    at = serving.adapter_uri.find("/seal-adapters/")
    tail = serving.adapter_uri[at + 1 :] if at >= 0 else ""
    # URIs quote the key (``+`` as ``%2B``); the one candidate whose URI matches exactly is the key.
    prefix = next((p for p in (unquote(tail), tail) if p and store.uri(p) == serving.adapter_uri), None)
    if prefix is None:
        raise ArtifactError(
            f"the serving version {serving.name} is at {serving.adapter_uri}, outside this artifact store; "
            "cannot evaluate against it"
        )
    # The manifest names the version it was packaged as; the registry's manifest hash (checked by
    # download_adapter) is what makes these exactly the bytes that were promoted.
    manifest = json.loads(store.get_bytes(f"{prefix}/{MANIFEST}"))
    binding = manifest.get("binding") if isinstance(manifest, dict) else None
    version = binding.get("version") if isinstance(binding, dict) else None
    if not isinstance(version, str) or not version:
        raise ArtifactError(f"{serving.adapter_uri}: the adapter manifest names no version")
    expected = AdapterBinding(tenant_id, domain, version)
    package = download_adapter(
        store, prefix, into / "package", expected=expected, key=key, manifest_sha256=serving.manifest_sha256
    )
    return plain_peft_folder(package, key, into / "plain", expected=expected)

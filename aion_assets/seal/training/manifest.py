"""Adapter manifest format: where a package belongs, what it records, how it is written, read and authenticated.

A package is a standard PEFT adapter folder plus ``manifest.json``: where the adapter belongs
(``binding``: tenant, domain, version), the base model and its hash, the dataset version and
hash, the training config, the loss curve, the seed, library versions and the sha256 of every
other file. The manifest is written last (and uploaded last), so a folder or prefix without one
is never complete.

With a key (``AION_ADAPTER_KEY``) the manifest also carries an HMAC-SHA256 over its canonical
JSON, under a subkey derived from the adapter key (HKDF, `core.crypto.derive_key`), and the
weight files are AES-256-GCM encrypted with associated data naming the tenant, domain, version,
base model hash and file (`file_associated_data`). Packaging is in
:mod:`aion_assets.seal.training.packaging`, verification and loading in
:mod:`aion_assets.seal.training.adapters`.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from aion_assets.core.errors import ArtifactError
from aion_assets.seal.training.base_models import BaseModelInfo, file_sha256

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 2
ENCRYPTED_SUFFIX = ".enc"
WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin")
ENCRYPTION_SCHEME = (
    "AES-256-GCM (aion_assets.core.crypto format 1, AAD = tenant, domain, version, base sha256, file name)"
)
MAC_SCHEME = "HMAC-SHA256"
#: HKDF purpose of the manifest MAC key; a new value invalidates every existing MAC.
MAC_PURPOSE = "adapter-manifest-mac-v1"
_AUTH = "authentication"
_LIBRARIES = ("torch", "transformers", "peft", "accelerate", "safetensors", "deepspeed")
_NO_DOWNGRADE = (
    "an adapter key is configured, so only encrypted, authenticated packages are loaded (downgrade "
    "refused); retrain the adapter with the key, or unset AION_ADAPTER_KEY to load unencrypted adapters"
)


@dataclass(frozen=True)
class AdapterBinding:
    """Where an adapter package belongs: written into its manifest and checked on every load."""

    tenant_id: str
    domain: str
    version: str

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"adapter binding: {field.name} must be a non-empty string, got {value!r}")


def library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries that shape an adapter."""
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


def package_files(folder: Path) -> list[Path]:
    """Every file under FOLDER except the manifest, sorted: what a manifest lists."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def _canonical(manifest: Mapping[str, Any]) -> bytes:
    """The bytes the MAC covers: the manifest without its authentication, as canonical JSON."""
    body = {k: v for k, v in manifest.items() if k != _AUTH}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _mac_key(key: bytes) -> bytes:
    from aion_assets.core.crypto import derive_key

    return derive_key(key, MAC_PURPOSE)


def file_associated_data(binding: Mapping[str, Any], base_sha256: str, name: str) -> bytes:
    """The AES-GCM associated data of the encrypted file NAME (its plaintext name) of a package.

    JSON rather than a joined string, because tenant ids may contain any separator.
    """
    return json.dumps(
        {
            "purpose": "aion-adapter-file-v1",
            "tenant_id": binding["tenant_id"],
            "domain": binding["domain"],
            "version": binding["version"],
            "base_sha256": base_sha256,
            "file": name,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()



def write_manifest(
    adapter_dir: Path,
    base_model_info: BaseModelInfo,
    dataset_version: str,
    dataset_hash: str,
    config: Mapping[str, Any],
    loss_curve: Sequence[Sequence[float]],
    seed: int,
    *,
    binding: AdapterBinding,
    key: bytes | None = None,
    encryption: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``manifest.json`` into ADAPTER_DIR, covering every file already there; returns it.

    Call it after every other file is in place: files added later fail `verify_manifest`.

    Args:
        adapter_dir: the adapter folder.
        base_model_info: the base model trained on (name and weights sha256 are recorded).
        dataset_version: e.g. the ``sft_dataset`` partition/version the rows came from.
        dataset_hash: sha256 of the training data.
        config: the training hyperparameters (JSON-serializable).
        loss_curve: ``(step, loss)`` pairs.
        seed: the training seed.
        binding: the tenant, domain and version the package belongs to.
        key: the adapter key; when given the manifest is authenticated (HMAC-SHA256).
        encryption: how weight files are encrypted (None: stored in the clear).
        extra: more JSON metadata (train seconds, tokens/s, ...).

    Raises:
        ArtifactError: the metadata is not JSON-serializable.
    """
    adapter_dir = Path(adapter_dir)
    manifest = {
        "format": MANIFEST_FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "binding": asdict(binding),
        "base_model": {"name": base_model_info.name, "sha256": base_model_info.sha256},
        "dataset": {"version": dataset_version, "sha256": dataset_hash},
        "config": dict(config),
        "loss_curve": [[int(step), float(loss)] for step, loss in loss_curve],
        "seed": int(seed),
        "libraries": library_versions(),
        "encryption": dict(encryption) if encryption else None,
        "extra": dict(extra or {}),
        "files": {
            p.relative_to(adapter_dir).as_posix(): {"sha256": file_sha256(p), "size": p.stat().st_size}
            for p in package_files(adapter_dir)
        },
    }
    try:
        # Round-trip through JSON first, so the MAC covers exactly what a reader will parse
        # (tuples become lists, keys become strings).
        manifest = json.loads(json.dumps(manifest))
        if key is not None:
            from aion_assets.core.crypto import mac

            manifest[_AUTH] = {
                "scheme": MAC_SCHEME,
                "key": f"HKDF-SHA256(AION_ADAPTER_KEY, info=aion-{MAC_PURPOSE})",
                "mac": mac(_mac_key(key), _canonical(manifest)),
            }
        text = json.dumps(manifest, indent=2, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ArtifactError(f"{adapter_dir}: manifest metadata is not JSON-serializable ({exc})") from exc
    tmp = adapter_dir / f".{MANIFEST}.tmp-{uuid.uuid4().hex[:8]}"
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, adapter_dir / MANIFEST)
    return manifest


def read_manifest(adapter_dir: Path | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of an adapter folder, unverified.

    Raises:
        ArtifactError: there is no manifest (the adapter is incomplete), it is unreadable, or it
            is of another format.
    """
    path = Path(adapter_dir) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(
            f"{adapter_dir}: no {MANIFEST}; the adapter is incomplete (a crashed or cancelled write?)"
        ) from None
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{path}: unreadable manifest ({exc})") from exc
    if not isinstance(manifest, dict):
        raise ArtifactError(f"{path}: not an adapter manifest")
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ArtifactError(
            f"{path}: adapter manifest of format {manifest.get('format')!r}, this code loads format "
            f"{MANIFEST_FORMAT} only (format 1 is bound to no tenant and unauthenticated); retrain the adapter"
        )
    # The shapes the checks rely on: a malformed manifest is an ArtifactError, not a TypeError.
    files = manifest.get("files")
    encryption = manifest.get("encryption")
    base_model = manifest.get("base_model")
    if (
        not isinstance(files, dict)
        or not all(
            isinstance(entry, dict) and isinstance(entry.get("sha256"), str) and isinstance(entry.get("size"), int)
            for entry in files.values()
        )
        or not (encryption is None or isinstance(encryption, dict))
        or not all(isinstance(n, str) for n in encrypted_names(manifest))
        or not (isinstance(base_model, dict) and isinstance(base_model.get("sha256"), str))
    ):
        raise ArtifactError(f"{path}: malformed adapter manifest (files, encryption or base_model)")
    return manifest


def encrypted_names(manifest: Mapping[str, Any]) -> list[str]:
    """The package-relative names of the encrypted files a manifest lists (empty: stored in clear)."""
    files = (manifest.get("encryption") or {}).get("files") or []
    return list(files) if isinstance(files, list) else [files]


def authenticate(manifest: Mapping[str, Any], key: bytes, where: Path) -> None:
    """Check the manifest's MAC under KEY and that its weights are encrypted (no downgrade).

    Raises:
        ArtifactError: no MAC, an unknown scheme, a failing MAC (wrong key or altered
            manifest), or weight files stored in clear; WHERE names the package in the message.
    """
    from aion_assets.core.crypto import verify_mac

    auth = manifest.get(_AUTH)
    if not isinstance(auth, Mapping):
        raise ArtifactError(f"{where}: the manifest is not authenticated (no MAC); {_NO_DOWNGRADE}")
    if auth.get("scheme") != MAC_SCHEME:
        raise ArtifactError(f"{where}: unknown manifest authentication scheme {auth.get('scheme')!r}")
    if not verify_mac(_mac_key(key), _canonical(manifest), auth.get("mac")):
        raise ArtifactError(
            f"{where}: the manifest failed authentication: wrong adapter key (AION_ADAPTER_KEY), "
            "or the manifest was altered after it was written"
        )
    encrypted = set(encrypted_names(manifest))
    clear = sorted(n for n in manifest.get("files", {}) if Path(n).name in WEIGHT_FILES)
    if not encrypted or clear:
        raise ArtifactError(
            f"{where}: the weights are stored in clear ({clear or 'no encrypted files'}); {_NO_DOWNGRADE}"
        )

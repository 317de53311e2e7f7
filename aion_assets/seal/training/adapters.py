"""Adapter verification and loading: every package is checked against its manifest and binding before use.

What a load checks, before any file is used:

- **Without a key** the manifest's file hashes and binding are checked against the files and
  against the binding the caller expects (which comes from the run's metadata, not from the
  store). This is *integrity*, not authenticity: it catches corruption, incomplete uploads and a
  package under the wrong tenant's, domain's or version's prefix, but whoever can write to the
  store can also write a consistent manifest. Pinning the load to a recorded manifest sha256
  (`manifest_digest`, the package's content address) closes that gap for the versions that
  were recorded.
- **With a key** (``AION_ADAPTER_KEY``) the manifest must carry a valid HMAC-SHA256 and the
  weights must be AES-256-GCM encrypted (see :mod:`aion_assets.seal.training.manifest`). A load
  with the key refuses a manifest whose MAC fails, and refuses a package without a MAC or with
  weights in clear (no downgrade to plaintext). A wrong key fails loudly.

Plaintext on disk: `load_adapter_model` decrypts the weights in memory; `plain_peft_folder`, for
consumers that load adapters by path (the evaluation), decrypts them into a 0700 folder that the
caller deletes when done.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aion_assets.core.errors import ArtifactError
from aion_assets.seal.training.base_models import BaseModelInfo, file_sha256
from aion_assets.seal.training.manifest import (
    ENCRYPTED_SUFFIX,
    MANIFEST,
    AdapterBinding,
    authenticate,
    encrypted_names,
    file_associated_data,
    package_files,
    read_manifest,
)

if TYPE_CHECKING:
    import torch
    from peft import PeftModel


def manifest_digest(adapter_dir: Path | os.PathLike[str]) -> str:
    """sha256 of the package's ``manifest.json`` as stored: the package's content address."""
    path = Path(adapter_dir) / MANIFEST
    try:
        return file_sha256(path)
    except FileNotFoundError:
        raise ArtifactError(f"{adapter_dir}: no {MANIFEST}; the adapter is incomplete") from None


def _check_binding(manifest: Mapping[str, Any], expected: AdapterBinding | None, where: Path) -> None:
    binding = manifest.get("binding")
    names = [f.name for f in fields(AdapterBinding)]
    if not isinstance(binding, Mapping) or not all(isinstance(binding.get(n), str) for n in names):
        raise ArtifactError(f"{where}: the manifest has no valid binding (tenant_id, domain, version)")
    if expected is None:
        return
    mismatches = [
        f"{n} is {binding[n]!r}, expected {getattr(expected, n)!r}" for n in names if binding[n] != getattr(expected, n)
    ]
    if mismatches:
        raise ArtifactError(
            f"{where}: the adapter package belongs elsewhere ({'; '.join(mismatches)}); a package copied "
            "under another tenant's, domain's or version's prefix is never loaded"
        )


def verify_manifest(
    adapter_dir: Path | os.PathLike[str],
    *,
    expected: AdapterBinding | None = None,
    key: bytes | None = None,
    manifest_sha256: str | None = None,
) -> dict[str, Any]:
    """Check an adapter folder against its manifest and the caller's expectations; returns the manifest.

    Order: the manifest's own sha256 (when pinned), then its MAC (when KEY is given), then its
    binding, then every file, so nothing in the manifest is trusted before it is authenticated.

    Args:
        adapter_dir: the package folder.
        expected: the tenant, domain and version the caller loads for (None: only well-formed).
        key: the adapter key; when given, the manifest must be authenticated under it and the
            weights encrypted (a package written without the key is refused).
        manifest_sha256: the content address a registry recorded; the manifest must hash to it.

    Raises:
        ArtifactError: the manifest is missing, of another format, pinned to another sha256, not
            authenticated or failing its MAC while a key is given, bound to another tenant,
            domain or version, or a listed file is missing or differs (sha256 / size), or a
            file not in the manifest is present.
    """
    adapter_dir = Path(adapter_dir)
    if manifest_sha256 is not None:
        actual = manifest_digest(adapter_dir)
        if actual != manifest_sha256:
            raise ArtifactError(
                f"{adapter_dir}: the manifest's sha256 is {actual[:12]}..., expected {manifest_sha256[:12]}... "
                "(this is not the adapter version that was recorded)"
            )
    manifest = read_manifest(adapter_dir)
    if key is not None:
        authenticate(manifest, key, adapter_dir)
    _check_binding(manifest, expected, adapter_dir)
    listed: dict[str, dict[str, Any]] = manifest.get("files", {})
    present = {p.relative_to(adapter_dir).as_posix() for p in package_files(adapter_dir)}
    problems = []
    for name in sorted(set(listed) - present):
        problems.append(f"{name} is missing")
    for name in sorted(present - set(listed)):
        problems.append(f"{name} is not in the manifest")
    for name in sorted(set(listed) & present):
        path = adapter_dir / name
        if path.stat().st_size != listed[name]["size"] or file_sha256(path) != listed[name]["sha256"]:
            problems.append(f"{name} does not match its sha256")
    for name in sorted(set(encrypted_names(manifest)) - set(listed)):
        problems.append(f"encrypted file {name} is not in the manifest's files")
    if problems:
        raise ArtifactError(f"{adapter_dir}: adapter fails verification: {'; '.join(problems)}")
    return manifest


def _decrypted_state_dict(
    adapter_dir: Path, manifest: Mapping[str, Any], key: bytes
) -> dict[str, torch.Tensor]:
    from safetensors.torch import load as load_safetensors

    from aion_assets.core.crypto import decrypt_bytes

    names = [n for n in encrypted_names(manifest) if n.endswith(".safetensors" + ENCRYPTED_SUFFIX)]
    if len(names) != 1:
        raise ArtifactError(f"{adapter_dir}: expected one encrypted safetensors file, found {names}")
    name = names[0]
    aad = file_associated_data(manifest["binding"], manifest["base_model"]["sha256"], name[: -len(ENCRYPTED_SUFFIX)])
    blob = (adapter_dir / name).read_bytes()
    # decrypt_bytes raises ArtifactError("wrong key or corrupted artifact ...") on a bad key.
    return load_safetensors(decrypt_bytes(blob, key, associated_data=aad))


def plain_peft_folder(
    package: Path | os.PathLike[str], key: bytes | None, into: Path, *, expected: AdapterBinding
) -> Path:
    """A plain PEFT folder for PACKAGE, for consumers that load adapters from disk by path.

    The package is verified first (`verify_manifest` with EXPECTED and KEY). An unencrypted
    package (no key configured) is returned as it is. An encrypted one has its weights
    decrypted into INTO (created with mode 0700; the caller deletes it when done) next to
    copies of the other files.

    Raises:
        ArtifactError: verification fails (another tenant's, domain's or version's package, a
            plaintext package while KEY is given, tampering), the package is encrypted and KEY
            is None, or the key is wrong.
    """
    from aion_assets.core.crypto import decrypt_file

    package = Path(package)
    manifest = verify_manifest(package, expected=expected, key=key)
    encrypted = set(encrypted_names(manifest))
    if not encrypted:
        return package
    if key is None:
        raise ArtifactError(f"{package}: the adapter weights are encrypted; give the key (AION_ADAPTER_KEY)")
    into.mkdir(mode=0o700, parents=True)
    try:
        for name in sorted(manifest["files"]):
            target = into / name
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if name in encrypted:
                plain = name[: -len(ENCRYPTED_SUFFIX)]
                aad = file_associated_data(manifest["binding"], manifest["base_model"]["sha256"], plain)
                decrypt_file(package / name, into / plain, key, associated_data=aad)
            else:
                shutil.copyfile(package / name, target)
    except BaseException:
        shutil.rmtree(into, ignore_errors=True)
        raise
    return into


def load_adapter_model(
    base_path: Path | BaseModelInfo,
    adapter_dir: Path | os.PathLike[str],
    key: bytes | None = None,
    *,
    expected: AdapterBinding,
    dtype: torch.dtype | None = None,
) -> PeftModel:
    """Load the base model with a verified adapter package on top, in eval mode.

    Args:
        base_path: the base checkpoint folder; given a BaseModelInfo, its sha256 must match
            the manifest's (an adapter only makes sense on the base it was trained on).
        adapter_dir: a package written by `package_adapter` (verified first).
        key: the configured adapter key: required when the weights are encrypted, and when
            given, a package that is not encrypted and authenticated is refused.
        expected: the tenant, domain and version the caller loads.
        dtype: the base model's dtype (default fp32).

    Raises:
        ArtifactError: verification fails (see `verify_manifest`), encrypted without a key,
            wrong key, base mismatch.
    """
    from aion_assets.seal.training.base_models import load_causal_lm

    adapter_dir = Path(adapter_dir)
    manifest = verify_manifest(adapter_dir, expected=expected, key=key)
    if isinstance(base_path, BaseModelInfo):
        if base_path.sha256 != manifest["base_model"]["sha256"]:
            raise ArtifactError(
                f"{adapter_dir} was trained on base {manifest['base_model']['name']!r} "
                f"(sha256 {manifest['base_model']['sha256'][:12]}), not on {base_path.name!r} "
                f"(sha256 {base_path.sha256[:12]})"
            )
        base_path = base_path.path
    encrypted = bool(encrypted_names(manifest))
    if encrypted and key is None:
        raise ArtifactError(
            f"{adapter_dir}: the adapter weights are encrypted; give the key (AION_ADAPTER_KEY)"
        )
    # Decrypt before loading the (large) base model so that a wrong key fails fast.
    state = _decrypted_state_dict(adapter_dir, manifest, key) if encrypted and key is not None else None

    from peft import PeftConfig, PeftModel, set_peft_model_state_dict

    base = load_causal_lm(Path(base_path), dtype=dtype)
    if state is None:
        model = PeftModel.from_pretrained(base, str(adapter_dir))
    else:
        config = PeftConfig.from_pretrained(str(adapter_dir))
        config.inference_mode = True
        model = PeftModel(base, config)
        result: Any = set_peft_model_state_dict(model, state)
        missing = [k for k in result.missing_keys if "lora_" in k]
        if result.unexpected_keys or missing:
            raise ArtifactError(
                f"{adapter_dir}: adapter weights do not fit the base "
                f"(unexpected {result.unexpected_keys[:3]}, missing {missing[:3]})"
            )
    model.eval()
    return model

"""Adapter packaging: a PEFT folder into an immutable package, uploaded manifest last, downloaded verified.

`package_adapter` and `upload_adapter` return the sha256 of ``manifest.json`` (`manifest_digest`),
which names one package exactly, so that a registry can record it as the version's content
address and pin loads to it. Training writes the adapter in clear into a private temporary folder
(``mkdtemp``, mode 0700) that is deleted after packaging; with a key, the artifact store only
ever holds ciphertext weights.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aion_assets.core.artifacts import ArtifactStore
from aion_assets.core.errors import ArtifactError
from aion_assets.seal.training.adapters import manifest_digest, verify_manifest
from aion_assets.seal.training.base_models import BaseModelInfo
from aion_assets.seal.training.manifest import (
    ENCRYPTED_SUFFIX,
    ENCRYPTION_SCHEME,
    MANIFEST,
    WEIGHT_FILES,
    AdapterBinding,
    file_associated_data,
    package_files,
    write_manifest,
)


@dataclass(frozen=True)
class AdapterPackage:
    """A package folder written by `package_adapter`; usable wherever a path is expected."""

    path: Path
    manifest_sha256: str

    def __fspath__(self) -> str:
        return os.fspath(self.path)


@dataclass(frozen=True)
class AdapterUpload:
    """What `upload_adapter` wrote: the prefix, the keys (manifest last) and the manifest's sha256."""

    prefix: str
    keys: list[str]
    manifest_sha256: str


def package_adapter(
    src_dir: Path,
    dest_dir: Path,
    *,
    base_model_info: BaseModelInfo,
    binding: AdapterBinding,
    dataset_version: str,
    dataset_hash: str,
    config: Mapping[str, Any],
    loss_curve: Sequence[Sequence[float]],
    seed: int,
    key: bytes | None = None,
    extra: Mapping[str, Any] | None = None,
) -> AdapterPackage:
    """Copy the PEFT folder SRC_DIR into a complete package at DEST_DIR, atomically.

    Files go into a sibling temp folder, weight files are encrypted when KEY is given (with
    associated data naming BINDING, the base model and the file), the manifest is written last
    (authenticated when KEY is given), and the folder is renamed to DEST_DIR at the end:
    DEST_DIR never exists half-written.

    Returns:
        The package, with the sha256 of its manifest (its content address).

    Raises:
        ArtifactError: DEST_DIR exists already, or SRC_DIR has no adapter weights.
    """
    from aion_assets.core.crypto import encrypt_file

    src_dir, dest_dir = Path(src_dir), Path(dest_dir)
    if dest_dir.exists():
        raise ArtifactError(f"{dest_dir} exists; adapter packages are immutable")
    if (
        not any((src_dir / w).is_file() for w in WEIGHT_FILES)
        or not (src_dir / "adapter_config.json").is_file()
    ):
        raise ArtifactError(f"{src_dir}: not a PEFT adapter folder (adapter_config.json + weights)")
    dest_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest_dir.parent / f".{dest_dir.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        encrypted = []
        for path in package_files(src_dir):
            rel = path.relative_to(src_dir)
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if key is not None and rel.name in WEIGHT_FILES:
                enc = target.with_name(target.name + ENCRYPTED_SUFFIX)
                aad = file_associated_data(asdict(binding), base_model_info.sha256, rel.as_posix())
                encrypt_file(path, enc, key, associated_data=aad)
                encrypted.append(enc.relative_to(tmp).as_posix())
            else:
                shutil.copyfile(path, target)
        encryption = {"scheme": ENCRYPTION_SCHEME, "files": encrypted} if encrypted else None
        write_manifest(
            tmp,
            base_model_info,
            dataset_version,
            dataset_hash,
            config,
            loss_curve,
            seed,
            binding=binding,
            key=key,
            encryption=encryption,
            extra=extra,
        )
        os.replace(tmp, dest_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return AdapterPackage(path=dest_dir, manifest_sha256=manifest_digest(dest_dir))


def upload_adapter(
    store: ArtifactStore, prefix: str, adapter_dir: Path | os.PathLike[str], *, key: bytes | None = None
) -> AdapterUpload:
    """Upload a verified package under PREFIX, the manifest last.

    A reader that finds ``PREFIX/manifest.json`` therefore finds every file it lists. PREFIX must
    be empty: packages are immutable, and two runs never share a prefix.

    Args:
        store: the artifact store.
        prefix: where the package goes (one per training run).
        adapter_dir: a package written by `package_adapter`.
        key: the adapter key, to authenticate the package before it leaves (optional).

    Returns:
        The prefix, the keys written (manifest last) and the manifest's sha256.

    Raises:
        ArtifactError: the package fails verification, or PREFIX already holds objects.
    """
    adapter_dir = Path(adapter_dir)
    verify_manifest(adapter_dir, key=key)
    prefix = prefix.rstrip("/")
    if next(iter(store.list(f"{prefix}/")), None) is not None:
        raise ArtifactError(
            f"{store.uri(prefix)} already holds objects; adapter packages are immutable and every "
            "training run writes its own prefix"
        )
    keys = []
    for path in package_files(adapter_dir):
        object_key = f"{prefix}/{path.relative_to(adapter_dir).as_posix()}"
        store.put_file(object_key, path)
        keys.append(object_key)
    manifest_key = f"{prefix}/{MANIFEST}"
    store.put_file(manifest_key, adapter_dir / MANIFEST)
    return AdapterUpload(prefix=prefix, keys=[*keys, manifest_key], manifest_sha256=manifest_digest(adapter_dir))


def download_adapter(
    store: ArtifactStore,
    prefix: str,
    dest_dir: Path,
    *,
    expected: AdapterBinding,
    key: bytes | None,
    manifest_sha256: str | None = None,
) -> Path:
    """Download the package at PREFIX into DEST_DIR (atomically) and verify it.

    Args:
        store: the artifact store.
        prefix: where the package was uploaded.
        dest_dir: where it goes (must not exist).
        expected: the tenant, domain and version the caller loads (from the run's metadata).
        key: the configured adapter key, or None when adapters are stored in clear.
        manifest_sha256: the content address recorded for this version, when known.

    Raises:
        ArtifactError: no manifest under PREFIX (incomplete upload) or verification fails (see
            `verify_manifest`); DEST_DIR is then not created.
    """
    dest_dir = Path(dest_dir)
    if not store.exists(f"{prefix.rstrip('/')}/{MANIFEST}"):
        raise ArtifactError(f"{store.uri(prefix)}: no {MANIFEST}; the adapter upload is incomplete")
    dest_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest_dir.name}.tmp-", dir=dest_dir.parent))
    try:
        store.download_dir(prefix, tmp)
        verify_manifest(tmp, expected=expected, key=key, manifest_sha256=manifest_sha256)
        os.replace(tmp, dest_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest_dir

"""Adapter packages: a bound manifest, atomic packaging, encryption at rest, verified loading.

A package is a standard PEFT adapter folder plus ``manifest.json``: where the adapter belongs
(``binding``: tenant, domain, version), the base model and its hash, the dataset version and
hash, the training config, the loss curve, the seed, library versions and the sha256 of every
other file. The manifest is written last (and uploaded last), so a folder or prefix without one
is never complete. The sha256 of ``manifest.json`` itself (`manifest_digest`) names one package
exactly: `package_adapter` and `upload_adapter` return it so that a registry can record it as the
version's content address and pin loads to it.

What a load checks, always before any file is used:

- **Without a key** the manifest's file hashes and binding are checked against the files and
  against the binding the caller expects (which comes from the run's metadata, not from the
  store). This is *integrity*, not authenticity: it catches corruption, incomplete uploads and a
  package under the wrong tenant's, domain's or version's prefix, but whoever can write to the
  store can also write a consistent manifest. Pinning the load to a recorded manifest sha256
  closes that gap for the versions that were recorded.
- **With a key** (``AION_ADAPTER_KEY``) the manifest also carries an HMAC-SHA256 over its
  canonical JSON, under a subkey derived from the adapter key (HKDF, `core.crypto.derive_key`),
  and the weight files are AES-256-GCM encrypted with associated data naming the tenant,
  domain, version, base model hash and file. A load with the key refuses a manifest whose MAC
  fails, and refuses a package without a MAC or with weights in clear (no downgrade to
  plaintext). A wrong key fails loudly.

Plaintext on disk: training writes the adapter in clear into a private temporary folder
(``mkdtemp``, mode 0700) that is deleted after packaging; `load_adapter_model` decrypts the
weights in memory; `plain_peft_folder`, for consumers that load adapters by path (the
evaluation), decrypts them into a 0700 folder that the caller deletes when done. With a key,
the artifact store only ever holds ciphertext weights.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aion_assets.core.artifacts import ArtifactStore
from aion_assets.core.errors import ArtifactError
from aion_assets.seal.training.base_models import BaseModelInfo, file_sha256

if TYPE_CHECKING:
    import torch
    from peft import PeftModel

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


def library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries that shape an adapter."""
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


def _files(folder: Path) -> list[Path]:
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


def manifest_digest(adapter_dir: Path | os.PathLike[str]) -> str:
    """sha256 of the package's ``manifest.json`` as stored: the package's content address."""
    path = Path(adapter_dir) / MANIFEST
    try:
        return file_sha256(path)
    except FileNotFoundError:
        raise ArtifactError(f"{adapter_dir}: no {MANIFEST}; the adapter is incomplete") from None


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
            for p in _files(adapter_dir)
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
        or not all(isinstance(n, str) for n in _encrypted_names(manifest))
        or not (isinstance(base_model, dict) and isinstance(base_model.get("sha256"), str))
    ):
        raise ArtifactError(f"{path}: malformed adapter manifest (files, encryption or base_model)")
    return manifest


def _encrypted_names(manifest: Mapping[str, Any]) -> list[str]:
    files = (manifest.get("encryption") or {}).get("files") or []
    return list(files) if isinstance(files, list) else [files]


def _authenticate(manifest: Mapping[str, Any], key: bytes, where: Path) -> None:
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
    encrypted = set(_encrypted_names(manifest))
    clear = sorted(n for n in manifest.get("files", {}) if Path(n).name in WEIGHT_FILES)
    if not encrypted or clear:
        raise ArtifactError(
            f"{where}: the weights are stored in clear ({clear or 'no encrypted files'}); {_NO_DOWNGRADE}"
        )


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
        _authenticate(manifest, key, adapter_dir)
    _check_binding(manifest, expected, adapter_dir)
    listed: dict[str, dict[str, Any]] = manifest.get("files", {})
    present = {p.relative_to(adapter_dir).as_posix() for p in _files(adapter_dir)}
    problems = []
    for name in sorted(set(listed) - present):
        problems.append(f"{name} is missing")
    for name in sorted(present - set(listed)):
        problems.append(f"{name} is not in the manifest")
    for name in sorted(set(listed) & present):
        path = adapter_dir / name
        if path.stat().st_size != listed[name]["size"] or file_sha256(path) != listed[name]["sha256"]:
            problems.append(f"{name} does not match its sha256")
    for name in sorted(set(_encrypted_names(manifest)) - set(listed)):
        problems.append(f"encrypted file {name} is not in the manifest's files")
    if problems:
        raise ArtifactError(f"{adapter_dir}: adapter fails verification: {'; '.join(problems)}")
    return manifest


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
        for path in _files(src_dir):
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
    for path in _files(adapter_dir):
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




def _decrypted_state_dict(
    adapter_dir: Path, manifest: Mapping[str, Any], key: bytes
) -> dict[str, torch.Tensor]:
    from safetensors.torch import load as load_safetensors

    from aion_assets.core.crypto import decrypt_bytes

    names = [n for n in _encrypted_names(manifest) if n.endswith(".safetensors" + ENCRYPTED_SUFFIX)]
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
    encrypted = set(_encrypted_names(manifest))
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
    encrypted = bool(_encrypted_names(manifest))
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

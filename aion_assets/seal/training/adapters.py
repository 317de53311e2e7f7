"""Adapter packages: manifest, atomic packaging, optional encryption at rest, verified loading.

A package is a standard PEFT adapter folder plus ``manifest.json``: the base model and its
hash, the dataset version and hash, the training config, the loss curve, the seed, library
versions and the sha256 of every other file. The manifest is written last (and uploaded last),
so a folder or prefix without one is never complete; `verify_manifest` checks every file.

With a key, the weight files are stored AES-256-GCM encrypted (``adapter_model.safetensors.enc``,
format of `aion_assets.core.crypto`, bound to the file's name); `load_adapter_model` decrypts
them in memory, so plaintext weights never touch the disk. A wrong key fails loudly.
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
MANIFEST_FORMAT = 1
ENCRYPTED_SUFFIX = ".enc"
WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin")
ENCRYPTION_SCHEME = "AES-256-GCM (aion_assets.core.crypto format 1, AAD = file name)"
_LIBRARIES = ("torch", "transformers", "peft", "accelerate", "safetensors", "deepspeed")


def library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries that shape an adapter."""
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def write_manifest(
    adapter_dir: Path,
    base_model_info: BaseModelInfo,
    dataset_version: str,
    dataset_hash: str,
    config: Mapping[str, Any],
    loss_curve: Sequence[Sequence[float]],
    seed: int,
    *,
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
        encryption: how weight files are encrypted (None: stored in the clear).
        extra: more JSON metadata (train seconds, tokens/s, ...).
    """
    adapter_dir = Path(adapter_dir)
    manifest = {
        "format": MANIFEST_FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
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


def read_manifest(adapter_dir: Path) -> dict[str, Any]:
    """The manifest of an adapter folder, unverified.

    Raises:
        ArtifactError: there is no manifest (the adapter is incomplete) or it is unreadable.
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
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise ArtifactError(f"{path}: not an adapter manifest of format {MANIFEST_FORMAT}")
    return manifest


def verify_manifest(adapter_dir: Path) -> dict[str, Any]:
    """Check every file of ADAPTER_DIR against its manifest; returns the manifest.

    Raises:
        ArtifactError: the manifest is missing, a listed file is missing or differs (sha256 /
            size), or a file not in the manifest is present.
    """
    adapter_dir = Path(adapter_dir)
    manifest = read_manifest(adapter_dir)
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
    if problems:
        raise ArtifactError(f"{adapter_dir}: adapter fails verification: {'; '.join(problems)}")
    return manifest


def package_adapter(
    src_dir: Path,
    dest_dir: Path,
    *,
    base_model_info: BaseModelInfo,
    dataset_version: str,
    dataset_hash: str,
    config: Mapping[str, Any],
    loss_curve: Sequence[Sequence[float]],
    seed: int,
    key: bytes | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Copy the PEFT folder SRC_DIR into a complete package at DEST_DIR, atomically.

    Files go into a sibling temp folder, weight files are encrypted when KEY is given, the
    manifest is written last, and the folder is renamed to DEST_DIR at the end: DEST_DIR
    never exists half-written.

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
            if key is not None and rel.as_posix() in WEIGHT_FILES:
                enc = target.with_name(target.name + ENCRYPTED_SUFFIX)
                encrypt_file(path, enc, key, associated_data=rel.as_posix().encode())
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
            encryption=encryption,
            extra=extra,
        )
        os.replace(tmp, dest_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest_dir


def upload_adapter(store: ArtifactStore, prefix: str, adapter_dir: Path) -> list[str]:
    """Upload a verified package under PREFIX, the manifest last; returns the keys written.

    A reader that finds ``PREFIX/manifest.json`` therefore finds every file it lists.
    """
    adapter_dir = Path(adapter_dir)
    verify_manifest(adapter_dir)
    keys = []
    for path in _files(adapter_dir):
        key = f"{prefix.rstrip('/')}/{path.relative_to(adapter_dir).as_posix()}"
        store.put_file(key, path)
        keys.append(key)
    manifest_key = f"{prefix.rstrip('/')}/{MANIFEST}"
    store.put_file(manifest_key, adapter_dir / MANIFEST)
    return [*keys, manifest_key]


def download_adapter(store: ArtifactStore, prefix: str, dest_dir: Path) -> Path:
    """Download the package at PREFIX into DEST_DIR (atomically) and verify it.

    Raises:
        ArtifactError: no manifest under PREFIX (incomplete upload) or verification fails.
    """
    dest_dir = Path(dest_dir)
    if not store.exists(f"{prefix.rstrip('/')}/{MANIFEST}"):
        raise ArtifactError(f"{store.uri(prefix)}: no {MANIFEST}; the adapter upload is incomplete")
    dest_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest_dir.name}.tmp-", dir=dest_dir.parent))
    try:
        store.download_dir(prefix, tmp)
        verify_manifest(tmp)
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

    names = [n for n in manifest["encryption"]["files"] if n.endswith(".safetensors" + ENCRYPTED_SUFFIX)]
    if len(names) != 1:
        raise ArtifactError(f"{adapter_dir}: expected one encrypted safetensors file, found {names}")
    name = names[0]
    plain_name = name[: -len(ENCRYPTED_SUFFIX)]
    blob = (adapter_dir / name).read_bytes()
    # decrypt_bytes raises ArtifactError("wrong key or corrupted artifact ...") on a bad key.
    return load_safetensors(decrypt_bytes(blob, key, associated_data=plain_name.encode()))


def plain_peft_folder(package: Path, key: bytes | None, into: Path) -> Path:
    """A plain PEFT folder for PACKAGE, for consumers that load adapters from disk by path.

    An unencrypted package is returned as it is. An encrypted one has its weights decrypted
    into INTO (created with mode 0700; the caller deletes it when done) next to copies of the
    other files; the manifest is verified first.

    Raises:
        ArtifactError: the manifest fails, the package is encrypted and KEY is None, or the key is wrong.
    """
    from aion_assets.core.crypto import decrypt_file

    package = Path(package)
    manifest = verify_manifest(package)
    encrypted = {Path(n).name for n in (manifest.get("encryption") or {}).get("files") or []}
    if not encrypted:
        return package
    if key is None:
        raise ArtifactError(f"{package}: the adapter weights are encrypted; give the key (AION_ADAPTER_KEY)")
    into.mkdir(mode=0o700, parents=True)
    for path in package.iterdir():
        if path.name == MANIFEST or not path.is_file():
            continue
        if path.name in encrypted:
            plain = path.name[: -len(ENCRYPTED_SUFFIX)]
            decrypt_file(path, into / plain, key, associated_data=plain.encode())
        else:
            shutil.copyfile(path, into / path.name)
    return into


def load_adapter_model(
    base_path: Path | BaseModelInfo,
    adapter_dir: Path,
    key: bytes | None = None,
    *,
    dtype: torch.dtype | None = None,
) -> PeftModel:
    """Load the base model with a verified adapter package on top, in eval mode.

    Args:
        base_path: the base checkpoint folder; given a BaseModelInfo, its sha256 must match
            the manifest's (an adapter only makes sense on the base it was trained on).
        adapter_dir: a package written by `package_adapter` (manifest verified first).
        key: the AES key, required when the weights are encrypted.
        dtype: the base model's dtype (default fp32).

    Raises:
        ArtifactError: missing/failed manifest, encrypted without a key, wrong key, base mismatch.
    """
    from aion_assets.seal.training.base_models import load_causal_lm

    adapter_dir = Path(adapter_dir)
    manifest = verify_manifest(adapter_dir)
    if isinstance(base_path, BaseModelInfo):
        if base_path.sha256 != manifest["base_model"]["sha256"]:
            raise ArtifactError(
                f"{adapter_dir} was trained on base {manifest['base_model']['name']!r} "
                f"(sha256 {manifest['base_model']['sha256'][:12]}), not on {base_path.name!r} "
                f"(sha256 {base_path.sha256[:12]})"
            )
        base_path = base_path.path
    encrypted = bool(manifest.get("encryption"))
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

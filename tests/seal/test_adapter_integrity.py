"""Protects adapter packages against whoever can write to the artifact store (security finding 4).

Protects: a package copied under another tenant's, domain's or version's prefix is refused on
load with an error naming the mismatch, with and without a key; with a key, a plaintext package
(downgrade), an unauthenticated or re-signed-with-another-key manifest, an older manifest format
and any altered file are refused, and the AES-GCM associated data binds each encrypted file to
its tenant, domain, version and name even if a manifest were forged; without a key, hashes and
the binding are still checked (integrity), and pinning the manifest's sha256 catches a
consistently rewritten package; a prefix already holding a package is never written into; the
manifest's sha256 is exposed by packaging and upload; a malformed manifest is an ArtifactError,
not a TypeError. No model is loaded: the PEFT folder holds marker bytes, which is all these
checks look at.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from aion_assets.core.artifacts import LocalArtifactStore
from aion_assets.core.crypto import generate_key
from aion_assets.core.errors import ArtifactError
from aion_assets.seal.training.adapters import manifest_digest, plain_peft_folder
from aion_assets.seal.training.base_models import BaseModelInfo, file_sha256
from aion_assets.seal.training.manifest import MANIFEST, AdapterBinding, file_associated_data, write_manifest
from aion_assets.seal.training.packaging import AdapterPackage, download_adapter, package_adapter, upload_adapter

BASE = BaseModelInfo(name="tiny", path=Path("/nonexistent"), sha256="ab" * 32)
ACME = AdapterBinding("acme", "support", "tiny+seal-acme~support@2026.04.01-000000-aaaaaaaa")
GLOBEX = AdapterBinding("globex", "support", "tiny+seal-globex~support@2026.04.01-000000-bbbbbbbb")


def _prefix(binding: AdapterBinding) -> str:
    return f"seal-adapters/{binding.tenant_id}/{binding.domain}/{binding.version}"


def _peft_folder(root: Path, weights: bytes) -> Path:
    folder = root / f"peft-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"r": 4, "peft_type": "LORA"}))
    (folder / "adapter_model.safetensors").write_bytes(weights)
    return folder


def _package(root: Path, binding: AdapterBinding, key: bytes | None, weights: bytes) -> AdapterPackage:
    return package_adapter(
        _peft_folder(root, weights),
        root / f"pkg-{uuid.uuid4().hex[:8]}",
        base_model_info=BASE,
        binding=binding,
        dataset_version="v1",
        dataset_hash="cd" * 32,
        config={"r": 4},
        loss_curve=[(1, 2.0)],
        seed=0,
        key=key,
    )


def _replace_prefix(store: LocalArtifactStore, source: str, target: str) -> None:
    """What an attacker with write access to the bucket does: copy SOURCE's objects over TARGET."""
    for key in list(store.list(target + "/")):
        store.delete(key)
    for key in store.list(source + "/"):
        store.put_bytes(target + key[len(source):], store.get_bytes(key))


def _load(store: LocalArtifactStore, prefix: str, tmp: Path, expected: AdapterBinding, key: bytes | None) -> bytes:
    """Download and decrypt as the evaluation does; returns the weights it would use."""
    package = download_adapter(store, prefix, tmp / "download", expected=expected, key=key)
    plain = plain_peft_folder(package, key, tmp / "plain", expected=expected)
    return (plain / "adapter_model.safetensors").read_bytes()


@pytest.fixture
def store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(tmp_path / "store")


@pytest.mark.parametrize("encrypted", [True, False], ids=["key", "no-key"])
@pytest.mark.parametrize(
    ("victim", "message"),
    [
        (GLOBEX, "tenant_id is 'acme', expected 'globex'"),
        (AdapterBinding("acme", "billing", ACME.version), "domain is 'support', expected 'billing'"),
        (AdapterBinding("acme", "support", ACME.version + "-later"), "version is"),
    ],
    ids=["tenant", "domain", "version"],
)
def test_a_package_copied_under_another_prefix_is_refused(
    store: LocalArtifactStore, tmp_path: Path, encrypted: bool, victim: AdapterBinding, message: str
) -> None:
    key = generate_key() if encrypted else None
    upload_adapter(store, _prefix(ACME), _package(tmp_path, ACME, key, b"weights of acme"), key=key)
    upload_adapter(store, _prefix(victim), _package(tmp_path, victim, key, b"weights of victim"), key=key)
    assert _load(store, _prefix(victim), tmp_path / "before", victim, key) == b"weights of victim"
    _replace_prefix(store, _prefix(ACME), _prefix(victim))
    with pytest.raises(ArtifactError, match=message) as info:
        _load(store, _prefix(victim), tmp_path / "after", victim, key)
    assert "belongs elsewhere" in str(info.value)
    assert list((tmp_path / "after").iterdir()) == []  # nothing was downloaded or decrypted


def test_a_plaintext_package_is_refused_when_a_key_is_configured(store: LocalArtifactStore, tmp_path: Path) -> None:
    key = generate_key()
    upload_adapter(store, _prefix(GLOBEX), _package(tmp_path, GLOBEX, key, b"weights of globex"), key=key)
    # The attacker knows the binding and writes a consistent plaintext package for it.
    upload_adapter(store, "staging/plain", _package(tmp_path, GLOBEX, None, b"attacker weights"))
    _replace_prefix(store, "staging/plain", _prefix(GLOBEX))
    with pytest.raises(ArtifactError, match=r"not authenticated.*downgrade refused"):
        _load(store, _prefix(GLOBEX), tmp_path / "a", GLOBEX, key)
    # ... and a plaintext package signed under another key (the attacker's own) fails the MAC.
    upload_adapter(store, "staging/own-key", _package(tmp_path, GLOBEX, generate_key(), b"attacker weights"))
    _replace_prefix(store, "staging/own-key", _prefix(GLOBEX))
    with pytest.raises(ArtifactError, match="failed authentication"):
        _load(store, _prefix(GLOBEX), tmp_path / "b", GLOBEX, key)


def test_weights_in_clear_next_to_a_valid_mac_are_refused(tmp_path: Path) -> None:
    key = generate_key()
    folder = _peft_folder(tmp_path, b"clear weights")
    write_manifest(folder, BASE, "v1", "cd" * 32, {}, [], 0, binding=GLOBEX, key=key)
    with pytest.raises(ArtifactError, match=r"stored in clear.*downgrade refused"):
        plain_peft_folder(folder, key, tmp_path / "plain", expected=GLOBEX)


@pytest.mark.parametrize("edit", ["binding", "encryption", "format_1", "mac"])
def test_an_edited_manifest_fails_authentication(tmp_path: Path, edit: str) -> None:
    key = generate_key()
    package = _package(tmp_path, ACME, key, b"weights of acme").path
    manifest = json.loads((package / MANIFEST).read_text())
    if edit == "binding":
        manifest["binding"] = {"tenant_id": "globex", "domain": "support", "version": GLOBEX.version}
    elif edit == "encryption":
        manifest["encryption"] = None
    elif edit == "format_1":
        manifest["format"] = 1
    else:
        manifest["authentication"]["mac"] = "00" * 32
    (package / MANIFEST).write_text(json.dumps(manifest))
    expected = GLOBEX if edit == "binding" else ACME
    message = "format 1 is bound to no tenant" if edit == "format_1" else "failed authentication"
    with pytest.raises(ArtifactError, match=message):
        plain_peft_folder(package, key, tmp_path / "plain", expected=expected)
    assert not (tmp_path / "plain").exists()


def test_associated_data_binds_each_encrypted_file_even_under_a_forged_manifest(tmp_path: Path) -> None:
    """Defence in depth: were the MAC ever bypassed, acme's ciphertext still does not decrypt as globex's."""
    key = generate_key()
    acme = _package(tmp_path, ACME, key, b"weights of acme").path
    forged = tmp_path / "forged"
    forged.mkdir()
    for name in ("adapter_config.json", "adapter_model.safetensors.enc"):
        (forged / name).write_bytes((acme / name).read_bytes())
    encryption = json.loads((acme / MANIFEST).read_text())["encryption"]
    write_manifest(forged, BASE, "v1", "cd" * 32, {}, [], 0, binding=GLOBEX, key=key, encryption=encryption)
    with pytest.raises(ArtifactError, match="wrong key or corrupted artifact"):
        plain_peft_folder(forged, key, tmp_path / "plain", expected=GLOBEX)
    assert not (tmp_path / "plain").exists()
    aads = {
        file_associated_data({"tenant_id": t, "domain": d, "version": v}, BASE.sha256, f)
        for t, d, v, f in [
            ("acme", "support", "v", "adapter_model.safetensors"),
            ("globex", "support", "v", "adapter_model.safetensors"),
            ("acme", "billing", "v", "adapter_model.safetensors"),
            ("acme", "support", "w", "adapter_model.safetensors"),
            ("acme", "support", "v", "adapter_model.bin"),
        ]
    }
    assert len(aads) == 5


@pytest.mark.parametrize("encrypted", [True, False], ids=["key", "no-key"])
def test_a_tampered_file_is_refused(store: LocalArtifactStore, tmp_path: Path, encrypted: bool) -> None:
    key = generate_key() if encrypted else None
    upload = upload_adapter(store, _prefix(ACME), _package(tmp_path, ACME, key, b"weights of acme"), key=key)
    weights = next(k for k in upload.keys if "adapter_model.safetensors" in k)
    data = bytearray(store.get_bytes(weights))
    data[-1] ^= 1
    store.put_bytes(weights, bytes(data))
    with pytest.raises(ArtifactError, match="does not match its sha256"):
        _load(store, _prefix(ACME), tmp_path, ACME, key)


def test_without_a_key_the_check_is_integrity_and_a_pinned_sha256_closes_the_gap(
    store: LocalArtifactStore, tmp_path: Path
) -> None:
    upload = upload_adapter(store, _prefix(ACME), _package(tmp_path, ACME, None, b"weights of acme"))
    # Rewrite the package consistently (weights and their hash in the manifest): without a key
    # nothing can tell, which is why the docstring calls this integrity, not authenticity ...
    weights_key = f"{_prefix(ACME)}/adapter_model.safetensors"
    store.put_bytes(weights_key, b"attacker weights")
    manifest = json.loads(store.get_bytes(f"{_prefix(ACME)}/{MANIFEST}"))
    local = tmp_path / "w"
    local.write_bytes(b"attacker weights")
    manifest["files"]["adapter_model.safetensors"] = {"sha256": file_sha256(local), "size": local.stat().st_size}
    store.put_bytes(f"{_prefix(ACME)}/{MANIFEST}", json.dumps(manifest).encode())
    assert _load(store, _prefix(ACME), tmp_path / "unpinned", ACME, None) == b"attacker weights"
    # ... and pinning the manifest's sha256 recorded at upload refuses it.
    with pytest.raises(ArtifactError, match="not the adapter version that was recorded"):
        download_adapter(
            store, _prefix(ACME), tmp_path / "pinned", expected=ACME, key=None, manifest_sha256=upload.manifest_sha256
        )


def test_a_prefix_is_written_once_and_the_manifest_sha256_is_exposed(
    store: LocalArtifactStore, tmp_path: Path
) -> None:
    key = generate_key()
    first = _package(tmp_path, ACME, key, b"weights of run 1")
    second = _package(tmp_path, ACME, key, b"weights of run 2")
    assert first.manifest_sha256 == file_sha256(first.path / MANIFEST) == manifest_digest(first)
    assert first.manifest_sha256 != second.manifest_sha256
    upload = upload_adapter(store, _prefix(ACME), first, key=key)
    assert upload.manifest_sha256 == first.manifest_sha256 and upload.prefix == _prefix(ACME)
    # A second run that computed the same prefix never overwrites the first run's package.
    with pytest.raises(ArtifactError, match="already holds objects"):
        upload_adapter(store, _prefix(ACME), second, key=key)
    assert _load(store, _prefix(ACME), tmp_path / "got", ACME, key) == b"weights of run 1"


@pytest.mark.parametrize(
    "change",
    [
        {"files": []},
        {"files": {"adapter_config.json": "x"}},
        {"encryption": "yes"},
        {"base_model": None},
        {"base_model": {"name": "tiny"}},
    ],
    ids=["files-list", "file-entry", "encryption", "base_model", "base_sha256"],
)
def test_a_malformed_manifest_is_an_artifact_error(tmp_path: Path, change: dict[str, object]) -> None:
    package = _package(tmp_path, ACME, None, b"weights of acme").path
    manifest = json.loads((package / MANIFEST).read_text()) | change
    (package / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="malformed adapter manifest"):
        plain_peft_folder(package, None, tmp_path / "plain", expected=ACME)

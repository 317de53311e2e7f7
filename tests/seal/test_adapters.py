"""Protects adapter packages: the manifest covers every file, records where the package belongs
and detects tampering, packaging is all-or-nothing, encryption at rest round-trips and a wrong or
missing key fails loudly, a real model refuses a package bound to another tenant, and a package
reloads into a model with exactly the outputs of the model that was saved.

The store-level attacks (swap, downgrade, pinning) are in test_adapter_integrity.py."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import torch

from aion_assets.core.artifacts import LocalArtifactStore
from aion_assets.core.crypto import generate_key
from aion_assets.core.errors import ArtifactError
from aion_assets.seal.training.adapters import load_adapter_model, verify_manifest
from aion_assets.seal.training.base_models import BaseModelInfo, weights_sha256
from aion_assets.seal.training.manifest import MANIFEST, AdapterBinding, write_manifest
from aion_assets.seal.training.packaging import download_adapter, package_adapter, upload_adapter

PROBE = torch.tensor([[1, 5, 9, 14, 20, 7, 3]])
ACME = AdapterBinding("acme", "support", "tiny+seal-acme~support@2026.04.01-000000-run00001")


@pytest.fixture(scope="module")
def saved_adapter(tiny_llama: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.Tensor]:
    """A PEFT adapter with non-trivial weights, and the logits of the in-memory model that saved it."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(3)
    base = AutoModelForCausalLM.from_pretrained(str(tiny_llama), dtype=torch.float32)
    model = get_peft_model(
        base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"])
    )
    for name, param in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.3)
    model.eval()
    with torch.no_grad():
        logits = model(input_ids=PROBE).logits
    folder = tmp_path_factory.mktemp("peft") / "adapter"
    model.save_pretrained(str(folder))
    return folder, logits


@pytest.fixture(scope="module")
def base_info(tiny_llama: Path) -> BaseModelInfo:
    return BaseModelInfo(name="tiny", path=tiny_llama, sha256=weights_sha256(tiny_llama))


def _package(src: Path, dest: Path, info: BaseModelInfo, key: bytes | None = None) -> Path:
    return package_adapter(
        src,
        dest,
        base_model_info=info,
        binding=ACME,
        dataset_version="acme/support@v3",
        dataset_hash="ab" * 32,
        config={"r": 4},
        loss_curve=[(1, 2.5), (2, 2.0)],
        seed=7,
        key=key,
        extra={"train_seconds": 1.5},
    ).path


def test_manifest_records_provenance_and_every_file(
    saved_adapter: Any, base_info: BaseModelInfo, tmp_path: Path
) -> None:
    pkg = _package(saved_adapter[0], tmp_path / "pkg", base_info)
    manifest = verify_manifest(pkg)
    assert manifest["binding"] == {"tenant_id": "acme", "domain": "support", "version": ACME.version}
    assert manifest["base_model"] == {"name": "tiny", "sha256": base_info.sha256}
    assert manifest["dataset"] == {"version": "acme/support@v3", "sha256": "ab" * 32}
    assert manifest["loss_curve"] == [[1, 2.5], [2, 2.0]] and manifest["seed"] == 7
    assert {"torch", "transformers", "peft", "python"} <= set(manifest["libraries"])
    assert {"adapter_config.json", "adapter_model.safetensors"} <= set(manifest["files"])
    assert manifest["encryption"] is None and "authentication" not in manifest
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("tamper", ["edit", "delete", "add", "no_manifest"])
def test_manifest_detects_tampering(
    saved_adapter: Any, base_info: BaseModelInfo, tmp_path: Path, tamper: str
) -> None:
    pkg = _package(saved_adapter[0], tmp_path / "pkg", base_info)
    weights = pkg / "adapter_model.safetensors"
    if tamper == "edit":
        data = bytearray(weights.read_bytes())
        data[-1] ^= 1
        weights.write_bytes(bytes(data))
    elif tamper == "delete":
        weights.unlink()
    elif tamper == "add":
        (pkg / "extra.bin").write_bytes(b"x")
    else:
        (pkg / MANIFEST).unlink()
    expected = {
        "edit": "does not match",
        "delete": "is missing",
        "add": "not in the manifest",
        "no_manifest": "incomplete",
    }
    with pytest.raises(ArtifactError, match=expected[tamper]):
        verify_manifest(pkg)
    with pytest.raises(ArtifactError):
        load_adapter_model(base_info.path, pkg, expected=ACME)


def test_packaging_is_all_or_nothing(saved_adapter: Any, base_info: BaseModelInfo, tmp_path: Path) -> None:
    pkg = _package(saved_adapter[0], tmp_path / "pkg", base_info)
    with pytest.raises(ArtifactError, match="immutable"):
        _package(saved_adapter[0], pkg, base_info)
    not_an_adapter = tmp_path / "empty"
    not_an_adapter.mkdir()
    with pytest.raises(ArtifactError, match="not a PEFT adapter"):
        _package(not_an_adapter, tmp_path / "pkg2", base_info)
    with pytest.raises(
        ArtifactError, match="not JSON-serializable"
    ):  # a failure half-way (unserializable config) leaves nothing
        package_adapter(
            saved_adapter[0],
            tmp_path / "pkg3",
            base_model_info=base_info,
            binding=ACME,
            dataset_version="v",
            dataset_hash="h",
            config={"bad": object()},
            loss_curve=[],
            seed=0,
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "pkg"]


def test_plain_package_reloads_with_identical_outputs(
    saved_adapter: Any, base_info: BaseModelInfo, tmp_path: Path
) -> None:
    folder, logits = saved_adapter
    pkg = _package(folder, tmp_path / "pkg", base_info)
    model = load_adapter_model(base_info, pkg, expected=ACME)
    with torch.no_grad():
        assert torch.equal(model(input_ids=PROBE).logits, logits)


def test_encryption_round_trip_and_wrong_key(
    saved_adapter: Any, base_info: BaseModelInfo, tmp_path: Path
) -> None:
    folder, logits = saved_adapter
    key = generate_key()
    pkg = _package(folder, tmp_path / "enc", base_info, key=key)
    assert not (pkg / "adapter_model.safetensors").exists()
    blob = (pkg / "adapter_model.safetensors.enc").read_bytes()
    assert blob[:7] == b"AIONENC"
    assert (folder / "adapter_model.safetensors").read_bytes()[:64] not in blob
    assert verify_manifest(pkg, key=key)["encryption"]["files"] == ["adapter_model.safetensors.enc"]
    with torch.no_grad():
        model = load_adapter_model(base_info.path, pkg, key=key, expected=ACME)
        assert torch.equal(model(input_ids=PROBE).logits, logits)
    with pytest.raises(ArtifactError, match="wrong adapter key"):  # the manifest MAC fails first
        load_adapter_model(base_info.path, pkg, key=generate_key(), expected=ACME)
    with pytest.raises(ArtifactError, match="encrypted; give the key"):
        load_adapter_model(base_info.path, pkg, expected=ACME)


def test_a_real_model_refuses_another_tenants_package(
    saved_adapter: Any, base_info: BaseModelInfo, tmp_path: Path
) -> None:
    key = generate_key()
    pkg = _package(saved_adapter[0], tmp_path / "enc", base_info, key=key)
    globex = AdapterBinding("globex", "support", ACME.version)
    with pytest.raises(ArtifactError, match="tenant_id is 'acme', expected 'globex'"):
        load_adapter_model(base_info.path, pkg, key=key, expected=globex)
    clear = _package(saved_adapter[0], tmp_path / "clear", base_info)
    with pytest.raises(ArtifactError, match="tenant_id is 'acme', expected 'globex'"):
        load_adapter_model(base_info.path, clear, expected=globex)
    with pytest.raises(ArtifactError, match="downgrade refused"):
        load_adapter_model(base_info.path, clear, key=key, expected=ACME)


def test_plain_peft_folder_for_encrypted_and_clear_packages(
    saved_adapter: Any, base_info: BaseModelInfo, tmp_path: Path
) -> None:
    from peft import PeftModel

    from aion_assets.seal.training.adapters import plain_peft_folder
    from aion_assets.seal.training.base_models import load_causal_lm

    folder, logits = saved_adapter
    clear = _package(folder, tmp_path / "clear", base_info)
    assert plain_peft_folder(clear, None, tmp_path / "unused", expected=ACME) == clear
    key = generate_key()
    enc = _package(folder, tmp_path / "enc", base_info, key=key)
    with pytest.raises(ArtifactError, match="encrypted; give the key"):
        plain_peft_folder(enc, None, tmp_path / "nokey", expected=ACME)
    with pytest.raises(ArtifactError, match="wrong adapter key"):
        plain_peft_folder(enc, generate_key(), tmp_path / "wrong", expected=ACME)
    plain = plain_peft_folder(enc, key, tmp_path / "plain", expected=ACME)
    assert (plain / "adapter_model.safetensors").is_file() and not (plain / "manifest.json").exists()
    model = PeftModel.from_pretrained(load_causal_lm(base_info.path), str(plain)).eval()
    with torch.no_grad():
        assert torch.equal(model(input_ids=PROBE).logits, logits)


def test_adapter_on_another_base_is_refused(
    saved_adapter: Any, base_info: BaseModelInfo, tmp_path: Path
) -> None:
    pkg = _package(saved_adapter[0], tmp_path / "pkg", base_info)
    other = BaseModelInfo(name="other", path=base_info.path, sha256="0" * 64)
    with pytest.raises(ArtifactError, match="was trained on base 'tiny'"):
        load_adapter_model(other, pkg, expected=ACME)


def test_store_round_trip_uploads_manifest_last(
    saved_adapter: Any, base_info: BaseModelInfo, tmp_path: Path
) -> None:
    key = generate_key()
    pkg = _package(saved_adapter[0], tmp_path / "pkg", base_info, key=key)
    store = LocalArtifactStore(tmp_path / "store")
    prefix = "seal-adapters/tiny+seal-acme~support/20260401T000000Z-run00001"
    upload = upload_adapter(store, prefix, pkg, key=key)
    keys = upload.keys
    assert (
        keys[-1].endswith("/" + MANIFEST)
        and len(keys) == len(json.loads((pkg / MANIFEST).read_text())["files"]) + 1
    )
    got = download_adapter(
        store, prefix, tmp_path / "got", expected=ACME, key=key, manifest_sha256=upload.manifest_sha256
    )
    assert verify_manifest(got)["files"] == verify_manifest(pkg)["files"]
    # An upload that never reached its manifest is not an adapter.
    store.put_file("seal-adapters/half/adapter_config.json", pkg / "adapter_config.json")
    with pytest.raises(ArtifactError, match="incomplete"):
        download_adapter(store, "seal-adapters/half", tmp_path / "half", expected=ACME, key=key)
    assert not (tmp_path / "half").exists()


def test_write_manifest_covers_only_existing_files(
    saved_adapter: Any, base_info: BaseModelInfo, tmp_path: Path
) -> None:
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(saved_adapter[0], folder)
    write_manifest(folder, base_info, "v1", "h", {"r": 4}, [], 0, binding=ACME)
    assert verify_manifest(folder)
    (folder / "late.txt").write_text("written after the manifest")
    with pytest.raises(ArtifactError, match=r"late\.txt is not in the manifest"):
        verify_manifest(folder)
    os.remove(folder / "late.txt")

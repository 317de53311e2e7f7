"""The scrubber's policy step: from one pass's detections of a text to the spans it replaces.

``Scrubber`` (``engine``) runs it once per text and pass; its rules are the engine's contract
(``engine`` module docstring: stock detections are never vetoed, kept terms and placeholders are
cut out, our own candidates go through the precision rules, deny-listed terms are added, overlaps
are merged). Kept apart from the engine so the engine stays small; plain Python, no Presidio.

The policy is compiled once per call (``compiled``), and texts where a step cannot change the
result skip it: no candidate and no deny-list, no ``<`` (so no placeholder), a detection inside a
placeholder, no candidate of our own left to veto. ``tests/memory/test_scrub_fast_path.py`` checks
that the result equals the straightforward step's on every scrub test text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aion_assets.memory.scrub.analysis import Detection
from aion_assets.memory.scrub.context import NAME_TYPES, drop_ordinary_text, has_name_evidence, only_ordinary_words
from aion_assets.memory.scrub.policy import ENTITIES, NOT_SHIELDED_BY_VOCABULARY, ScrubPolicy
from aion_assets.memory.scrub.spans import (
    Cand,
    Span,
    code_holes,
    cut,
    has_alnum,
    holes,
    label_holes,
    placeholder_regex,
    resolve,
    term_regex,
    trim,
)

DENY_SCORE = 0.55  # below every typed detection, so an overlapping address or place keeps its type


@dataclass(frozen=True)
class Compiled:
    """What the policy step reads of a ``ScrubPolicy``, compiled once per call (not once per text)."""

    skip: frozenset[str]
    patterns: tuple[tuple[str, re.Pattern[str], float], ...]
    placeholders: re.Pattern[str]
    allow: re.Pattern[str] | None
    learned: re.Pattern[str] | None
    deny: re.Pattern[str] | None


def compiled(policy: ScrubPolicy) -> Compiled:
    """POLICY's skipped types, own patterns and term regexes, ready for ``finalise``."""
    # Built per call, not cached by policy: a policy's hash and equality (pydantic) cost more
    # than compiling, and ``re`` and ``term_regex`` cache the patterns themselves.
    return Compiled(
        skip=frozenset(policy.skip_entities),
        patterns=tuple((p.entity_type, re.compile(p.regex), p.score) for p in policy.extra_patterns),
        placeholders=placeholder_regex(ENTITIES + policy.own_types),
        allow=term_regex(policy.allow_list),
        learned=term_regex(policy.kept_terms),
        deny=term_regex(policy.deny_list),
    )


def finalise(text: str, detections: list[Detection], rules: Compiled, threshold: float) -> list[Span]:
    """The policy step of one pass: the final spans of TEXT from its DETECTIONS (module docstring).

    THRESHOLD: the project's own detections below it are ignored (stock ones keep stock's thresholds).
    """
    skip = rules.skip
    # A placeholder starts with "<": most texts of a first pass hold none.
    placeholders = holes(text, rules.placeholders) if "<" in text else []
    # A detection inside one placeholder (the re-scan's NER on "<PERSON>") keeps nothing.
    cands = [Cand(d.start, d.end, d.entity_type, d.score, d.layer) for d in detections
             if d.entity_type not in skip and (d.layer == "stock" or d.score >= threshold)
             and not (placeholders and _inside(d.start, d.end, placeholders))]
    for etype, rx, score in rules.patterns:
        cands.extend(Cand(m.start(), m.end(), etype, score, "own")
                     for m in rx.finditer(text) if m.end() > m.start())
    if not cands and rules.deny is None:
        return []  # nothing found and nothing denied: every step below would keep nothing
    kept: list[Cand] = []
    if cands:
        allowed = holes(text, rules.allow)
        learned = holes(text, rules.learned)
        for c in (trim(text, c) for c in cands if c.end > c.start):
            base = cut(c, placeholders)
            if not base:
                continue  # inside placeholders: every cut below leaves nothing either
            codes = code_holes(text, c)
            labels = label_holes(text, c) if "\n" in text[c.start : c.end] else []
            pieces = cut(c, placeholders + allowed + codes + labels
                         + ([] if c.entity_type in NOT_SHIELDED_BY_VOCABULARY else learned))
            # One of our own name or place candidates that held a kept term was the tenant's brand or
            # product phrase ("Acme Brira"): what is left of it goes only if it still holds a first
            # name or a place. A stock detection is narrowed only by kept terms and by the codes
            # in it (``spans.code_holes``); what is left of it beside a code goes unless ordinary words.
            narrowed = c.origin == "own" and c.entity_type in NAME_TYPES and pieces != base
            for a, b in pieces:
                piece = text[a:b].strip(" \t\n,;:.()")
                if not has_alnum(piece) or (narrowed and not has_name_evidence(piece)):
                    continue
                if codes and only_ordinary_words(piece):
                    continue
                kept.append(trim(text, Cand(a, b, c.entity_type, c.score, c.origin)))
        kept = [c for c in kept if c.end > c.start]
        if any(c.origin == "own" for c in kept):  # the vetoes apply to our own candidates only
            kept = _without_vetoed(text, kept)
    for a, b in holes(text, rules.deny):
        if not any(pa < b and a < pb for pa, pb in placeholders):
            kept.append(Cand(a, b, "PERSON", DENY_SCORE, "deny"))
    return resolve(text, kept)


def _without_vetoed(text: str, kept: list[Cand]) -> list[Cand]:
    """KEPT without our own candidates that the precision rules veto (``context.drop_ordinary_text``).

    A veto depends on the candidate and on the PERSON candidates around it, so the rules are asked
    once per distinct (start, end, type) among our own candidates and every PERSON one: the same
    answer as asking for each candidate, without repeating a stock detection's twin.
    """
    triples = [(c.start, c.end, c.entity_type) for c in kept]
    asked = list(dict.fromkeys(x for c, x in zip(kept, triples, strict=True)
                               if c.origin == "own" or x[2] == "PERSON"))
    veto = dict(zip(asked, drop_ordinary_text(text, asked), strict=True))
    return [c for c, x in zip(kept, triples, strict=True) if c.origin != "own" or not veto[x]]


def _inside(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    """Whether START..END lies within one of SPANS."""
    return any(a <= start and end <= b for a, b in spans)

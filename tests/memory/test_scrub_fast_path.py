"""Protects: the scrubber's faster policy step gives exactly what the straightforward one gave (issue 11).

``Scrubber._finalise`` compiles the policy once per call, returns early when a text has no
candidate, skips the placeholder search in texts without ``<``, skips candidates that lie inside
placeholders and calls the precision vetoes only when one of the project's own candidates is left.
``reference_apply`` below is the policy step and the analyse-replace-re-scan loop as they were
before those shortcuts (copied, one pass over every candidate, nothing skipped). On every text of
the scrub tests and a generated corpus, for several policies, independent and grouped, both must
give the same texts and counts. The detections are computed once by the real engine and shared,
so only the policy step and the loop are compared.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence

import pytest

from aion_assets.memory.scrub.analysis import Detection
from aion_assets.memory.scrub.context import NAME_TYPES, drop_ordinary_text, has_name_evidence, only_ordinary_words
from aion_assets.memory.scrub.engine import ENTITIES, Scrubber, ScrubPolicy, ScrubResult, get_scrubber
from aion_assets.memory.scrub.policy import NOT_SHIELDED_BY_VOCABULARY
from aion_assets.memory.scrub.pseudonyms import Pseudonyms
from aion_assets.memory.scrub.spans import (
    Cand,
    Span,
    code_holes,
    cut,
    has_alnum,
    holes,
    map_back,
    placeholder_regex,
    render,
    resolve,
    term_regex,
    trim,
)
from tests.memory.test_scrub_detections import POLICIES, JsonStore, scrub_test_texts

_DENY_SCORE = 0.55


def reference_finalise(threshold: float, text: str, detections: list[Detection], policy: ScrubPolicy) -> list[Span]:
    """The policy step of one pass, every step run on every text."""
    skip = policy.skip_entities
    cands = [Cand(d.start, d.end, d.entity_type, d.score, d.layer) for d in detections
             if d.entity_type not in skip and (d.layer == "stock" or d.score >= threshold)]
    for p in policy.extra_patterns:
        cands.extend(Cand(m.start(), m.end(), p.entity_type, p.score, "own")
                     for m in re.finditer(p.regex, text) if m.end() > m.start())
    placeholders = holes(text, placeholder_regex(ENTITIES + policy.own_types))
    allowed = holes(text, term_regex(policy.allow_list))
    learned = holes(text, term_regex(policy.kept_terms))
    kept: list[Cand] = []
    for c in (trim(text, c) for c in cands if c.end > c.start):
        base = cut(c, placeholders)
        codes = code_holes(text, c)
        shield = [] if c.entity_type in NOT_SHIELDED_BY_VOCABULARY else learned
        pieces = cut(c, placeholders + allowed + codes + shield)
        narrowed = c.origin == "own" and c.entity_type in NAME_TYPES and pieces != base
        for a, b in pieces:
            piece = text[a:b].strip(" \t\n,;:.()")
            if not has_alnum(piece) or (narrowed and not has_name_evidence(piece)):
                continue
            if codes and only_ordinary_words(piece):
                continue
            kept.append(trim(text, Cand(a, b, c.entity_type, c.score, c.origin)))
    kept = [c for c in kept if c.end > c.start]
    vetoed = drop_ordinary_text(text, [(c.start, c.end, c.entity_type) for c in kept])
    kept = [c for c, veto in zip(kept, vetoed, strict=True) if c.origin != "own" or not veto]
    for a, b in holes(text, term_regex(policy.deny_list)):
        if not any(pa < b and a < pb for pa, pb in placeholders):
            kept.append(Cand(a, b, "PERSON", _DENY_SCORE, "deny"))
    return resolve(text, kept)


def reference_apply(scrubber: Scrubber, texts: Sequence[str], policy: ScrubPolicy,
                    detect: Callable[[Sequence[str]], list[list[Detection]]], *, group: bool) -> list[ScrubResult]:
    """Analyse, replace, re-scan the output until a pass finds nothing: the loop as it was."""
    pseudonyms = Pseudonyms() if group else None
    spans: list[list[Span]] = [[] for _ in texts]
    current = list(texts)
    segments: list[list[tuple[int, int, int, int]]] = [[] for _ in texts]
    pending = [i for i, t in enumerate(texts) if t]

    def labeller(i: int) -> Callable[[Span], str]:
        if pseudonyms is None:
            return lambda s: f"<{s.entity_type}>"
        return lambda s: pseudonyms.label(s.entity_type, texts[i][s.start : s.end])

    while pending:
        batch = [current[i] for i in pending]
        found = [reference_finalise(scrubber.score_threshold, t, d, policy)
                 for t, d in zip(batch, detect(batch), strict=True)]
        changed = [i for i, f in zip(pending, found, strict=True) if f]
        for i, f in zip(pending, found, strict=True):
            if f:
                spans[i] = sorted(spans[i] + map_back(f, segments[i]), key=lambda s: s.start)
        if pseudonyms is not None:
            for i, ss in enumerate(spans):
                for s in ss:
                    pseudonyms.number(s.entity_type, texts[i][s.start : s.end])
        for i in changed:
            current[i], segments[i] = render(texts[i], spans[i], labeller(i))
        pending = changed
    return [ScrubResult(t, dict(sorted(Counter(s.entity_type for s in ss).items())))
            for t, ss in zip(current, spans, strict=True)]


@pytest.fixture(scope="module")
def shared() -> tuple[Scrubber, JsonStore, list[str]]:
    scrubber = get_scrubber()
    return scrubber, JsonStore(scrubber), scrub_test_texts()


@pytest.mark.parametrize("which", range(len(POLICIES)))
def test_fast_policy_step_equals_the_reference(shared: tuple[Scrubber, JsonStore, list[str]], which: int) -> None:
    scrubber, store, texts = shared
    policy = POLICIES[which]
    expected = reference_apply(scrubber, texts, policy, store, group=False)
    assert scrubber.apply_many(texts, policy, store) == expected
    assert any(r.text != x for r, x in zip(expected, texts, strict=True)), "the texts must hold PII"


def test_fast_group_step_equals_the_reference(shared: tuple[Scrubber, JsonStore, list[str]]) -> None:
    scrubber, store, texts = shared
    for policy in POLICIES:
        for i in range(0, 90, 3):
            group = texts[i : i + 3]
            assert scrubber.apply_many(group, policy, store, group=True) == reference_apply(
                scrubber, group, policy, store, group=True)

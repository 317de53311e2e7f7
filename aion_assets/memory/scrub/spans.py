"""Span arithmetic for the scrubber: candidates, holes (placeholders, kept terms), merging, rendering.

Plain Python over offsets; no Presidio, no spaCy. Used by ``aion_assets.memory.scrub.engine``.

- ``Cand``: a detection before the final merge, with where it came from: ``stock`` (Presidio as
  it comes; never vetoed, only cut by kept terms, placeholders, ``code_holes`` and ``label_holes``),
  ``own`` (the project's recognizers and patterns; subject to the precision rules) or ``deny`` (a
  deny-listed term);
- ``holes``: where a placeholder or a kept term lies; detections are cut around them;
- ``resolve``: overlapping candidates become one span, the union, typed by the most confident;
- ``render`` / ``map_back``: replace spans by placeholders, and bring offsets found in the
  rendered text back to the original (a later pass of the scrubber analyses the rendered text).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from aion_assets.memory.scrub.gazetteers import first_names, fold
from aion_assets.memory.scrub.words import is_common_word

# Validated formats beat shape-only guesses when they overlap (an IPv4 or SSN also "looks like" a phone).
_PRIORITY = {"EMAIL_ADDRESS": 0.3, "IP_ADDRESS": 0.3, "IBAN_CODE": 0.2, "US_SSN": 0.1, "CREDIT_CARD": 0.1}
# Types whose neighbouring detections, separated only by spaces, are one value ("<PERSON> <PERSON>").
_JOIN_ADJACENT = frozenset({"PERSON", "LOCATION", "STREET_ADDRESS"})
_EDGE = " \t\n,;:"
_NER_TYPES = frozenset({"PERSON", "LOCATION"})


@dataclass(frozen=True)
class Span:
    """A final, non-overlapping span to replace: offsets and type only."""

    start: int
    end: int
    entity_type: str
    score: float


@dataclass(frozen=True)
class Cand:
    """A candidate detection; ``origin`` is ``stock``, ``own`` or ``deny`` (module docstring)."""

    start: int
    end: int
    entity_type: str
    score: float
    origin: str


def trim(text: str, c: Cand) -> Cand:
    """Drop edge whitespace/punctuation a pattern took along (a sentence's full stop, a comma)."""
    start, end = c.start, c.end
    while end > start and (text[end - 1] in _EDGE or (text[end - 1] == "." and not _abbrev(text, start, end))):
        end -= 1
    while start < end and text[start] in _EDGE:
        start += 1
    return Cand(start, end, c.entity_type, c.score, c.origin)


def _abbrev(text: str, start: int, end: int) -> bool:
    # "St." / "Dr." / "Apt." keep their dot; "Berlin." does not.
    word = re.search(r"(\w+)\.$", text[start:end])
    return word is not None and len(word.group(1)) <= 3 and word.group(1)[:1].isupper()


@lru_cache(maxsize=256)
def term_regex(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    """Whole-word, case-insensitive alternation of TERMS; whitespace in a term matches any run of it.

    Longest first, so "Acme Support" wins over "Acme"; whole words only, so "Max" does not open a
    hole in "Maxwell".
    """
    if not terms:
        return None
    ordered = sorted(terms, key=len, reverse=True)
    alternatives = (r"\s+".join(re.escape(part) for part in t.split()) for t in ordered)
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)


@lru_cache(maxsize=64)
def placeholder_regex(types: tuple[str, ...]) -> re.Pattern[str]:
    """``<TYPE>`` and numbered ``<TYPE_7>`` placeholders of the given types."""
    alts = "|".join(re.escape(t) for t in sorted(types, key=len, reverse=True))
    return re.compile(rf"<(?:{alts})(?:_\d{{1,6}})?>")


def holes(text: str, rx: re.Pattern[str] | None) -> list[tuple[int, int]]:
    """Offsets of RX's matches in TEXT (none when RX is None)."""
    return [] if rx is None else [(m.start(), m.end()) for m in rx.finditer(text) if m.end() > m.start()]


def cut(c: Cand, hs: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The pieces of C that lie outside every hole."""
    pieces = [(c.start, c.end)]
    for hs_, he in hs:
        nxt = []
        for a, b in pieces:
            if he <= a or hs_ >= b:
                nxt.append((a, b))
            else:
                nxt.extend(p for p in ((a, hs_), (he, b)) if p[1] > p[0])
        pieces = nxt
    return pieces


def has_alnum(value: str) -> bool:
    """True when VALUE holds a letter or digit."""
    return re.search(r"[^\W_]", value) is not None


def resolve(text: str, cands: list[Cand]) -> list[Span]:
    """Merge overlapping candidates into their union, typed by the most confident (then longest) one.

    Unions rather than trimming, so that no piece of a lower-ranked detection is left in clear
    beside a placeholder; same-type neighbours separated by spaces only become one span.
    """
    if not cands:
        return []
    cands = sorted(cands, key=lambda s: (s.start, -s.end))
    groups: list[list[Cand]] = [[cands[0]]]
    end = cands[0].end
    for s in cands[1:]:
        if s.start < end:
            groups[-1].append(s)
            end = max(end, s.end)
        else:
            groups.append([s])
            end = s.end
    merged: list[Span] = []
    for g in groups:
        # A name or place with digits in it is the NER model swallowing a number ("Appelez le +33 ...");
        # the number's own, validated type names the merged span.
        best = max(g, key=lambda s: (not (s.entity_type in _NER_TYPES and re.search(r"\d", text[s.start : s.end])),
                                     s.score + _PRIORITY.get(s.entity_type, 0.0), s.end - s.start))
        merged.append(Span(min(s.start for s in g), max(s.end for s in g), best.entity_type, best.score))
    out = [merged[0]]
    for m in merged[1:]:
        prev = out[-1]
        if (m.entity_type == prev.entity_type and m.entity_type in _JOIN_ADJACENT
                and text[prev.end : m.start].strip(" \t") == ""):
            out[-1] = Span(prev.start, m.end, m.entity_type, max(prev.score, m.score))
        else:
            out.append(m)
    return out


Segment = tuple[int, int, int, int]  # original start, original end, rendered start, rendered end


def render(text: str, spans: list[Span], label: Callable[[Span], str]) -> tuple[str, list[Segment]]:
    """TEXT with each (disjoint, sorted) span replaced by ``label(span)``, and where each went."""
    parts: list[str] = []
    segments: list[Segment] = []
    pos = 0
    out_len = 0
    for s in spans:
        parts.append(text[pos : s.start])
        out_len += s.start - pos
        ph = label(s)
        segments.append((s.start, s.end, out_len, out_len + len(ph)))
        parts.append(ph)
        out_len += len(ph)
        pos = s.end
    parts.append(text[pos:])
    return "".join(parts), segments


def map_back(spans: list[Span], segments: list[Segment]) -> list[Span]:
    """Offsets of SPANS, found in a rendered text outside its placeholders, in the original text."""

    def to_original(p: int) -> int:
        delta = 0
        for o_start, o_end, r_start, r_end in segments:
            if r_end <= p:
                delta += (r_end - r_start) - (o_end - o_start)
            else:
                break
        return p - delta

    return [Span(to_original(s.start), to_original(s.end), s.entity_type, s.score) for s in spans]


# A whitespace-delimited chunk with a digit in it: an order number, a version, an error code
# ("ORD-71897", "v10.16.2", "E-955", "0x72158370"), never a word of a person's name or a place's.
_CODE_CHUNK = re.compile(r"[^\s<>]*\d[^\s<>]*")
_CODE_TYPES = frozenset({"PERSON", "LOCATION"})


def code_holes(text: str, c: Cand) -> list[tuple[int, int]]:
    """Codes inside one of stock Presidio's PERSON or LOCATION detections: what is cut out of it.

    The small spaCy model labels identifiers PERSON or GPE ("order ORD-71897" -> PERSON); names of
    people and places hold no digits, so cutting the chunks that do never loses a letter of one.
    For a LOCATION only chunks with a letter and a digit go (a bare number beside a town may be a
    postcode, which the address rules judge). Other types and other origins: no holes.
    """
    if c.origin != "stock" or c.entity_type not in _CODE_TYPES:
        return []
    out = []
    for m in _CODE_CHUNK.finditer(text, c.start, c.end):
        if c.entity_type == "LOCATION" and not re.search(r"[^\W\d_]", m.group()):
            continue
        out.append((m.start(), m.end()))
    return out


# A form field's label on its own line: "Phone:", "Address Line 1:", "Town/City:", "Post Town *".
_LABEL_LINE = re.compile(r"[ \t>*•-]*([^\W\d_][^\n:*|]{0,38}?)[ \t]*[:*|](?!//)")


# Function words of labels, which the word list (WordNet) does not hold: "Ship From", "Name of Company".
_LABEL_GLUE = frozenset({"to", "from", "of", "and", "or", "the", "for", "your", "our", "per", "in", "on", "at",
                         "by", "with", "if", "any", "my", "e", "g", "etc", "no", "nr"})


def field_label(text: str, start: int, end: int) -> bool:
    """True when TEXT[START:END] lies within a form field's label: the start of its line up to a colon
    (or "*", "|"), made of ordinary words only ("County:", "Post Town:", "Door Code:"); a chat
    speaker's name ("Laura: hi", "Rose: ...") is never a label."""
    line = text.rfind("\n", 0, start) + 1
    m = _LABEL_LINE.match(text, line)
    if m is None or m.start(1) > start or m.end(1) < end:
        return False
    words = re.findall(r"[^\W\d_]+", m.group(1))
    if not words or m.group(1).strip().isupper() or not all(
            is_common_word(w) or w.lower() in _LABEL_GLUE for w in words):
        return False
    # one word that is also a first name may be a chat speaker's ("Rose: can you call me back")
    return len(words) > 1 or fold(words[0]) not in first_names()


def label_holes(text: str, c: Cand) -> list[tuple[int, int]]:
    """Where a PERSON or LOCATION detection runs over a line break into the next line's form label
    ("Emma Clarke\nAddress Line" of "...\nAddress Line 1: ..."): from the break to the detection's end.
    The spaCy model reads a line break as a space; the label is ordinary words (``field_label``)."""
    if c.entity_type not in _CODE_TYPES:
        return []
    out = []
    for m in re.finditer(r"\n", text[c.start : c.end]):
        cut_at = c.start + m.start()
        if field_label(text, cut_at + 1, c.end):
            out.append((cut_at, c.end))
            break
    return out

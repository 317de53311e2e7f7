"""A tenant's learned vocabulary: the terms its own answers give many different users (plain Python).

What the agent says to many different customers is the company's voice (its product, app,
partner and menu names, model numbers, its support line), not one person's data. Those terms
survive scrubbing (``ScrubPolicy.vocabulary``), so a tenant the project has never seen keeps
its catalogue without typing it into an allow-list. Why this cannot keep a customer's data is
in docs/pipeline.md ("Learned vocabulary"); in short a term qualifies only when:

- it comes from the tenant's *answers* (interaction outputs and approved edited outputs), never
  from what customers write;
- the answers that use it were given to at least ``min_users`` distinct users (default 5;
  answers without a ``user_id`` count for no user) AND they are at least ``min_share`` of all the
  tenant's answers (default 0.001): "Hi John" to 5 different Johns among 10,000 users is 0.05%;
- it is no common first name (``recognizers.first_names()``), and no phrase made only of names
  and unknown words ("Laura Schmidt"); a phrase with a model number ("Aurora 40") or an ordinary
  word ("Morven World") is a product;
- it never follows a salutation or a title in an answer ("Dear X", "Hi X", "Mr X"), and it is
  no customer's own name: what a customer calls themselves in a message ("my name is X", "I'm
  X", "this is X", a sign-off) and the words of user ids never qualify;
- it is no structured identifier (e-mail, card, SSN, IBAN, IP address); a phone number qualifies
  only as any other term, i.e. when the agent's own answers give it to ``min_users`` users (a
  support line);
- the tenant's deny-list does not name it (and its allow-list is applied by the policy anyway).

Ordinary capitalised words ("Boost", "Settings") are collected too: stock NER takes menu words for
names and the scrubber never drops what stock Presidio finds. A lower-case word that is also a
first name ("bin") is only collected inside its phrase ("dust bin sensor"). The result is a
sorted term tuple with counts, versioned by a hash of its content.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aion_assets.memory.models import EditStatus, Interaction, SelfEdit
from aion_assets.memory.scrub.policy import VocabularySettings

#: Bumped when the rules below change: a new version of the rules gives a new vocabulary version.
RULES_VERSION = 1
# A token: letters/digits, with inner '&+.-' and apostrophes ("HomeKit", "BV-6010", "fw 2.13.4", "Laura's").
_TOKEN = re.compile(r"[^\W_](?:[\w&+.'’-]*[^\W_])?")
_POSSESSIVE = re.compile(r"['’]s$", re.IGNORECASE)
_PHONE = re.compile(r"(?<![\w+])\+?\d[\d ().-]{5,18}\d(?![\w])")
_EMAIL = re.compile(r"@")
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_SSN = re.compile(r"^\d{3}[- ]?\d{2}[- ]?\d{4}$")
_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9 ]{11,30}$")
_SALUTATION = frozenset(
    {"hi", "hello", "hey", "dear", "thanks", "thank", "regards", "cheers", "bye"}
    | {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam", "herr", "frau"}
)
# Words that start a run only because they start a sentence or a step ("The", "If", "Your").
_STOP_WORDS = frozenset(
    {"the", "a", "an", "if", "its", "it", "your", "my", "our", "their", "his", "her", "to", "this", "that"}
    | {"these", "those", "you", "we", "i", "in", "on", "at", "for", "and", "or", "but", "when", "then"}
    | {"please", "yes", "no", "so", "after", "before", "with", "from", "by", "of", "as", "is", "are"}
)
_CARD = re.compile(r"(?<![\w+])(?:\d[ -]?){12,18}\d(?!\w)")
# Structured identifiers inside a text: no candidate is taken from them.
_STRUCTURED_IN_TEXT = (
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b"),
    _CARD,
    re.compile(r"\b\d{3}-\d{2}-\d{4}\b"),
    re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b"),
)
_NAME_RUN = r"((?:[A-Z][\w'’-]*)(?:[ \t]+[A-Z][\w'’-]*){0,2})"
# The cue words ignore case ("My name is", "THIS IS"); the name itself must be capitalised.
_SELF_NAME = re.compile(
    r"(?i:\b(?:my\s+name\s+is|my\s+name's|name's|this\s+is|call\s+me|i'?m|i\s+am|signed))\s+" + _NAME_RUN
)
_SIGN_OFF = re.compile(
    r"(?:^|\n|[.!?]\s)\s*(?i:thanks|thank\s+you|regards|best|cheers|kind\s+regards|best\s+regards|sincerely|"
    r"br|thx)[,.!]?\s+" + _NAME_RUN + r"\s*[.!]?\s*$"
)
_DASH_NAME = re.compile(r"(?:^|\n)\s*[-–—]\s*((?:[A-Z][\w'’-]*)(?:[ \t]+[A-Z][\w'’-]*){0,2})\s*$")


@dataclass(frozen=True)
class Answer:
    """One interaction's evidence: who was answered, what they wrote, what the agent answered."""

    user_id: str | None
    message: str
    texts: tuple[str, ...]


@dataclass(frozen=True)
class Vocabulary:
    """A tenant's learned terms and how they were found (counts only besides the terms)."""

    tenant_id: str
    terms: tuple[str, ...]
    settings: VocabularySettings
    answers: int = 0
    users: int = 0
    candidates: int = 0
    refused: dict[str, int] = field(default_factory=dict)

    def content(self) -> dict[str, Any]:
        """The JSON artifact's content (terms and settings; what the version hashes)."""
        return {
            "tenant_id": self.tenant_id,
            "rules_version": RULES_VERSION,
            "min_users": self.settings.min_users,
            "min_share": self.settings.min_share,
            "terms": list(self.terms),
            "counts": self.counts(),
        }

    def to_json(self) -> bytes:
        """Canonical JSON bytes of :meth:`content`."""
        return json.dumps(self.content(), sort_keys=True, ensure_ascii=False, indent=1).encode()

    @property
    def sha256(self) -> str:
        """sha256 of :meth:`to_json` (the version is its first 16 hex digits)."""
        return hashlib.sha256(self.to_json()).hexdigest()

    @property
    def version(self) -> str:
        """Content-derived version: identical answers and settings give an identical version."""
        return self.sha256[:16]

    def counts(self) -> dict[str, Any]:
        """Counts for metadata and logs (never a term)."""
        return {
            "terms": len(self.terms),
            "answers": self.answers,
            "users": self.users,
            "candidates": self.candidates,
            "refused": dict(sorted(self.refused.items())),
        }


# -- evidence -----------------------------------------------------------------------------------


def answers_of(pairs: Iterable[tuple[SelfEdit, Interaction]]) -> Iterator[Answer]:
    """One Answer per interaction from (edit, interaction) pairs grouped by interaction id.

    ``MemoryStore.iter_approved_edits`` yields such pairs; the interaction's output and every
    approved edited output are its answer texts.
    """
    current: uuid.UUID | None = None
    inter: Interaction | None = None
    texts: list[str] = []
    for edit, interaction in pairs:
        if interaction.id != current:
            if inter is not None:
                yield Answer(inter.user_id, inter.input_text, tuple(dict.fromkeys(texts)))
            current, inter, texts = interaction.id, interaction, [interaction.output_text]
        if edit.status == EditStatus.approved:
            texts.append(edit.edited_output)
    if inter is not None:
        yield Answer(inter.user_id, inter.input_text, tuple(dict.fromkeys(texts)))


def _fold(word: str) -> str:
    from aion_assets.memory.scrub.recognizers import fold

    return fold(word)


def _clean(token: str) -> str:
    return _POSSESSIVE.sub("", token)


def _has_digit(token: str) -> bool:
    return any(c.isdigit() for c in token)


def _lower_word(token: str) -> bool:
    return token.isalpha() and token.islower()


def _is_code(token: str) -> bool:
    """A product code or model number: letters and digits together ("BV-6010", "E42B", "X200")."""
    return _has_digit(token) and any(c.isalpha() for c in token)


def candidate_terms(text: str, names: frozenset[str] = frozenset()) -> tuple[set[str], set[str]]:
    """Candidate terms of one answer, and the folded words of persons it addresses.

    Candidates are runs of capitalised words (a number may follow: "Nimbus 40"), the same runs
    without leading ordinary words ("The", "If", "Open"), each capitalised word of a run, product
    codes and phone-number-shaped strings. Runs never cross punctuation or a line break, and
    nothing is taken from inside a structured identifier (e-mail, IBAN, card, SSN, IP address).
    A lower-case word that is also a first name in NAMES ("bin", "fee", "sim": stock NER may
    take it for a person) is taken with its lower-case neighbours ("dust bin sensor", "bin
    sensor"), never alone: the phrase is the company's wording, the word alone could be a name.

    Returns:
        (candidates, addressed): ADDRESSED holds the folded words that follow "Dear", "Hi", "Mr"
        and the like in the same run (a person being addressed).
    """
    from aion_assets.memory.scrub.words import is_common_word

    out: set[str] = set()
    addressed: set[str] = set()
    blocked = [
        (m.start(), m.end())
        for rx in _STRUCTURED_IN_TEXT
        for m in rx.finditer(text)
        if rx is not _CARD or _luhn(re.sub(r"\D", "", m.group()))  # a card passes Luhn; a long phone does not
    ]

    def inside_structured(start: int, end: int) -> bool:
        return any(start < b and a < end for a, b in blocked)

    for m in _PHONE.finditer(text):
        if sum(c.isdigit() for c in m.group()) >= 7 and not inside_structured(m.start(), m.end()):
            out.add(m.group().strip())
    tokens = [(m.start(), m.end(), _clean(m.group())) for m in _TOKEN.finditer(text)]
    run: list[tuple[int, int, str]] = []

    def flush() -> None:
        while run and not run[0][2][:1].isupper():
            run.pop(0)  # a run starts with a capitalised word, never with a bare number
        if not run:
            return
        before = text[: run[0][0]].rstrip(" \t,")
        prev = re.search(r"([A-Za-z]+)\.?$", before)
        words = [w for _, _, w in run]
        # Who is addressed: the words after a salutation or title, before the run or inside it.
        cue = 0 if prev is not None and prev.group(1).lower() in _SALUTATION else None
        for i, w in enumerate(words):
            if w.lower().rstrip(".") in _SALUTATION:
                cue = i + 1
        if cue is not None:
            addressed.update(_fold(w) for w in words[cue:] if not _has_digit(w))
        for w in words:
            if w[:1].isupper():
                out.add(w)
        # Whole runs, and without leading sentence or step words ("The Velocia Marlow 5 Trail", "Open
        # Lumio Hub" -> "Velocia Marlow 5 Trail", "Lumio Hub"); never other pieces:
        # a run's pieces would overlap each other in other texts ("Velocia Marlow 5" + "Marlow 5 Trail")
        # and an overlapping pair leaves the part outside the first match unprotected.
        lead = 0
        while lead < len(words) - 1 and (words[lead].lower() in _STOP_WORDS or is_common_word(words[lead])):
            lead += 1
        for piece in {tuple(words), tuple(words[lead:])}:
            if len(piece) > 1 and piece[0][:1].isupper():
                out.add(" ".join(piece))
        # Stock NER often takes the article into a place ("the Torvane M50" as LOCATION): the company's
        # "the <run>" is a candidate too, so that no lone "the" is left of the detection.
        if prev is not None and prev.group(1) == "the" and before.endswith("the"):
            out.add("the " + " ".join(words[lead:]))
        run.clear()

    if names:
        for i, (start, end, word) in enumerate(tokens):
            if not (word.isalpha() and word.islower() and word in names):
                continue
            left = tokens[i - 1] if i > 0 else None
            right = tokens[i + 1] if i + 1 < len(tokens) else None
            lw = left[2] if left and _lower_word(left[2]) and text[left[1] : start] == " " else None
            rw = right[2] if right and _lower_word(right[2]) and text[end : right[0]] == " " else None
            for piece in ((lw, word, rw), (lw, word, None), (None, word, rw)):
                words = [w for w in piece if w]
                if len(words) > 1:
                    out.add(" ".join(words))

    prev_end = None
    for start, end, word in tokens:
        if inside_structured(start, end):
            flush()
            prev_end = None
            continue
        if _is_code(word):
            out.add(word)
        joinable = prev_end is not None and text[prev_end:start] in (" ", "\t")
        # One number or code may continue a run ("Nimbus 40", "QuickCharge 4A"), never start one.
        continues = bool(run) and not _has_digit(run[-1][2]) and (_is_code(word) or (word.isdigit() and len(word) <= 4))
        capital_or_number = word[:1].isupper() or continues
        if capital_or_number and (joinable or not run):
            run.append((start, end, word))
        else:
            flush()
            if word[:1].isupper():
                run.append((start, end, word))
        prev_end = end
    flush()
    return out, addressed


def self_names(message: str) -> set[str]:
    """Folded words a customer gives as their own name in MESSAGE ("my name is X", "I'm X", a sign-off)."""
    names: set[str] = set()
    for rx in (_SELF_NAME, _SIGN_OFF, _DASH_NAME):
        for m in rx.finditer(message):
            names.update(_fold(w) for w in m.group(1).split())
    return names


def user_id_words(user_id: str | None) -> set[str]:
    """Folded alphabetic words of three letters or more in a user id ("john.smith42" -> john, smith)."""
    if not user_id:
        return set()
    return {_fold(w) for w in re.findall(r"[^\W\d_]{3,}", user_id)}


def _structured(term: str) -> bool:
    compact = re.sub(r"[\s.-]", "", term)
    digits = sum(c.isdigit() for c in term)
    return bool(
        _EMAIL.search(term)
        or _IPV4.match(term)
        or _SSN.match(term)
        or _IBAN.match(term.upper() if term[:2].isalpha() else "")
        or (compact.isdigit() and 13 <= digits <= 19 and _luhn(compact))
    )


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _refusal(term: str, names: frozenset[str]) -> str | None:
    """Why TERM can never be vocabulary by its words alone, or None."""
    from aion_assets.memory.scrub.recognizers import COMMON_WORDS
    from aion_assets.memory.scrub.words import is_common_word

    if _structured(term):
        return "structured_identifier"
    words = [w for w in term.split() if not w.isdigit()]
    if not words:
        return "number"
    if any(_has_digit(w) for w in words) or any(_has_digit(w) for w in term.split()):
        return None  # a model number or product code ("Aurora 40", "BV-6010") is no person's name
    folded = [_fold(w) for w in words]
    if len(words) == 1:
        if folded[0] in _STOP_WORDS or folded[0] in COMMON_WORDS or len(words[0]) == 1:
            return "common_word"  # also "Will", "May", "Hope": function words that are names too
        if folded[0] in names:
            return "first_name"
        return None  # an ordinary word ("Boost", "Settings") too: stock NER takes menu words for names
    if any(f in _SALUTATION for f in folded):
        return "addressed"
    if any(f in names for f in folded) and not any(is_common_word(w) for w in words):
        return "person_like"  # "Laura Schmidt": names and unknown words only
    return None


# -- learning ------------------------------------------------------------------------------------


def learn_vocabulary(
    tenant_id: str,
    answers: Iterable[Answer],
    settings: VocabularySettings,
    *,
    deny_list: Iterable[str] = (),
) -> Vocabulary:
    """The tenant's vocabulary from its ANSWERS (see the module docstring for the rules).

    Streams: memory grows with the number of distinct candidate terms, not with the answers
    (per term at most ``min_users`` user ids are held).

    Args:
        tenant_id: recorded in the result.
        answers: one per interaction (:func:`answers_of`).
        settings: ``min_users`` and ``min_share`` (``VocabularySettings``).
        deny_list: terms never kept (the tenant's ``scrub.deny_list``); a candidate containing
            one as whole words is refused.

    Returns:
        The Vocabulary, its terms sorted.
    """
    from aion_assets.memory.scrub.recognizers import first_names

    names = first_names()
    k = settings.min_users
    users_of: dict[str, set[str] | None] = {}  # None once K distinct users are reached
    answers_with: dict[str, int] = {}
    excluded_words: set[str] = set()  # self-given names and user-id words (folded)
    addressed_words: set[str] = set()  # folded words of persons the answers address
    n_answers = 0
    all_users: set[str] = set()
    for answer in answers:
        n_answers += 1
        excluded_words |= self_names(answer.message) | user_id_words(answer.user_id)
        if answer.user_id:
            all_users.add(answer.user_id)
        seen: set[str] = set()
        for text in answer.texts:
            found, addressed = candidate_terms(text, names)
            seen |= found
            addressed_words |= addressed
        for term in seen:
            answers_with[term] = answers_with.get(term, 0) + 1
            users = users_of.setdefault(term, set())
            if users is not None and answer.user_id:
                users.add(answer.user_id)
                if len(users) >= k:
                    users_of[term] = None
    deny_rx = _deny_regex(tuple(deny_list))
    refused: dict[str, int] = {}
    kept: list[str] = []
    for term, n in answers_with.items():
        reason = _refusal(term, names)
        if reason is None and any(_fold(w) in addressed_words for w in term.split() if not _has_digit(w)):
            reason = "addressed"
        if reason is None and any(_fold(w) in excluded_words for w in term.split() if not _has_digit(w)):
            reason = "customer_name"
        if reason is None and deny_rx is not None and deny_rx.search(term):
            reason = "deny_list"
        if reason is None and users_of[term] is not None:
            reason = "too_few_users"
        if reason is None and n < settings.min_share * n_answers:
            reason = "too_rare"
        if reason is None:
            kept.append(term)
        else:
            refused[reason] = refused.get(reason, 0) + 1
    return Vocabulary(
        tenant_id=tenant_id,
        terms=tuple(sorted(kept)),
        settings=settings,
        answers=n_answers,
        users=len(all_users),
        candidates=len(answers_with),
        refused=refused,
    )


def _deny_regex(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    terms = tuple(t.strip() for t in terms if t.strip())
    if not terms:
        return None
    alternatives = (r"\s+".join(re.escape(p) for p in t.split()) for t in sorted(terms, key=len, reverse=True))
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)


def read_vocabulary(data: bytes) -> tuple[str, ...]:
    """The terms of a stored vocabulary artifact (:meth:`Vocabulary.to_json`).

    Raises:
        ValueError: DATA is not such an artifact.
    """
    doc = json.loads(data)
    terms = doc.get("terms") if isinstance(doc, Mapping) else None
    if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
        raise ValueError("not a vocabulary artifact: 'terms' must be a list of strings")
    return tuple(terms)

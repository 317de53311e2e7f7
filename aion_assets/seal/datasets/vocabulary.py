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
- it is no common first name (``gazetteers.first_names()``), and no phrase made only of names
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
from aion_assets.seal.datasets.vocabulary_terms import (
    candidate_terms,
    fold_word,
    has_digit,
    refusal,
    self_names,
    user_id_words,
)

#: Bumped when the rules (below and in `vocabulary_terms`) change: new rules give a new vocabulary version.
RULES_VERSION = 1


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
    from aion_assets.memory.scrub.gazetteers import first_names

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
        reason = refusal(term, names)
        if reason is None and any(fold_word(w) in addressed_words for w in term.split() if not has_digit(w)):
            reason = "addressed"
        if reason is None and any(fold_word(w) in excluded_words for w in term.split() if not has_digit(w)):
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

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


class Evidence:
    """What the rules count over a tenant's answers, kept so that answers can be added later.

    ``learn_vocabulary`` fills one from all the answers; the export keeps one per tenant and
    adds only the answers that new approvals created or extended (``seal.datasets.vocabulary_live``), so a
    build after 1,000 new approvals reads the 1,000, not the history. Adding to an answer
    already counted (an interaction that got another approved edit) passes the texts counted
    before as ``before``: only the terms its new texts bring are counted again, so the result
    equals a full pass over the current answers. Memory grows with the distinct candidate terms
    and users, never with the answers (per term at most ``min_users`` user ids are held).
    """

    def __init__(self, min_users: int) -> None:
        from aion_assets.memory.scrub.gazetteers import first_names

        self.min_users = min_users
        self.names = first_names()
        self.users_of: dict[str, set[str] | None] = {}  # None once K distinct users are reached
        self.answers_with: dict[str, int] = {}
        self.excluded_words: set[str] = set()  # self-given names and user-id words (folded)
        self.addressed_words: set[str] = set()  # folded words of persons the answers address
        self.n_answers = 0
        self.all_users: set[str] = set()

    def _terms(self, texts: Iterable[str]) -> set[str]:
        seen: set[str] = set()
        for text in texts:
            found, addressed = candidate_terms(text, self.names)
            seen |= found
            self.addressed_words |= addressed
        return seen

    def add(self, answer: Answer, before: tuple[str, ...] = ()) -> None:
        """Count ANSWER; BEFORE: the texts of the same answer already counted (none: a new answer)."""
        if not before:
            self.n_answers += 1
            self.excluded_words |= self_names(answer.message) | user_id_words(answer.user_id)
            if answer.user_id:
                self.all_users.add(answer.user_id)
        new_terms = self._terms(t for t in answer.texts if t not in before)
        if before:
            new_terms -= self._terms(before)
        k = self.min_users
        for term in new_terms:
            self.answers_with[term] = self.answers_with.get(term, 0) + 1
            users = self.users_of.setdefault(term, set())
            if users is not None and answer.user_id:
                users.add(answer.user_id)
                if len(users) >= k:
                    self.users_of[term] = None

    def vocabulary(self, tenant_id: str, settings: VocabularySettings, *, deny_list: Iterable[str] = ()) -> Vocabulary:
        """The terms that pass every rule now (module docstring), as a Vocabulary."""
        if settings.min_users != self.min_users:
            raise ValueError(f"evidence counted for min_users={self.min_users}, asked for {settings.min_users}")
        names = self.names
        deny_rx = _deny_regex(tuple(deny_list))
        refused: dict[str, int] = {}
        kept: list[str] = []
        for term, n in self.answers_with.items():
            reason = refusal(term, names)
            words = [fold_word(w) for w in term.split() if not has_digit(w)]
            if reason is None and any(w in self.addressed_words for w in words):
                reason = "addressed"
            if reason is None and any(w in self.excluded_words for w in words):
                reason = "customer_name"
            if reason is None and deny_rx is not None and deny_rx.search(term):
                reason = "deny_list"
            if reason is None and self.users_of[term] is not None:
                reason = "too_few_users"
            if reason is None and n < settings.min_share * self.n_answers:
                reason = "too_rare"
            if reason is None:
                kept.append(term)
            else:
                refused[reason] = refused.get(reason, 0) + 1
        return Vocabulary(
            tenant_id=tenant_id,
            terms=tuple(sorted(kept)),
            settings=settings,
            answers=self.n_answers,
            users=len(self.all_users),
            candidates=len(self.answers_with),
            refused=refused,
        )


def learn_vocabulary(
    tenant_id: str,
    answers: Iterable[Answer],
    settings: VocabularySettings,
    *,
    deny_list: Iterable[str] = (),
) -> Vocabulary:
    """The tenant's vocabulary from its ANSWERS (see the module docstring for the rules).

    Streams: memory grows with the number of distinct candidate terms, not with the answers
    (:class:`Evidence`).

    Args:
        tenant_id: recorded in the result.
        answers: one per interaction (:func:`answers_of`).
        settings: ``min_users`` and ``min_share`` (``VocabularySettings``).
        deny_list: terms never kept (the tenant's ``scrub.deny_list``); a candidate containing
            one as whole words is refused.

    Returns:
        The Vocabulary, its terms sorted.
    """
    evidence = Evidence(settings.min_users)
    for answer in answers:
        evidence.add(answer)
    return evidence.vocabulary(tenant_id, settings, deny_list=deny_list)


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

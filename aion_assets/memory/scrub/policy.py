"""A tenant's scrub policy: its model (``ScrubPolicy``) and how it is read from the tenant's configuration.

Fields and who wins when they disagree (strongest first):

1. ``deny_list``: terms always scrubbed (as PERSON unless a detection of another type covers them),
   whatever the other lists say;
2. ``allow_list``: terms typed by the tenant (company, product names) that always survive;
3. ``vocabulary``: terms *learned* from the tenant's own answers (the company's voice, used with many
   different users); they survive like allow-listed terms, but only inside name-like detections
   (PERSON, LOCATION, a policy's own types) and phone numbers: a learned term never shields an
   e-mail address, a card, an SSN, an IBAN or an IP address, nor a word of a street address (a
   town or a street name that the agent names to many users, "our Leeds store", still goes when it
   is part of a customer's address);
4. ``skip_entities``: types left in place; ``extra_patterns``: the tenant's own regexes.

All terms match as whole words, ignoring case, any run of whitespace matching a space of the term.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from aion_assets.core.errors import ConfigError

if TYPE_CHECKING:
    from aion_assets.memory.models import Tenant

ENTITIES: tuple[str, ...] = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "US_SSN",
    "IBAN_CODE",
    "IP_ADDRESS",
    "LOCATION",
    "STREET_ADDRESS",
)
# Identifiers a learned vocabulary never shields (issue 11: the vocabulary is the company's words).
STRUCTURED_IDS = frozenset({"EMAIL_ADDRESS", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "IP_ADDRESS"})
# Types whose detections no learned term narrows: the structured identifiers, and street addresses (an
# address is one customer's data as a whole, even when its town or street is also the company's word).
NOT_SHIELDED_BY_VOCABULARY = STRUCTURED_IDS | {"STREET_ADDRESS"}
_ENTITY_NAME = re.compile(r"^[A-Z][A-Z0-9_]{1,49}$")


class PatternSpec(BaseModel):
    """One extra regex a tenant wants scrubbed. The regex is used as written (case-sensitive)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="label for audits, e.g. 'employee id'")
    entity_type: str = Field(description="placeholder type, upper case, e.g. EMPLOYEE_ID")
    regex: str = Field(min_length=1, description="Python regular expression")
    score: float = Field(default=0.9, gt=0.0, le=1.0, description="confidence given to a match")

    @field_validator("entity_type")
    @classmethod
    def _entity_name(cls, v: str) -> str:
        if not _ENTITY_NAME.match(v):
            raise ValueError(f"entity_type {v!r} must be upper case letters, digits, '_' (e.g. EMPLOYEE_ID)")
        return v

    @field_validator("regex")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            rx = re.compile(v)
        except re.error as exc:
            raise ValueError(f"regex {v!r} does not compile: {exc}") from exc
        if rx.match(""):
            raise ValueError(f"regex {v!r} matches the empty string; it would match everywhere")
        return v


def _clean_terms(v: tuple[str, ...], field: str) -> tuple[str, ...]:
    for term in v:
        if not term.strip():
            raise ValueError(f"{field} terms must not be empty or blank")
    return tuple(dict.fromkeys(" ".join(t.split()) for t in v))


class ScrubPolicy(BaseModel):
    """A tenant's scrubbing configuration; immutable and hashable (engines cache per policy)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    extra_patterns: tuple[PatternSpec, ...] = ()
    allow_list: tuple[str, ...] = Field(
        default=(), description="terms never scrubbed: whole words, ignoring case and line breaks"
    )
    deny_list: tuple[str, ...] = Field(
        default=(), description="terms always scrubbed (PERSON unless another type covers them); beats every list"
    )
    vocabulary: tuple[str, ...] = Field(
        default=(), description="learned tenant terms that survive like allow_list (never in structured identifiers)"
    )
    skip_entities: frozenset[str] = Field(default=frozenset(), description="entity types left in place")

    @field_validator("allow_list")
    @classmethod
    def _allow(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _clean_terms(v, "allow_list")

    @field_validator("deny_list")
    @classmethod
    def _deny(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _clean_terms(v, "deny_list")

    @field_validator("vocabulary")
    @classmethod
    def _vocabulary(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _clean_terms(v, "vocabulary")

    @field_validator("skip_entities")
    @classmethod
    def _known(cls, v: frozenset[str]) -> frozenset[str]:
        unknown = sorted(e for e in v if e not in ENTITIES)
        if unknown:
            raise ValueError(f"skip_entities {unknown} are not scrubbed types; choose from {list(ENTITIES)}")
        return v

    @model_validator(mode="after")
    def _lists_agree(self) -> ScrubPolicy:
        both = sorted({t.casefold() for t in self.allow_list} & {t.casefold() for t in self.deny_list})
        if both:
            raise ValueError(f"deny_list and allow_list both hold {both}; a term can only be in one of them")
        return self

    @property
    def kept_terms(self) -> tuple[str, ...]:
        """Vocabulary terms that survive: the learned ones minus deny-listed and allow-listed ones."""
        denied = {t.casefold() for t in self.deny_list} | {t.casefold() for t in self.allow_list}
        return tuple(t for t in self.vocabulary if t.casefold() not in denied)

    @property
    def own_types(self) -> tuple[str, ...]:
        """Entity types of the policy's own patterns."""
        return tuple(dict.fromkeys(p.entity_type for p in self.extra_patterns))

    @classmethod
    def from_config(cls, data: Mapping[str, Any] | None) -> ScrubPolicy:
        """Build a policy from configuration data (YAML/JSON mapping).

        Raises:
            ConfigError: naming each invalid field and why.
        """
        try:
            return cls.model_validate(dict(data or {}))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'policy'}: {err['msg']}" for err in exc.errors()
            )
            raise ConfigError(f"invalid scrub policy: {problems}") from exc


def policy_fingerprint(policy: ScrubPolicy, score_threshold: float) -> str:
    """A hex sha256 naming everything of POLICY (and the engine's SCORE_THRESHOLD) the policy step reads.

    Equal for equal policies in every process (sets are sorted: string hashing differs between
    processes), different when any field differs; stored scrub results are keyed by it
    (``aion_assets.memory.scrub_results``), so a changed list or vocabulary never reuses a result.
    """
    data = policy.model_dump(mode="json")
    data["skip_entities"] = sorted(policy.skip_entities)
    data["score_threshold"] = score_threshold
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


class VocabularySettings(BaseModel):
    """How a tenant's vocabulary is learned (``seal.datasets.vocabulary``): ``scrub.vocabulary_*`` keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_users: int = Field(
        default=5, ge=2, le=100_000, description="distinct users the answers using a term must have been given to"
    )
    min_share: float = Field(
        default=0.001, ge=0.0, le=1.0, description="share of the tenant's answers that must use a term"
    )


#: Keys of ``tenants.config["scrub"]`` that configure vocabulary learning, not the policy itself.
VOCABULARY_KEYS = {"vocabulary_min_users": "min_users", "vocabulary_min_share": "min_share"}


def _scrub_section(tenant: Tenant | None) -> dict[str, Any]:
    raw = tenant.config.get("scrub") if tenant is not None else None
    if raw is not None and not isinstance(raw, Mapping):
        raise ConfigError(f"tenant {tenant.tenant_id if tenant else '?'}: config.scrub must be an object")
    return dict(raw or {})


def vocabulary_settings(tenant: Tenant | None) -> VocabularySettings:
    """TENANT's ``VocabularySettings`` from ``scrub.vocabulary_min_users`` / ``scrub.vocabulary_min_share``.

    Raises:
        ConfigError: an invalid value (the message names the key).
    """
    section = _scrub_section(tenant)
    data = {field: section[key] for key, field in VOCABULARY_KEYS.items() if key in section}
    try:
        return VocabularySettings.model_validate(data)
    except ValidationError as exc:
        names = {v: k for k, v in VOCABULARY_KEYS.items()}
        problems = "; ".join(f"scrub.{names.get(str(e['loc'][0]), e['loc'][0])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid scrub policy: {problems}") from exc


def scrub_policy(tenant: Tenant | None, vocabulary: tuple[str, ...] = ()) -> ScrubPolicy:
    """TENANT's ``ScrubPolicy`` from ``tenants.config["scrub"]`` (the default policy when unset).

    Args:
        vocabulary: the tenant's learned terms (``seal.datasets.vocabulary``); a ``vocabulary``
            key in the config itself is refused (it is learned, not typed: use ``allow_list``).

    Raises:
        ConfigError: the tenant's scrub config is invalid (the message names the field).
    """
    section = _scrub_section(tenant)
    if "vocabulary" in section:
        raise ConfigError("scrub.vocabulary: learned from the tenant's data, not configured; use scrub.allow_list")
    vocabulary_settings(tenant)  # validated here too, so a bad value fails where the policy is read
    data = {k: v for k, v in section.items() if k not in VOCABULARY_KEYS}
    if vocabulary:
        data["vocabulary"] = tuple(vocabulary)
    return ScrubPolicy.from_config(data)

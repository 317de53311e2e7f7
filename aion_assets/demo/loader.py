"""The demo companies' template data: YAML under ``aion_assets/demo/templates/``, validated.

A company's file holds everything about it that is text rather than code: who it is (tenant,
domain, agent, house style, system prompt), the catalogue its builder draws invented values from,
and its topics (a kind of question: paraphrase templates, the correct answer, the answer's key
facts, what an uninformed base model says instead). ``common.yaml`` holds the phrases all
companies share. Files are package data (``pyproject.toml`` ships ``**/*.yaml``), read with
yaml's safe loader and validated with pydantic; a bad file gives a ConfigError naming the file
and the key (``acme.yaml: topics.product[2].answer: Field required``).

Order matters in every list: the seeded generator draws by index, so reordering a list changes
the generated domain (and the committed scenario files under ``tests/llm_evals/``).
"""

from __future__ import annotations

import re
import string
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from aion_assets.core.errors import ConfigError
from aion_assets.seal.style import HouseStyle

TEMPLATES = Path(__file__).resolve().parent / "templates"
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Text = Annotated[str, Field(min_length=1)]


def placeholders_of(text: str) -> set[str]:
    """The ``{name}`` fields of a ``str.format`` template.

    Raises:
        ValueError: unbalanced braces (pydantic reports it under the field's key).
    """
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Topic(_Frozen):
    """A kind of question; every text is a ``str.format`` template over the builder's values."""

    kind: Text
    questions: tuple[str, ...] = Field(min_length=1)
    answer: Text
    #: Each a key fact of the answer, over the same values (what evaluation's fact recall checks).
    facts: tuple[str, ...] = Field(min_length=1)
    #: What an uninformed base model says instead (the generic deflections of common.yaml are added).
    vague: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _well_formed(self) -> Topic:
        self.placeholders()  # unbalanced braces raise ValueError, reported under the topic's key
        return self

    def placeholders(self) -> set[str]:
        """Every ``{name}`` the topic's texts use (what the builder's values must provide)."""
        texts = (*self.questions, self.answer, *self.facts, *self.vague)
        return set().union(*(placeholders_of(t) for t in texts))


class Style(_Frozen):
    """The house style: greeting and sign-off framing every corrected answer."""

    greeting: Text
    sign_off: Text

    def house_style(self) -> HouseStyle:
        """As the evaluation's HouseStyle."""
        return HouseStyle(greeting=self.greeting, sign_off=self.sign_off)


#: The channels the generator draws traffic from (every one must reach an agent).
CHANNELS: tuple[str, ...] = ("web", "app", "email", "chat")


class Agent(_Frozen):
    """One of the tenant's agents in the domain and the channels its traffic comes in on."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    channels: tuple[str, ...] = Field(min_length=1)


class CustomerRef(_Frozen):
    """The tenant's own customer reference ("order AC-1234567"), scrubbed by a pattern it configures."""

    label: Text
    entity_type: str = Field(pattern=r"^[A-Z][A-Z0-9_]{1,49}$")
    prefix: Text
    digits: int = Field(ge=4, le=12)

    def regex(self) -> str:
        """The pattern the tenant configures (``scrub.extra_patterns``) for its references."""
        return rf"\b{re.escape(self.prefix)}\d{{{self.digits}}}\b"


class Spec(_Frozen):
    """Who the domain belongs to (tenant, domain, agents) and how its answers look.

    ``agents`` route the traffic by channel (the first agent whose channels hold it); without
    them every interaction goes to ``agent_id``. ``pii_share`` of the training traffic carries a
    customer's details (``common.yaml``'s ``customers``), ``customer_ref`` among them when given.
    ``rule_topics`` are the topic kinds the tenant's canned-answer rules cover (rule edits).
    """

    tenant_id: Text
    domain: Text
    agent_id: Text | None = None
    agents: tuple[Agent, ...] = ()
    company: Text
    system_prompt: Text
    style: Style
    pii_share: float = Field(0.0, ge=0.0, le=0.5)
    customer_ref: CustomerRef | None = None
    rule_topics: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _agents_cover_channels(self) -> Spec:
        if (self.agent_id is None) == (not self.agents):
            raise ValueError("give either agent_id (one agent) or agents (with their channels), not both")
        ids = [a.id for a in self.agents]
        if len(set(ids)) != len(ids):
            raise ValueError(f"agents: duplicate ids in {ids}")
        routed = {c for a in self.agents for c in a.channels}
        if self.agents and set(CHANNELS) - routed:
            raise ValueError(f"agents: no agent takes channel(s) {sorted(set(CHANNELS) - routed)}")
        if self.pii_share and self.customer_ref is None:
            raise ValueError("pii_share needs customer_ref (the reference customers quote)")
        return self

    def agent_ids(self) -> tuple[str, ...]:
        """Every agent id, the first one first."""
        return tuple(a.id for a in self.agents) or (str(self.agent_id),)

    def agent_for(self, channel: str) -> str:
        """The agent taking CHANNEL's traffic."""
        return next((a.id for a in self.agents if channel in a.channels), self.agent_ids()[0])


class NameSyllables(_Frozen):
    """Syllables of invented names ("Velvex", "Corlia")."""

    starts: tuple[str, ...] = Field(min_length=1)
    ends: tuple[str, ...] = Field(min_length=1)


class Customers(_Frozen):
    """Invented customers and how they put their details into a message (``{name}``, ``{email}``,
    ``{phone}``, ``{address}``, ``{ref}``: the tenant's reference with its label)."""

    first_names: tuple[str, ...] = Field(min_length=1)
    last_names: tuple[str, ...] = Field(min_length=1)
    streets: tuple[str, ...] = Field(min_length=1)
    towns: tuple[str, ...] = Field(min_length=1)
    mail_domains: tuple[str, ...] = Field(min_length=1)
    #: Put before the question.
    before: tuple[str, ...] = Field(min_length=1)
    #: Put after the question.
    after: tuple[str, ...] = Field(min_length=1)


class CommonPhrases(_Frozen):
    """``common.yaml``: what all companies' traffic shares."""

    openers: tuple[str, ...] = Field(min_length=1)
    closers: tuple[str, ...] = Field(min_length=1)
    generic_vague: tuple[str, ...] = Field(min_length=1)
    name_syllables: NameSyllables
    customers: Customers


C = TypeVar("C", bound=BaseModel)


class CompanyTemplate(_Frozen, Generic[C]):
    """One company's file; ``catalogue`` has the shape its builder declares."""

    name: str = Field(pattern=r"^[a-z0-9_-]+/[a-z0-9_-]+$")
    spec: Spec
    #: Value keys whose values are invented catalogue names (the tenant's scrub allow-list keeps them).
    catalogue_keys: tuple[str, ...] = Field(min_length=1)
    catalogue: C
    #: Topic groups by name ("product", "global", ...): which group a value set fills is the builder's.
    topics: dict[str, tuple[Topic, ...]]
    #: The file it was read from, for error messages (set by the loader, not in the YAML).
    source: str = ""


def read_yaml(path: Path) -> Any:
    """The parsed YAML document of PATH.

    Raises:
        ConfigError: the file is missing or not valid YAML (the message names it).
    """
    try:
        # The safe loader (libyaml's when installed: three times faster, same safety).
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_SafeLoader)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: demo template not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc


def _validated(model: type[BaseModel], doc: Any, path: Path) -> Any:
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(doc).__name__}")
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        problems = "; ".join(f"{_loc(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: {problems}") from exc


def _loc(loc: tuple[int | str, ...]) -> str:
    """``('topics', 'product', 2, 'answer')`` as ``topics.product[2].answer``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def load_common(path: Path | None = None) -> CommonPhrases:
    """``common.yaml`` (or PATH), validated.

    Raises:
        ConfigError: missing file, bad YAML or a bad key (the message names the file and key).
    """
    path = path or TEMPLATES / "common.yaml"
    result: CommonPhrases = _validated(CommonPhrases, read_yaml(path), path)
    return result


def load_company(path: Path, catalogue: type[C], topic_groups: tuple[str, ...]) -> CompanyTemplate[C]:
    """A company's file, validated against its builder's CATALOGUE model and TOPIC_GROUPS.

    Args:
        path: the YAML file.
        catalogue: the pydantic model of the ``catalogue`` mapping the builder reads.
        topic_groups: the groups under ``topics`` the builder fills (each non-empty).

    Raises:
        ConfigError: missing file, bad YAML, a bad or missing key (the message names the file and key).
    """
    doc = read_yaml(path)
    if isinstance(doc, dict) and "source" in doc:
        raise ConfigError(f"{path}: source: not a template key")
    # A generic model parametrised at run time (pydantic validates the catalogue against it).
    template: CompanyTemplate[C] = _validated(CompanyTemplate[catalogue], doc, path)  # type: ignore[valid-type]
    for group in topic_groups:
        if not template.topics.get(group):
            raise ConfigError(f"{path}: topics.{group}: missing or empty (the builder needs it)")
    unknown = sorted(set(template.topics) - set(topic_groups))
    if unknown:
        raise ConfigError(f"{path}: topics: unknown group(s) {unknown}; the builder reads {list(topic_groups)}")
    return template.model_copy(update={"source": str(path)})


@cache
def common_phrases() -> CommonPhrases:
    """The packaged ``common.yaml`` (read once)."""
    return load_common()

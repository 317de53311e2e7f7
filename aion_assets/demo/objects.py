"""The objects of a generated demo domain: its spec, its questions, its traffic with and without corrections.

Plain frozen data (:mod:`aion_assets.demo.generator` builds them, :mod:`aion_assets.demo.traffic`
adds agents' editors, customers' details and the uncorrected traffic); ``DemoDomain`` turns its
examples (the corrected interactions) into the pipeline's rows (``aion_assets.seal.datasets.rows``),
as curation does; its uncorrected interactions have no edit and make no row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aion_assets.demo.loader import CustomerRef
from aion_assets.seal.datasets.rows import Example, Split
from aion_assets.seal.datasets.tenant_config import CurationSettings
from aion_assets.seal.style import HouseStyle

#: The pipeline's default eval share (a tenant without ``curation.eval_share`` holds out this much).
DEFAULT_EVAL_SHARE: float = CurationSettings.model_validate({}).eval_share

# ----------------------------------------------------------------------------------------------
# Domain objects


@dataclass(frozen=True)
class DomainSpec:
    """Who the domain belongs to and how its answers look."""

    tenant_id: str
    domain: str
    agent_id: str
    company: str
    style: HouseStyle
    system_prompt: str
    model_version: str = "aion-base"
    #: Every agent of the domain (``agent_id`` first) and which one takes each channel.
    agents: tuple[str, ...] = ()
    channel_agents: tuple[tuple[str, str], ...] = ()
    pii_share: float = 0.0
    customer_ref: CustomerRef | None = None
    rule_topics: tuple[str, ...] = ()

    def agent_for(self, channel: str) -> str:
        """The agent taking CHANNEL's traffic (``agent_id`` when none is named for it)."""
        return dict(self.channel_agents).get(channel, self.agent_id)


@dataclass(frozen=True)
class DemoQuestion:
    """One fact item: a question kind about an entity, its correct body and its key facts."""

    question_id: str
    kind: str
    body: str
    facts: tuple[str, ...]
    paraphrases: tuple[str, ...]


@dataclass(frozen=True)
class DemoExample:
    """One interaction (a paraphrase of a question) and the human self-edit correcting it."""

    interaction: dict[str, Any]
    self_edit: dict[str, Any]
    question_id: str
    facts: tuple[str, ...]
    split: Split
    #: The customer's details the question quotes (PII the scrubber must remove), if any.
    pii: tuple[str, ...] = ()


@dataclass(frozen=True)
class DemoInteraction:
    """One interaction nobody corrected (the agent's answer was good enough): no self-edit, never trained on."""

    interaction: dict[str, Any]
    #: The question asked (an id of ``DemoDomain.questions``, or of an entity outside them: ``...-x000``).
    question_id: str
    #: The customer's details the question quotes, if any.
    pii: tuple[str, ...] = ()


@dataclass(frozen=True)
class DemoDomain:
    """A generated domain: its spec, its questions, the traffic with its corrections and the traffic without."""

    spec: DomainSpec
    seed: int
    questions: tuple[DemoQuestion, ...]
    examples: tuple[DemoExample, ...]
    eval_share: float = DEFAULT_EVAL_SHARE
    catalog_terms: tuple[str, ...] = ()
    #: Interactions without a self-edit (most of the traffic, as in production).
    uncorrected: tuple[DemoInteraction, ...] = ()

    @property
    def style(self) -> HouseStyle:
        """The domain's house style (greeting and sign-off)."""
        return self.spec.style

    def scrub_allow_list(self) -> list[str]:
        """What the demo tenant types into its scrub allow-list: its company name, nothing else.

        The catalogue (product, plan and app names, model numbers, error codes) and the house
        greeting are not listed: the pipeline learns them from the tenant's own answers
        (``seal/tenant_vocabulary``), as it must for any tenant that configures nothing.
        """
        return [self.spec.company]

    def scrub_config(self) -> dict[str, Any]:
        """The tenant's ``scrub`` config: :meth:`scrub_allow_list`, and a pattern for its customer
        references ("AC-1234567": no stock recognizer knows a company's own id format)."""
        config: dict[str, Any] = {"allow_list": self.scrub_allow_list()}
        ref = self.spec.customer_ref
        if ref is not None:
            config["extra_patterns"] = [
                {"name": f"{ref.label} number", "entity_type": ref.entity_type, "regex": ref.regex()}
            ]
        return config

    def agents_config(self) -> dict[str, dict[str, str]]:
        """The tenant's ``agents`` config: every agent of the domain with its domain and system prompt."""
        return {a: {"domain": self.spec.domain, "system_prompt": self.spec.system_prompt}
                for a in self.spec.agents or (self.spec.agent_id,)}

    def interactions(self) -> list[dict[str, Any]]:
        """Every interaction row in the memory store's shape (JSON-serializable): the corrected ones
        (``examples``, in their order) first, then the uncorrected ones."""
        return [dict(e.interaction) for e in self.examples] + [dict(u.interaction) for u in self.uncorrected]

    def self_edits(self) -> list[dict[str, Any]]:
        """Self-edit rows in the memory store's shape, ``interaction_id`` pointing at the corrected interactions."""
        return [dict(e.self_edit) for e in self.examples]

    def curated_rows(self, split: Split | None = None, min_reward: float = 0.5) -> list[dict[str, Any]]:
        """Rows in the pipeline's curated format (``Example.to_row``), as curation produces them.

        Approved edits with ``reward_score >= min_reward`` (one edit per interaction, as curation
        keeps); each row has ``id``, ``prompt``, ``response``, ``messages`` and ``metadata`` (ids,
        ``facts``, ``reward_score``, timestamps and the ``split``).
        """
        rows = []
        for e in self.examples:
            edit = e.self_edit
            if edit["status"] != "approved" or edit["reward_score"] < min_reward:
                continue
            if split is not None and e.split != split:
                continue
            rows.append(self.example_of(e).to_row(e.split))
        return rows

    def example_of(self, e: DemoExample) -> Example:
        """The pipeline's Example for one demo interaction and its edit (unscrubbed)."""
        inter, edit = e.interaction, e.self_edit
        return Example(
            interaction_id=inter["id"],
            edit_id=edit["id"],
            tenant_id=self.spec.tenant_id,
            agent_id=inter["agent_id"],
            domain=self.spec.domain,
            prompt=inter["input_text"],
            response=edit["edited_output"],
            system=self.spec.system_prompt,
            reward_score=float(edit["reward_score"]),
            editor_type=edit["editor_type"],
            reason_code=edit["reason_code"],
            edited_at=edit["timestamp"],
            interaction_at=inter["timestamp"],
            model_version=inter["model_version"],
            facts=e.facts,
        )

    def coverage(self) -> dict[str, int]:
        """How many questions have at least one train / eval paraphrase, and both."""
        train = {e.question_id for e in self.examples if e.split == "train"}
        evals = {e.question_id for e in self.examples if e.split == "eval"}
        return {
            "questions": len(self.questions),
            "train": len(train),
            "eval": len(evals),
            "both": len(train & evals),
        }

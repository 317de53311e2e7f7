"""Evaluation items: the prompts to answer, from held-out eval rows (with references) and from scenarios."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aion_assets.core.errors import ConfigError
from aion_assets.seal.evaluation.metrics import Assertions
from aion_assets.seal.evaluation.scenarios import Scenario, ScenarioSuite

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class EvalItem:
    """One prompt to answer: from the eval split (with a reference) or a scenario."""

    id: str
    source: str  # "eval" | "scenario"
    messages: tuple[tuple[str, str], ...]  # (role, content) without the answer
    reference: str | None = None
    facts: tuple[str, ...] | None = None
    assertions: Assertions | None = None

    @property
    def chat(self) -> Messages:
        """The messages as chat-template dicts."""
        return [{"role": r, "content": c} for r, c in self.messages]

    @property
    def prompt(self) -> str:
        """The last user message."""
        return next((c for r, c in reversed(self.messages) if r == "user"), "")


def items_from_rows(rows: Sequence[Mapping[str, Any]], system_prompt: str | None = None) -> list[EvalItem]:
    """Eval items from curated rows (``prompt``, ``response``, ``metadata``, ``messages``).

    The prompt is the row's ``messages`` without the assistant answer (so the system prompt
    used in training is kept); rows without ``messages`` get ``system_prompt`` (if any) and
    the ``prompt``. Key facts come from ``metadata.facts`` when listed.

    Raises:
        ConfigError: a row has no prompt or no response (naming the row).
    """
    items = []
    for i, row in enumerate(rows):
        meta = row.get("metadata") or {}
        rid = str(meta.get("interaction_id") or row.get("id") or i)
        messages = row.get("messages")
        if messages:
            msgs = [(str(m["role"]), str(m["content"])) for m in messages]
            reference = msgs[-1][1] if msgs[-1][0] == "assistant" else row.get("response")
            if msgs[-1][0] == "assistant":
                msgs = msgs[:-1]
        else:
            if not row.get("prompt"):
                raise ConfigError(f"eval row {i} ({rid}) has neither 'messages' nor 'prompt'")
            msgs = ([("system", system_prompt)] if system_prompt else []) + [("user", str(row["prompt"]))]
            reference = row.get("response")
        if not reference:
            raise ConfigError(
                f"eval row {i} ({rid}) has no reference answer ('response' or assistant message)"
            )
        facts = meta.get("facts")
        items.append(
            EvalItem(
                id=rid,
                source="eval",
                messages=tuple(msgs),
                reference=str(reference),
                facts=tuple(str(f) for f in facts) if facts is not None else None,
            )
        )
    return items


def items_from_scenarios(
    scenarios: ScenarioSuite | Sequence[Scenario], system_prompt: str | None = None
) -> list[EvalItem]:
    """Eval items from scenarios; the suite's own system prompt wins over ``system_prompt``."""
    if isinstance(scenarios, ScenarioSuite):
        system_prompt = scenarios.system_prompt or system_prompt
        scenarios = scenarios.scenarios
    prefix: list[tuple[str, str]] = [("system", system_prompt)] if system_prompt else []
    return [
        EvalItem(
            id=s.id,
            source="scenario",
            messages=tuple([*prefix, ("user", s.prompt)]),
            reference=s.reference,
            facts=s.facts,
            assertions=s.assertions,
        )
        for s in scenarios
    ]

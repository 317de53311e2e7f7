"""Curation of supervised fine-tuning data from approved self-edits (plain functions).

Used by the Dagster assets (``scrubbed_edits``, ``sft_dataset``) and by ``GET /datasets/sft``,
so both produce the same rows. Everything streams: memory does not grow with the number of
edits.

Contract:
- an example is an *approved* self-edit with ``reward_score >= min_reward``; per interaction only
  one edit survives: the highest reward, then the latest timestamp, then the smallest edit id;
- its domain is the agent's configured domain (``tenants.config["agents"][agent_id]["domain"]``),
  else the ``domain`` key of the interaction's metadata, else ``general``; normalised so that it
  never contains ``/`` (it is half of a ``tenant/domain`` partition key);
- the train/eval split is a function of the interaction id alone (sha256), so an example never
  moves between splits as data grows;
- rows are JSON objects with ``id``, ``prompt``, ``response``, ``messages`` (system/user/assistant,
  the form TRL and OpenAI-style fine-tuning read) and ``metadata`` holding identifiers, scores,
  timestamps and the free-text fields callers give (reason code, model version, agent id), which
  are scrubbed like the texts; the interaction's free-form metadata and user id are never copied;
- a dataset's content hash depends only on its rows (their order is fixed by interaction id), and
  its version is derived from the hash: identical input gives an identical version.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from aion_assets.memory.models import EditStatus, Interaction, SelfEdit
from aion_assets.seal.datasets.rows import Example
from aion_assets.seal.datasets.tenant_config import (
    DEFAULT_SYSTEM_PROMPT,
    agent_profiles,
    domain_of,
    normalize_domain,
)


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def _better(a: SelfEdit, b: SelfEdit) -> bool:
    """Whether edit A beats edit B of the same interaction."""
    return (a.reward_score, a.timestamp, -uuid.UUID(str(a.id)).int) > (
        b.reward_score,
        b.timestamp,
        -uuid.UUID(str(b.id)).int,
    )


def dedup_best(pairs: Iterable[tuple[SelfEdit, Interaction]]) -> Iterator[tuple[SelfEdit, Interaction]]:
    """Keep one edit per interaction: highest reward, then latest, then smallest id.

    PAIRS must come grouped by interaction id (``MemoryStore.iter_approved_edits`` orders them
    so); only the current group is held in memory.
    """
    best: tuple[SelfEdit, Interaction] | None = None
    for edit, inter in pairs:
        if best is not None and best[0].interaction_id != edit.interaction_id:
            yield best
            best = None
        if best is None or _better(edit, best[0]):
            best = (edit, inter)
    if best is not None:
        yield best


def curate(
    pairs: Iterable[tuple[SelfEdit, Interaction]],
    *,
    tenant_config: Mapping[str, Any],
    min_reward: float,
    domain: str | None = None,
) -> Iterator[Example]:
    """Turn approved (edit, interaction) pairs into examples, deduplicated, of one DOMAIN if given.

    Args:
        pairs: grouped by interaction id (see :func:`dedup_best`).
        tenant_config: the tenant's ``config`` (agent domains and system prompts).
        min_reward: edits below it are left out (also when the query already filtered them).
        domain: keep only this (normalised) domain; None keeps all.
    """
    profiles = agent_profiles(tenant_config)
    wanted = normalize_domain(domain) if domain is not None else None
    approved = (
        (e, i) for e, i in pairs if e.status == EditStatus.approved and e.reward_score >= min_reward
    )
    for edit, inter in dedup_best(approved):
        dom = domain_of(inter.agent_id, inter.metadata, profiles)
        if wanted is not None and dom != wanted:
            continue
        profile = profiles.get(inter.agent_id)
        system = (profile.system_prompt if profile else None) or DEFAULT_SYSTEM_PROMPT.format(domain=dom)
        yield Example(
            interaction_id=str(inter.id),
            edit_id=str(edit.id),
            tenant_id=inter.tenant_id,
            agent_id=inter.agent_id,
            domain=dom,
            prompt=inter.input_text,
            response=edit.edited_output,
            system=system,
            reward_score=float(edit.reward_score),
            editor_type=str(edit.editor_type),
            reason_code=edit.reason_code,
            edited_at=_iso(edit.timestamp),
            interaction_at=_iso(inter.timestamp),
            model_version=inter.model_version,
            facts=listed_facts(edit.metadata, inter.metadata),
        )


def listed_facts(*metadatas: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The first well-formed ``facts`` list (strings, at most 50 of 200 chars) in METADATAS."""
    for meta in metadatas:
        facts = meta.get("facts")
        if (
            isinstance(facts, list)
            and 0 < len(facts) <= 50
            and all(isinstance(f, str) and 0 < len(f) <= 200 for f in facts)
        ):
            return tuple(facts)
    return None


# -- scrubbing ---------------------------------------------------------------------------------


class _ScrubResult(Protocol):
    text: str
    counts: dict[str, int]


class TextScrubber(Protocol):
    """What curation needs of ``aion_assets.memory.scrub.engine.Scrubber``."""

    def scrub_many(self, texts: list[str], policy: Any = None) -> list[Any]: ...


#: Free-text fields of an example other than prompt, response and facts: given by API callers
#: (``reason_code``, ``model_version``, ``agent_id``), so scrubbed like the texts (finding 5).
FREE_TEXT_FIELDS: tuple[str, ...] = ("reason_code", "model_version", "agent_id")


def scrub_examples(
    examples: Iterable[Example], scrubber: TextScrubber, policy: Any = None, *, batch_size: int = 64
) -> Iterator[tuple[Example, dict[str, int]]]:
    """Scrub every text an example carries, BATCH_SIZE examples per ``scrub_many`` call.

    Prompt, response, each listed fact and the free-text fields (:data:`FREE_TEXT_FIELDS`) are
    scrubbed; a free-text value repeated in a batch (an agent id, a model version) is scrubbed
    once. Ids the service generates (interaction, edit), the tenant id (from the caller's
    token), timestamps, the reward and the editor type are not free text. The system prompt comes
    from the tenant's own configuration and is not scrubbed.

    Yields (scrubbed example, removed counts by entity type).
    """
    batch: list[Example] = []

    def flush() -> Iterator[tuple[Example, dict[str, int]]]:
        texts = [t for ex in batch for t in (ex.prompt, ex.response, *(ex.facts or ()))]
        fields = list(dict.fromkeys(v for ex in batch for f in FREE_TEXT_FIELDS if (v := getattr(ex, f))))
        scrubbed = scrubber.scrub_many(texts + fields, policy)
        results = iter(scrubbed[: len(texts)])
        by_value = dict(zip(fields, scrubbed[len(texts) :], strict=True))
        for ex in batch:
            p, r = next(results), next(results)
            facts = [next(results) for _ in ex.facts or ()]
            values = {f: by_value[v] for f in FREE_TEXT_FIELDS if (v := getattr(ex, f))}
            counts: dict[str, int] = {}
            for res in (p, r, *facts, *values.values()):
                for k, v in res.counts.items():
                    counts[k] = counts.get(k, 0) + v
            scrubbed_facts = tuple(f.text for f in facts) if ex.facts is not None else None
            changes: dict[str, Any] = {f: res.text for f, res in values.items()}
            yield replace(ex, prompt=p.text, response=r.text, facts=scrubbed_facts, **changes), counts

    for ex in examples:
        batch.append(ex)
        if len(batch) >= batch_size:
            yield from flush()
            batch = []
    if batch:
        yield from flush()


def is_usable(example: Example) -> bool:
    """Whether a scrubbed example still has a prompt and a response (an all-PII text leaves nothing)."""
    return bool(example.prompt.strip()) and bool(example.response.strip())



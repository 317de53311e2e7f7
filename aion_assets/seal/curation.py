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
  the form TRL and OpenAI-style fine-tuning read) and ``metadata`` holding only identifiers,
  scores and timestamps; the interaction's free-form metadata and user id are never copied,
  since they are not scrubbed;
- a dataset's content hash depends only on its rows (their order is fixed by interaction id), and
  its version is derived from the hash: identical input gives an identical version.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import IO, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aion_assets.core.errors import ConfigError
from aion_assets.memory.models import EditStatus, Interaction, SelfEdit, Tenant

Split = Literal["train", "eval"]
SPLITS: tuple[Split, ...] = ("train", "eval")
DEFAULT_DOMAIN = "general"
DEFAULT_SYSTEM_PROMPT = "You are a helpful {domain} assistant."
HISTOGRAM_BINS = 10
_DOMAIN_CHARS = re.compile(r"[^a-z0-9_.-]+")


class CurationSettings(BaseModel):
    """Curation thresholds of one tenant: the defaults, then ``tenants.config["curation"]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_reward: float = Field(0.5, ge=0.0, le=1.0, description="Edits below this reward are left out.")
    eval_share: float = Field(0.2, ge=0.0, lt=1.0, description="Share of interactions held out for evaluation.")
    min_rows: int = Field(10, ge=1, description="A dataset with fewer rows fails its blocking check.")
    min_new_edits: int = Field(20, ge=1, description="Newly approved edits that make the sensor start a run.")


def curation_settings(tenant: Tenant | None, **overrides: Any) -> CurationSettings:
    """TENANT's curation settings, with OVERRIDES (None values ignored) applied last.

    Raises:
        ConfigError: the tenant's ``curation`` config or an override is invalid (names the field).
    """
    data: dict[str, Any] = {}
    if tenant is not None:
        raw = tenant.config.get("curation") or {}
        if not isinstance(raw, Mapping):
            raise ConfigError(f"tenant {tenant.tenant_id}: config.curation must be an object")
        data.update(raw)
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return CurationSettings.model_validate(data)
    except ValidationError as exc:
        who = f"tenant {tenant.tenant_id}: " if tenant is not None else ""
        problems = "; ".join(f"curation.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{who}invalid curation settings: {problems}") from exc


# -- domains -----------------------------------------------------------------------------------


def normalize_domain(value: Any) -> str:
    """A domain name safe for partition keys and artifact paths (lower case, no '/')."""
    if not isinstance(value, str):
        return DEFAULT_DOMAIN
    name = _DOMAIN_CHARS.sub("-", value.strip().lower()).strip("-.")[:64].strip("-.")
    return name or DEFAULT_DOMAIN


@dataclass(frozen=True)
class AgentProfile:
    """What a tenant's config says about one agent."""

    domain: str | None = None
    system_prompt: str | None = None


def agent_profiles(tenant_config: Mapping[str, Any]) -> dict[str, AgentProfile]:
    """The ``agents`` section of a tenant's config: ``{agent_id: {"domain", "system_prompt"}}``."""
    agents = tenant_config.get("agents") or {}
    if not isinstance(agents, Mapping):
        raise ConfigError("tenant config 'agents' must be an object of agent_id -> {domain, system_prompt}")
    out = {}
    for agent_id, spec in agents.items():
        if not isinstance(spec, Mapping):
            raise ConfigError(f"tenant config agents.{agent_id} must be an object")
        domain = spec.get("domain")
        prompt = spec.get("system_prompt")
        out[str(agent_id)] = AgentProfile(
            domain=normalize_domain(domain) if domain else None,
            system_prompt=prompt if isinstance(prompt, str) and prompt.strip() else None,
        )
    return out


def domain_of(agent_id: str, metadata: Mapping[str, Any], profiles: Mapping[str, AgentProfile]) -> str:
    """The domain of an interaction: agent config, then metadata ``domain``, then ``general``."""
    profile = profiles.get(agent_id)
    if profile is not None and profile.domain:
        return profile.domain
    return normalize_domain(metadata.get("domain")) if metadata.get("domain") else DEFAULT_DOMAIN


# -- split -------------------------------------------------------------------------------------


def split_of(interaction_id: uuid.UUID | str, eval_share: float) -> Split:
    """``eval`` for a fixed EVAL_SHARE of interaction ids, ``train`` for the rest (sha256-based)."""
    digest = hashlib.sha256(str(interaction_id).lower().encode()).digest()
    return "eval" if int.from_bytes(digest[:8], "big") / 2**64 < eval_share else "train"


# -- examples ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Example:
    """One curated training example (before or after scrubbing)."""

    interaction_id: str
    edit_id: str
    tenant_id: str
    agent_id: str
    domain: str
    prompt: str
    response: str
    system: str
    reward_score: float
    editor_type: str
    reason_code: str | None
    edited_at: str
    interaction_at: str
    model_version: str | None
    #: Key facts the editor listed (metadata ``facts`` of the edit, else of the interaction),
    #: kept for key-fact recall in evaluation; scrubbed like the texts.
    facts: tuple[str, ...] | None = None

    def to_row(self, split: Split | None = None) -> dict[str, Any]:
        """The JSONL row of this example (``split`` recorded in metadata when given)."""
        metadata: dict[str, Any] = {
            "interaction_id": self.interaction_id,
            "edit_id": self.edit_id,
            "tenant_id": self.tenant_id,
            "agent_id": self.agent_id,
            "domain": self.domain,
            "reward_score": self.reward_score,
            "editor_type": self.editor_type,
            "reason_code": self.reason_code,
            "edited_at": self.edited_at,
            "interaction_at": self.interaction_at,
            "model_version": self.model_version,
        }
        if self.facts is not None:
            metadata["facts"] = list(self.facts)
        if split is not None:
            metadata["split"] = split
        return {
            "id": self.interaction_id,
            "prompt": self.prompt,
            "response": self.response,
            "messages": [
                {"role": "system", "content": self.system},
                {"role": "user", "content": self.prompt},
                {"role": "assistant", "content": self.response},
            ],
            "metadata": metadata,
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Example:
        """Inverse of :meth:`to_row` (the split, if any, is dropped)."""
        m = row["metadata"]
        return cls(
            interaction_id=m["interaction_id"],
            edit_id=m["edit_id"],
            tenant_id=m["tenant_id"],
            agent_id=m["agent_id"],
            domain=m["domain"],
            prompt=row["prompt"],
            response=row["response"],
            system=row["messages"][0]["content"],
            reward_score=m["reward_score"],
            editor_type=m["editor_type"],
            reason_code=m["reason_code"],
            edited_at=m["edited_at"],
            interaction_at=m["interaction_at"],
            model_version=m["model_version"],
            facts=tuple(m["facts"]) if m.get("facts") is not None else None,
        )


def dumps_row(row: Mapping[str, Any]) -> str:
    """One canonical JSONL line (sorted keys, no spaces, UTF-8 kept), newline included."""
    return json.dumps(row, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"


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
    """What curation needs of ``aion_assets.memory.scrub.Scrubber``."""

    def scrub_many(self, texts: list[str], policy: Any = None) -> list[Any]: ...


def scrub_examples(
    examples: Iterable[Example], scrubber: TextScrubber, policy: Any = None, *, batch_size: int = 64
) -> Iterator[tuple[Example, dict[str, int]]]:
    """Scrub each example's prompt and response, BATCH_SIZE examples per ``scrub_many`` call.

    Yields (scrubbed example, removed counts by entity type). The system prompt comes from the
    tenant's own configuration and is not scrubbed.
    """
    batch: list[Example] = []

    def flush() -> Iterator[tuple[Example, dict[str, int]]]:
        texts = [t for ex in batch for t in (ex.prompt, ex.response, *(ex.facts or ()))]
        results = iter(scrubber.scrub_many(texts, policy))
        for ex in batch:
            p, r = next(results), next(results)
            facts = [next(results) for _ in ex.facts or ()]
            counts = dict(p.counts)
            for res in (r, *facts):
                for k, v in res.counts.items():
                    counts[k] = counts.get(k, 0) + v
            scrubbed_facts = tuple(f.text for f in facts) if ex.facts is not None else None
            yield replace(ex, prompt=p.text, response=r.text, facts=scrubbed_facts), counts

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


# -- datasets ----------------------------------------------------------------------------------


def histogram_bin(reward: float) -> str:
    """The reward-histogram bin label of REWARD (ten bins of 0.1; 1.0 falls in the last)."""
    k = min(int(reward * HISTOGRAM_BINS), HISTOGRAM_BINS - 1)
    return f"{k / HISTOGRAM_BINS:.1f}-{(k + 1) / HISTOGRAM_BINS:.1f}"


@dataclass
class DatasetSummary:
    """What was written: rows per split, reward histogram, hashes and the derived version."""

    rows: dict[str, int] = field(default_factory=lambda: {s: 0 for s in SPLITS})
    reward_histogram: dict[str, int] = field(default_factory=dict)
    split_sha256: dict[str, str] = field(default_factory=dict)
    content_hash: str = ""

    @property
    def total(self) -> int:
        """Rows in all splits."""
        return sum(self.rows.values())

    @property
    def version(self) -> str:
        """The dataset version: the first 16 hex digits of the content hash."""
        return version_of(self.content_hash)


def version_of(content_hash: str) -> str:
    """The version name derived from a dataset's content hash."""
    return content_hash[:16]


def combine_hashes(split_sha256: Mapping[str, str]) -> str:
    """The dataset's content hash from the sha256 of each split file."""
    text = "\n".join(f"{s}:{split_sha256[s]}" for s in SPLITS)
    return hashlib.sha256(text.encode()).hexdigest()


def write_splits(
    examples: Iterable[Example], outputs: Mapping[str, IO[bytes]] | Mapping[Split, IO[bytes]], *, eval_share: float
) -> DatasetSummary:
    """Write EXAMPLES as JSONL to ``outputs["train"]`` / ``outputs["eval"]`` and summarise them.

    The content hash covers exactly the bytes written, so identical examples in the same order
    give the identical hash.
    """
    summary = DatasetSummary()
    hashers = {s: hashlib.sha256() for s in SPLITS}
    hist: dict[str, int] = {}
    for ex in examples:
        split = split_of(ex.interaction_id, eval_share)
        data = dumps_row(ex.to_row(split)).encode()
        outputs[split].write(data)
        hashers[split].update(data)
        summary.rows[split] += 1
        label = histogram_bin(ex.reward_score)
        hist[label] = hist.get(label, 0) + 1
    summary.reward_histogram = dict(sorted(hist.items()))
    summary.split_sha256 = {s: h.hexdigest() for s, h in hashers.items()}
    summary.content_hash = combine_hashes(summary.split_sha256)
    return summary


def iter_lines(stream: IO[bytes], chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """The lines of a byte stream, newline included, reading CHUNK_SIZE bytes at a time.

    Works on any object with ``read(n)``: files, and S3 bodies, whose iteration yields
    fixed-size chunks rather than lines.
    """
    rest = b""
    while chunk := stream.read(chunk_size):
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            yield line + b"\n"
    if rest:
        yield rest


def read_rows(stream: IO[bytes]) -> Iterator[dict[str, Any]]:
    """The rows of a JSONL byte stream, one at a time (blank lines skipped)."""
    for line in iter_lines(stream):
        if line.strip():
            yield json.loads(line)


def stored_rows(store: Any, key: str) -> Iterator[dict[str, Any]]:
    """The rows of the JSONL object KEY of an artifact store, streamed (the stream is closed after)."""
    with contextlib.closing(store.open_read(key)) as stream:
        yield from read_rows(stream)


def scrub_policy(tenant: Tenant | None) -> Any:
    """TENANT's ``ScrubPolicy`` from ``tenants.config["scrub"]`` (the default policy when unset).

    Raises:
        ConfigError: the tenant's scrub config is invalid (the message names the field).
    """
    from aion_assets.memory.scrub import ScrubPolicy

    raw = tenant.config.get("scrub") if tenant is not None else None
    if raw is not None and not isinstance(raw, Mapping):
        raise ConfigError(f"tenant {tenant.tenant_id if tenant else '?'}: config.scrub must be an object")
    return ScrubPolicy.from_config(raw or {})


def validate_tenant_config(tenant_id: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """Check a tenant config object (keys ``curation``, ``agents``, ``scrub``) before it is stored.

    Returns:
        The config as a plain dict.

    Raises:
        ConfigError: an unknown top-level key or an invalid section (the message names it).
    """
    from aion_assets.memory.models import Tenant

    if not isinstance(config, Mapping):
        raise ConfigError("tenant config must be an object")
    unknown = sorted(set(config) - {"curation", "agents", "scrub"})
    if unknown:
        raise ConfigError(f"tenant config: unknown key(s) {', '.join(unknown)}; use curation, agents, scrub")
    probe = Tenant(
        tenant_id=tenant_id, retention_days=None, adaptation_opt_out=False, config=dict(config),
        created_at=datetime.now(UTC),
    )
    curation_settings(probe)
    agents = config.get("agents") or {}
    if not isinstance(agents, Mapping) or not all(isinstance(v, Mapping) for v in agents.values()):
        raise ConfigError("tenant config: agents must map agent ids to objects")
    agent_profiles(config)
    scrub_policy(probe)
    return dict(config)


def find_tenant(tenants: Iterable[Tenant], tenant_id: str) -> Tenant | None:
    """The tenant named TENANT_ID among TENANTS, or None when it never sent data."""
    return next((t for t in tenants if t.tenant_id == tenant_id), None)

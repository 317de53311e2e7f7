"""The row contract of curated datasets: one example, its JSONL row and chat form, and its split.

- rows are JSON objects with ``id``, ``prompt``, ``response``, ``messages`` (system/user/assistant,
  the form TRL and OpenAI-style fine-tuning read) and ``metadata`` holding identifiers, scores,
  timestamps, the key facts and the caller-given free text (reason code, model version, agent id);
  every text that leaves in a row is scrubbed first (``curate.scrub_examples``); the
  interaction's free-form metadata and user id are never copied;
- the train/eval split is a function of the interaction id alone (sha256), so an example never
  moves between splits as data grows. The pipeline, the export and the demo use this one function.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Split = Literal["train", "eval"]
SPLITS: tuple[Split, ...] = ("train", "eval")


def split_of(interaction_id: uuid.UUID | str, eval_share: float) -> Split:
    """``eval`` for a fixed EVAL_SHARE of interaction ids, ``train`` for the rest (sha256-based)."""
    digest = hashlib.sha256(str(interaction_id).lower().encode()).digest()
    return "eval" if int.from_bytes(digest[:8], "big") / 2**64 < eval_share else "train"



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


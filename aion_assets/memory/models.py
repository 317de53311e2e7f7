"""Domain objects and validated inputs of the memory store.

Inputs (``*In``) forbid unknown fields and check every value, so a bad request is refused
with the field named before anything is written. Outputs are what the store returns; they
are also the API's response bodies.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

Ident = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$")]
DEFAULT_MAX_TEXT = 32_000


class EditorType(StrEnum):
    """Who produced a self-edit."""

    human = "human"
    model = "model"
    rule = "rule"


class EditStatus(StrEnum):
    """Review state of a self-edit."""

    pending = "pending"
    approved = "approved"
    rejected = "rejected"


def utc(value: datetime) -> datetime:
    """Return VALUE as an aware UTC datetime (naive values are taken to be UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _check_text(value: str, info: ValidationInfo) -> str:
    limit = (info.context or {}).get("max_text_chars", DEFAULT_MAX_TEXT)
    if len(value) > limit:
        raise ValueError(f"text is {len(value)} characters, the limit is {limit}")
    if "\x00" in value:
        raise ValueError("text contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("text is not valid Unicode (lone surrogate)") from exc
    return value


def _check_optional_text(value: str | None, info: ValidationInfo) -> str | None:
    return None if value is None else _check_text(value, info)


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class InteractionIn(_Input):
    """One agent interaction as captured by a gateway."""

    id: uuid.UUID | None = Field(default=None, description="Client-chosen id; resending it is a safe retry.")
    tenant_id: Ident | None = Field(default=None, description="Must equal the token's tenant when given.")
    agent_id: Ident = Field(description="The agent that answered.")
    user_id: Annotated[str, StringConstraints(max_length=256)] | None = None
    input_text: str = Field(description="What the user asked.")
    output_text: str = Field(description="What the agent answered.")
    model_version: Annotated[str, StringConstraints(max_length=256)] | None = None
    channel: Annotated[str, StringConstraints(max_length=64)] | None = None
    timestamp: datetime | None = Field(default=None, description="When it happened; default: now (UTC).")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Free-form JSON object.")

    _texts = field_validator("input_text", "output_text")(_check_text)

    @field_validator("timestamp")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else utc(value)


class SelfEditIn(_Input):
    """A correction of an interaction's output."""

    id: uuid.UUID | None = Field(default=None, description="Client-chosen id; resending it is a safe retry.")
    tenant_id: Ident | None = Field(default=None, description="Must equal the token's tenant when given.")
    interaction_id: uuid.UUID = Field(description="An interaction of the caller's tenant.")
    editor_type: EditorType
    original_output: str | None = Field(default=None, description="Defaults to the interaction's output.")
    edited_output: str
    reason_code: Annotated[str, StringConstraints(max_length=128)] | None = None
    reward_score: float = Field(ge=0.0, le=1.0, allow_inf_nan=False, description="Reward in [0, 1].")
    timestamp: datetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    _texts = field_validator("original_output", "edited_output")(_check_optional_text)

    @field_validator("timestamp")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else utc(value)


class ReviewIn(_Input):
    """Body of an approve/reject call."""

    note: Annotated[str, StringConstraints(max_length=2000)] | None = None
    edited_output: str | None = Field(default=None, description="Amend the edit while approving.")

    _texts = field_validator("edited_output")(_check_optional_text)


class Interaction(BaseModel):
    """A stored interaction."""

    id: uuid.UUID
    tenant_id: str
    agent_id: str
    user_id: str | None
    input_text: str
    output_text: str
    model_version: str | None
    channel: str | None
    timestamp: datetime
    metadata: dict[str, Any]


class SelfEdit(BaseModel):
    """A stored self-edit."""

    id: uuid.UUID
    tenant_id: str
    interaction_id: uuid.UUID
    agent_id: str
    editor_type: EditorType
    original_output: str
    edited_output: str
    reason_code: str | None
    reward_score: float
    status: EditStatus
    reviewer: str | None
    reviewed_at: datetime | None
    timestamp: datetime
    metadata: dict[str, Any]


class SelfEditPage(BaseModel):
    """One page of self-edits; pass ``next_cursor`` back to get the next one."""

    items: list[SelfEdit]
    next_cursor: str | None


class Tenant(BaseModel):
    """A tenant and its settings."""

    tenant_id: str
    retention_days: int | None
    adaptation_opt_out: bool
    config: dict[str, Any]
    created_at: datetime


class EvaluationIn(_Input):
    """One metric of one model on one dataset."""

    model_version: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    dataset_id: Annotated[str, StringConstraints(min_length=1, max_length=512)]
    metric_name: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    metric_value: float = Field(allow_inf_nan=False)
    run_id: Annotated[str, StringConstraints(max_length=128)] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class Evaluation(BaseModel):
    """A stored evaluation metric."""

    id: uuid.UUID
    tenant_id: str
    model_version: str
    dataset_id: str
    metric_name: str
    metric_value: float
    run_id: str | None
    timestamp: datetime
    metadata: dict[str, Any]

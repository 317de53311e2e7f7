"""Domain objects and validated inputs of the memory store.

Inputs (``*In``) forbid unknown fields and check every value, so a bad request is refused
with the field named before anything is written. Outputs are what the store returns; they
are also the API's response bodies.
"""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

IDENT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$"
Ident = Annotated[str, StringConstraints(pattern=IDENT_PATTERN)]
DEFAULT_MAX_TEXT = 32_000
# Timestamps from outside must lie in [MIN_TIMESTAMP, MAX_TIMESTAMP): anything else is a
# client bug (or a probe), and dates near year 1 or 9999 overflow on conversion.
MIN_TIMESTAMP = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TIMESTAMP = datetime(2200, 1, 1, tzinfo=UTC)


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
    """Return VALUE as an aware UTC datetime (naive values are taken to be UTC).

    Raises:
        ValueError: VALUE cannot be expressed in UTC (e.g. year 1 at +01:00 would fall
            before year 1); pydantic turns a ValueError into a 422 naming the field, while
            the OverflowError the conversion raises would be a 500.
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(f"{value.isoformat()} is out of range once converted to UTC") from exc


def sane_utc(value: datetime) -> datetime:
    """VALUE in UTC, refused unless it lies between MIN_TIMESTAMP and MAX_TIMESTAMP.

    Every timestamp that comes from outside (bodies, cursors, ``since``) goes through here, so
    a date the database or retention would mishandle is refused with the field named.

    Raises:
        ValueError: out of range, or not convertible to UTC.
    """
    value = utc(value)
    if not MIN_TIMESTAMP <= value < MAX_TIMESTAMP:
        raise ValueError(
            f"{value.isoformat()} is outside the accepted range "
            f"[{MIN_TIMESTAMP.isoformat()}, {MAX_TIMESTAMP.isoformat()})"
        )
    return value


def check_chars(value: str, where: str = "text") -> str:
    """VALUE unchanged; ValueError if it holds a NUL or a lone surrogate.

    PostgreSQL cannot store either in text or jsonb (SQLite would store them), so they are
    refused for every string on both backends alike.
    """
    if "\x00" in value:
        raise ValueError(f"{where} contains a NUL character")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"{where} is not valid Unicode (lone surrogate)") from exc
    return value


def _no_nul(value: str) -> str:
    # Typed str fields only: pydantic already refuses lone surrogates in them.
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    return value


NoNul = AfterValidator(_no_nul)


# Built once: json.dumps with non-default options builds an encoder per call (~1.5 us of 4).
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False)


def _storable(value: Any) -> bool:
    """Fast check (C speed, no paths) that VALUE holds no NUL, lone surrogate or non-finite number.

    False may be a false alarm (the text "\\u0000", a type json cannot encode): the caller
    then walks VALUE to find, and name, the real offender.
    """
    if not value:
        return True
    try:
        dumped = _ENCODER.encode(value)
    except (ValueError, TypeError, RecursionError):
        return False
    if "\\u0000" in dumped:  # json.dumps always escapes NUL
        return False
    if not dumped.isascii():
        try:
            dumped.encode("utf-8")  # lone surrogates are copied as they are with ensure_ascii=False
        except UnicodeEncodeError:
            return False
    return True


def check_json_value(value: Any, where: str) -> Any:
    """VALUE unchanged; ValueError naming the path if any key or string in it holds a NUL or
    a lone surrogate, or any number is NaN or infinite (neither is JSON, PostgreSQL refuses
    all of them, SQLite would store them).

    Walks iteratively: the depth is bounded by the body parser, not by Python's stack.
    """
    if _storable(value):
        return value
    # Slow path, only for the message: find the first offending path.
    stack: list[tuple[Any, str]] = [(value, where)]
    seen: set[int] = set()  # each container once: a Python caller's metadata may share or loop
    while stack:
        item, path = stack.pop()
        if isinstance(item, dict | list | tuple):
            if id(item) in seen:
                continue
            seen.add(id(item))
        if isinstance(item, str):
            check_chars(item, path)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise ValueError(f"{path} is not a finite number")
        elif isinstance(item, dict):
            for key, sub in item.items():
                if isinstance(key, str):
                    check_chars(key, f"a key of {path}")
                stack.append((sub, f"{path}[{key!r}]"))
        elif isinstance(item, list | tuple):
            stack.extend((sub, f"{path}[{i}]") for i, sub in enumerate(item))
    return value


def _check_text(value: str, info: ValidationInfo) -> str:
    limit = (info.context or {}).get("max_text_chars", DEFAULT_MAX_TEXT)
    if len(value) > limit:
        raise ValueError(f"text is {len(value)} characters, the limit is {limit}")
    return check_chars(value)


def _check_optional_text(value: str | None, info: ValidationInfo) -> str | None:
    return None if value is None else _check_text(value, info)


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    @field_validator("metadata", check_fields=False)
    @classmethod
    def _storable_metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Keys and values at any depth: pydantic checks nothing inside an Any.
        return check_json_value(value, "metadata")  # type: ignore[no-any-return]


class InteractionIn(_Input):
    """One agent interaction as captured by a gateway."""

    id: uuid.UUID | None = Field(default=None, description="Client-chosen id; resending it is a safe retry.")
    tenant_id: Ident | None = Field(default=None, description="Must equal the token's tenant when given.")
    agent_id: Ident = Field(description="The agent that answered.")
    # 128: the column's width (256 here let 129 to 256 characters through to a 500 on PostgreSQL).
    user_id: Annotated[str, StringConstraints(max_length=128), NoNul] | None = None
    input_text: str = Field(description="What the user asked.")
    output_text: str = Field(description="What the agent answered.")
    model_version: Annotated[str, StringConstraints(max_length=256), NoNul] | None = None
    channel: Annotated[str, StringConstraints(max_length=64), NoNul] | None = None
    timestamp: datetime | None = Field(default=None, description="When it happened; default: now (UTC).")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Free-form JSON object.")

    _texts = field_validator("input_text", "output_text")(_check_text)

    @field_validator("timestamp")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else sane_utc(value)


class SelfEditIn(_Input):
    """A correction of an interaction's output."""

    id: uuid.UUID | None = Field(default=None, description="Client-chosen id; resending it is a safe retry.")
    tenant_id: Ident | None = Field(default=None, description="Must equal the token's tenant when given.")
    interaction_id: uuid.UUID = Field(description="An interaction of the caller's tenant.")
    editor_type: EditorType
    original_output: str | None = Field(default=None, description="Defaults to the interaction's output.")
    edited_output: str
    reason_code: Annotated[str, StringConstraints(max_length=128), NoNul] | None = None
    reward_score: float = Field(ge=0.0, le=1.0, allow_inf_nan=False, description="Reward in [0, 1].")
    timestamp: datetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    _texts = field_validator("original_output", "edited_output")(_check_optional_text)

    @field_validator("timestamp")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else sane_utc(value)


class ReviewIn(_Input):
    """Body of an approve/reject call."""

    note: Annotated[str, StringConstraints(max_length=2000), NoNul] | None = None
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

    model_version: Annotated[str, StringConstraints(min_length=1, max_length=256), NoNul]
    dataset_id: Annotated[str, StringConstraints(min_length=1, max_length=512), NoNul]
    metric_name: Annotated[str, StringConstraints(min_length=1, max_length=128), NoNul]
    metric_value: float = Field(allow_inf_nan=False)
    run_id: Annotated[str, StringConstraints(max_length=128), NoNul] | None = None
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

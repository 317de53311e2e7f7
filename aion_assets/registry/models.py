"""Domain objects and validated inputs of the model registry.

Inputs (``*In``) forbid unknown fields and check every value, so a bad request is refused
with the field named before anything is written. Outputs are what the store returns; they
are also the API's response bodies.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

Ident = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$")]
#: Agent ids appear in URL paths (``/routes/{agent_id}``), so no ``/``.
AgentIdent = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")]
Domain = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
BaseName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Note = Annotated[str, StringConstraints(max_length=2000)]


class ModelStatus(StrEnum):
    """Where a version stands; it moves only along :data:`TRANSITIONS`."""

    candidate = "candidate"
    pending_approval = "pending_approval"
    promoted = "promoted"
    retired = "retired"
    rejected = "rejected"


#: status -> the statuses it may move to. ``retired`` and ``rejected`` are final.
TRANSITIONS: dict[ModelStatus, frozenset[ModelStatus]] = {
    ModelStatus.candidate: frozenset({ModelStatus.pending_approval, ModelStatus.rejected}),
    ModelStatus.pending_approval: frozenset({ModelStatus.promoted, ModelStatus.rejected}),
    ModelStatus.promoted: frozenset({ModelStatus.retired}),
    ModelStatus.retired: frozenset(),
    ModelStatus.rejected: frozenset(),
}

#: statuses a version may be registered in (promotion registers its decision directly).
INITIAL_STATUSES = frozenset(
    {ModelStatus.candidate, ModelStatus.pending_approval, ModelStatus.promoted, ModelStatus.rejected}
)


def transition_error(current: ModelStatus, target: ModelStatus) -> str | None:
    """Why CURRENT may not move to TARGET, or None when it may."""
    if target in TRANSITIONS[current]:
        return None
    allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "nothing (final)"
    return f"a {current.value} version cannot become {target.value}; from {current.value} it may become {allowed}"


def utc(value: datetime) -> datetime:
    """Return VALUE as an aware UTC datetime (naive values are taken to be UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetricIn(_Input):
    """One metric of a version, with its (optional) confidence interval."""

    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$")]
    value: float = Field(allow_inf_nan=False)
    ci_low: float | None = Field(default=None, allow_inf_nan=False)
    ci_high: float | None = Field(default=None, allow_inf_nan=False)

    @model_validator(mode="after")
    def _interval(self) -> MetricIn:
        if (self.ci_low is None) != (self.ci_high is None):
            raise ValueError("give both ci_low and ci_high, or neither")
        if self.ci_low is not None and self.ci_high is not None and not self.ci_low <= self.ci_high:
            raise ValueError("ci_low must not exceed ci_high")
        return self


class ModelVersionIn(_Input):
    """A version to register; its identity is ``manifest_sha256``."""

    tenant_id: Ident | None = Field(default=None, description="Must equal the token's tenant when given.")
    manifest_sha256: Sha256 = Field(description="SHA-256 of the adapter's authenticated manifest (lowercase hex).")
    adapter_uri: Annotated[str, StringConstraints(min_length=1, max_length=2048, pattern=r"^[a-z][a-z0-9+.-]*://")]
    base_model: BaseName
    domain: Domain
    status: ModelStatus = Field(default=ModelStatus.candidate, description="candidate, pending_approval, "
                                "promoted or rejected.")
    status_reason: Note | None = Field(default=None, description="Why (e.g. the reasons of a rejection).")
    parent_id: uuid.UUID | None = Field(default=None, description="The version this one was trained from.")
    description: Note | None = None
    dataset_version: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    evaluation_run_id: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    source_edit_count: int | None = Field(default=None, ge=0)
    metrics: list[MetricIn] = Field(default_factory=list, max_length=200)

    @field_validator("status")
    @classmethod
    def _initial(cls, value: ModelStatus) -> ModelStatus:
        if value not in INITIAL_STATUSES:
            raise ValueError(f"a version cannot be registered as {value.value}")
        return value

    @field_validator("metrics")
    @classmethod
    def _unique(cls, value: list[MetricIn]) -> list[MetricIn]:
        names = [m.name for m in value]
        if len(names) != len(set(names)):
            raise ValueError("a metric name is repeated")
        return value


class Metric(BaseModel):
    """A stored metric."""

    name: str
    value: float
    ci_low: float | None
    ci_high: float | None


class ModelVersion(BaseModel):
    """A registered version (immutable but for its status)."""

    id: uuid.UUID
    tenant_id: str
    name: str
    parent_id: uuid.UUID | None
    adapter_uri: str
    status: ModelStatus
    created_at: datetime
    created_by: str
    description: str | None
    base_model: str
    domain: str
    dataset_version: str | None
    evaluation_run_id: str | None
    source_edit_count: int | None
    manifest_sha256: str
    status_changed_at: datetime
    status_changed_by: str
    status_reason: str | None
    metrics: list[Metric] = Field(default_factory=list)


class RouteIn(_Input):
    """A route write; ``expected_version`` is the version it replaces (0: the route is new)."""

    tenant_id: Ident | None = Field(default=None, description="Must equal the token's tenant when given.")
    agent_id: AgentIdent
    default_model_id: uuid.UUID = Field(description="A promoted version of the caller's tenant.")
    fallback_model_id: uuid.UUID | None = Field(default=None, description="A promoted version, or none.")
    policy: dict[str, Any] = Field(default_factory=dict, description="Free-form routing policy (JSON object).")
    expected_version: int = Field(ge=0, description="The route version this write replaces; 0 creates it.")

    @model_validator(mode="after")
    def _distinct(self) -> RouteIn:
        if self.fallback_model_id is not None and self.fallback_model_id == self.default_model_id:
            raise ValueError("fallback_model_id must differ from default_model_id")
        return self


class RollbackIn(_Input):
    """Body of a rollback (optional): the version rolled back from, and why."""

    expected_version: int | None = Field(default=None, ge=1, description="Refuse (409) unless the route is at it.")
    reason: Note | None = None


class ReviewIn(_Input):
    """Body of an approve/reject call (optional)."""

    reason: Note | None = None


class Route(BaseModel):
    """A stored route with the names and adapter URIs of its versions (what a gateway needs)."""

    tenant_id: str
    agent_id: str
    default_model_id: uuid.UUID
    default_model_name: str
    default_adapter_uri: str
    fallback_model_id: uuid.UUID | None
    fallback_model_name: str | None
    fallback_adapter_uri: str | None
    policy: dict[str, Any]
    version: int
    updated_at: datetime
    updated_by: str


class AuditEntry(BaseModel):
    """One append-only audit record: who did what to which subject, with before and after."""

    id: uuid.UUID
    tenant_id: str
    actor: str
    action: str
    subject: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    at: datetime


# -- evaluations imported from outside ---------------------------------------------------------

#: Imported metrics are stored as ``<source>/<name>``: at most 48 + 1 + 64 characters, within the
#: 128 of the metrics table, and never equal to a metric the pipeline registered (those have no ``/``
#: unless it chose one; a clash is refused with 409, never overwritten).
ImportSource = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,47}$")]
ImportId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")]
MAX_IMPORTED_METRICS = 200


class ImportedMetricIn(MetricIn):
    """One metric of an imported evaluation (name without the source prefix, at most 64 characters)."""

    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]


class EvaluationImportIn(_Input):
    """An evaluation summary computed outside the pipeline (a harness, a human review).

    ``import_id`` is chosen by the client and makes the import idempotent: sending the same
    summary again answers the stored import; sending another summary under the same id is refused.
    """

    import_id: ImportId = Field(description="Client-chosen id of this import (idempotency key).")
    tenant_id: Ident | None = Field(default=None, description="Must equal the token's tenant when given.")
    model_id: uuid.UUID = Field(description="A version of the caller's tenant.")
    source: ImportSource = Field(description="What produced the figures, e.g. `lm-eval-harness`; prefixes the names.")
    evaluation_run_id: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    evaluated_at: datetime | None = Field(default=None, description="When the evaluation ran (ISO 8601).")
    notes: Note | None = None
    metrics: list[ImportedMetricIn] = Field(min_length=1, max_length=MAX_IMPORTED_METRICS)

    @field_validator("metrics")
    @classmethod
    def _unique(cls, value: list[ImportedMetricIn]) -> list[ImportedMetricIn]:
        names = [m.name for m in value]
        if len(names) != len(set(names)):
            raise ValueError("a metric name is repeated")
        return value

    @field_validator("evaluated_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return None if value is None else utc(value)


class EvaluationImport(BaseModel):
    """A stored import: the metrics as stored (``<source>/<name>``), who imported it and when."""

    import_id: str
    tenant_id: str
    model_id: uuid.UUID
    model_name: str
    source: str
    evaluation_run_id: str | None
    evaluated_at: datetime | None
    notes: str | None
    metrics: list[Metric]
    imported_at: datetime
    imported_by: str


# -- deployments -------------------------------------------------------------------------------

Environment = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,63}$")]
MAX_REPLICAS = 1000
MAX_DEPLOYMENT_CONFIG_BYTES = 8192


class AutoscalePolicy(_Input):
    """Replica bounds of a deployment (and the concurrency per replica that scaling aims at)."""

    min_replicas: int = Field(ge=0, le=MAX_REPLICAS)
    max_replicas: int = Field(ge=1, le=MAX_REPLICAS)
    target_concurrency: int | None = Field(default=None, ge=1, le=100_000)

    @model_validator(mode="after")
    def _bounds(self) -> AutoscalePolicy:
        if self.min_replicas > self.max_replicas:
            raise ValueError("min_replicas must not exceed max_replicas")
        return self


class DeploymentIn(_Input):
    """Create or replace the deployment of one version in one environment."""

    tenant_id: Ident | None = Field(default=None, description="Must equal the token's tenant when given.")
    model_id: uuid.UUID = Field(description="A version of the caller's tenant.")
    environment: Environment = Field(description="e.g. `staging`, `production`.")
    replica_count: int = Field(ge=0, le=MAX_REPLICAS, description="0 scales the deployment down.")
    autoscale: AutoscalePolicy | None = None
    config: dict[str, Any] = Field(default_factory=dict, description="Serving options (JSON object, at most 8 KiB).")

    @field_validator("config")
    @classmethod
    def _small(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            size = len(json.dumps(value, allow_nan=False).encode())
        except ValueError as exc:
            raise ValueError(f"config is not storable JSON: {exc}") from exc
        if size > MAX_DEPLOYMENT_CONFIG_BYTES:
            raise ValueError(f"config is {size} bytes of JSON; at most {MAX_DEPLOYMENT_CONFIG_BYTES}")
        return value

    @model_validator(mode="after")
    def _within_bounds(self) -> DeploymentIn:
        a = self.autoscale
        if a is not None and not a.min_replicas <= self.replica_count <= a.max_replicas:
            raise ValueError("replica_count must lie between autoscale.min_replicas and autoscale.max_replicas")
        return self


class Deployment(BaseModel):
    """A stored deployment of a version."""

    tenant_id: str
    model_id: uuid.UUID
    model_name: str
    model_status: ModelStatus
    environment: str
    replica_count: int
    autoscale: AutoscalePolicy | None
    config: dict[str, Any]


# -- lineage -----------------------------------------------------------------------------------


class ModelRef(BaseModel):
    """A short reference to a version."""

    id: uuid.UUID
    name: str
    status: ModelStatus


class Lineage(BaseModel):
    """Where a version comes from: its parent, dataset, evaluation and the self-edits it learned from.

    ``source_edit_ids`` come from the dataset's manifest in the artifact store; when they cannot
    be read, they are null and ``source_edit_ids_error`` says why (no sentinel list).
    """

    parent: ModelRef | None
    dataset_version: str | None
    evaluation_run_id: str | None
    source_edit_count: int | None
    dataset_manifest_uri: str | None
    source_edit_ids: list[str] | None
    source_edit_ids_total: int | None = Field(description="How many ids the manifest lists (the list may be cut).")
    source_edit_ids_error: str | None


class ModelDetail(ModelVersion):
    """A version with its lineage (``GET /models/{id}``)."""

    lineage: Lineage

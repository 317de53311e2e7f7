"""Table definitions of the model registry (schema ``aion_registry`` on PostgreSQL).

These are database rows only; the store converts them to the domain objects in
``aion_assets.registry.models``. Every table carries ``tenant_id`` so that row-level
security (migration ``0002_registry``) can scope it on PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

SCHEMA = "aion_registry"
metadata = sa.MetaData(schema=SCHEMA)

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)
STATUSES = ("candidate", "pending_approval", "promoted", "retired", "rejected")

models = sa.Table(
    "models",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.String(128), nullable=False),
    sa.Column("name", sa.String(512), nullable=False),
    sa.Column(
        "parent_id",
        sa.Uuid,
        sa.ForeignKey(f"{SCHEMA}.models.id", name="fk_models_parent"),
        nullable=True,
    ),
    sa.Column("adapter_uri", sa.Text, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("base_model", sa.String(128), nullable=False),
    sa.Column("domain", sa.String(128), nullable=False),
    sa.Column("dataset_version", sa.String(256), nullable=True),
    sa.Column("evaluation_run_id", sa.String(256), nullable=True),
    sa.Column("source_edit_count", sa.Integer, nullable=True),
    sa.Column("manifest_sha256", sa.String(64), nullable=False),
    sa.Column("status_changed_at", TS, nullable=False),
    sa.Column("status_changed_by", sa.String(256), nullable=False),
    sa.Column("status_reason", sa.Text, nullable=True),
    sa.UniqueConstraint("tenant_id", "manifest_sha256", name="uq_models_tenant_manifest"),
    sa.UniqueConstraint("tenant_id", "name", name="uq_models_tenant_name"),
    sa.CheckConstraint(
        "status IN ('candidate', 'pending_approval', 'promoted', 'retired', 'rejected')", name="ck_models_status"
    ),
    sa.Index("ix_models_tenant_domain_status", "tenant_id", "domain", "status"),
)

metrics = sa.Table(
    "metrics",
    metadata,
    sa.Column(
        "model_id",
        sa.Uuid,
        sa.ForeignKey(f"{SCHEMA}.models.id", ondelete="CASCADE", name="fk_metrics_model"),
        primary_key=True,
    ),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("tenant_id", sa.String(128), nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("ci_low", sa.Float, nullable=True),
    sa.Column("ci_high", sa.Float, nullable=True),
)

routes = sa.Table(
    "routes",
    metadata,
    sa.Column("tenant_id", sa.String(128), primary_key=True),
    sa.Column("agent_id", sa.String(128), primary_key=True),
    sa.Column(
        "default_model_id",
        sa.Uuid,
        sa.ForeignKey(f"{SCHEMA}.models.id", name="fk_routes_default"),
        nullable=False,
    ),
    sa.Column(
        "fallback_model_id",
        sa.Uuid,
        sa.ForeignKey(f"{SCHEMA}.models.id", name="fk_routes_fallback"),
        nullable=True,
    ),
    sa.Column("policy_json", JSONType, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Column("updated_by", sa.String(256), nullable=False),
    sa.CheckConstraint("version >= 1", name="ck_routes_version"),
)

deployments = sa.Table(
    "deployments",
    metadata,
    sa.Column(
        "model_id",
        sa.Uuid,
        sa.ForeignKey(f"{SCHEMA}.models.id", ondelete="CASCADE", name="fk_deployments_model"),
        primary_key=True,
    ),
    sa.Column("environment", sa.String(64), primary_key=True),
    sa.Column("tenant_id", sa.String(128), nullable=False),
    sa.Column("replica_count", sa.Integer, nullable=False),
    sa.Column("autoscale_policy", JSONType, nullable=False),
    sa.Column("config_json", JSONType, nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.String(128), nullable=False),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(512), nullable=False),
    sa.Column("before_json", JSONType, nullable=True),
    sa.Column("after_json", JSONType, nullable=True),
    sa.Column("at", TS, nullable=False),
    sa.Index("ix_audit_log_tenant_at", "tenant_id", "at"),
    comment="Append-only: UPDATE and DELETE are revoked from the app role and refused by a trigger.",
)

TENANT_TABLES = ("models", "metrics", "routes", "deployments", "audit_log")

#: Webhooks waiting for delivery (migration ``0004_webhook_outbox``); a row is written in the
#: transaction of the change it reports and leaves ``pending`` only when a receiver took it.
webhook_outbox = sa.Table(
    "webhook_outbox",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.String(128), nullable=False),
    sa.Column("event_key", sa.String(512), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("payload_json", JSONType, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("next_attempt_at", TS, nullable=False),
    sa.Column("delivered_at", TS, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.UniqueConstraint("tenant_id", "event_key", name="uq_webhook_outbox_event"),
    sa.CheckConstraint("status IN ('pending', 'delivered')", name="ck_webhook_outbox_status"),
    sa.Index("ix_webhook_outbox_due", "status", "next_attempt_at"),
)

#: One row per delivery attempt of an outbox entry, whatever its result.
webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column(
        "outbox_id",
        sa.Uuid,
        sa.ForeignKey(f"{SCHEMA}.webhook_outbox.id", ondelete="CASCADE", name="fk_webhook_attempts_outbox"),
        nullable=False,
    ),
    sa.Column("tenant_id", sa.String(128), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("at", TS, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Index("ix_webhook_attempts_outbox", "outbox_id", "attempt"),
)

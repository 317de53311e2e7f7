"""Table definitions of the memory store (schema ``aion_memory`` on PostgreSQL).

These are database rows only; the store converts them to the domain objects in
``aion_assets.memory.models``.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

SCHEMA = "aion_memory"
metadata = sa.MetaData(schema=SCHEMA)

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)

tenants = sa.Table(
    "tenants",
    metadata,
    sa.Column("tenant_id", sa.String(128), primary_key=True),
    sa.Column("retention_days", sa.Integer, nullable=True),
    sa.Column("adaptation_opt_out", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("config", JSONType, nullable=False, server_default=sa.text("'{}'")),
    sa.Column("created_at", TS, nullable=False),
    comment="Known tenants and their per-tenant settings; holds no tenant data, so no RLS.",
)

interactions = sa.Table(
    "interactions",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.String(128), nullable=False),
    sa.Column("agent_id", sa.String(128), nullable=False),
    sa.Column("user_id", sa.String(128), nullable=True),
    sa.Column("input_text", sa.Text, nullable=False),
    sa.Column("output_text", sa.Text, nullable=False),
    sa.Column("model_version", sa.String(256), nullable=True),
    sa.Column("channel", sa.String(64), nullable=True),
    sa.Column("timestamp", TS, nullable=False),
    sa.Column("metadata", JSONType, nullable=False),
    sa.Index("ix_interactions_tenant_ts", "tenant_id", "timestamp"),
    sa.Index("ix_interactions_agent", "tenant_id", "agent_id", "timestamp"),
    sa.Index("ix_interactions_ts", "timestamp"),
)

self_edits = sa.Table(
    "self_edits",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.String(128), nullable=False),
    sa.Column(
        "interaction_id",
        sa.Uuid,
        sa.ForeignKey(f"{SCHEMA}.interactions.id", ondelete="CASCADE", name="fk_self_edits_interaction"),
        nullable=False,
    ),
    sa.Column("agent_id", sa.String(128), nullable=False),
    sa.Column("editor_type", sa.String(16), nullable=False),
    sa.Column("original_output", sa.Text, nullable=False),
    sa.Column("edited_output", sa.Text, nullable=False),
    sa.Column("reason_code", sa.String(128), nullable=True),
    sa.Column("reward_score", sa.Float, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reviewer", sa.String(256), nullable=True),
    sa.Column("reviewed_at", TS, nullable=True),
    sa.Column("timestamp", TS, nullable=False),
    sa.Column("metadata", JSONType, nullable=False),
    sa.CheckConstraint("editor_type IN ('human', 'model', 'rule')", name="ck_self_edits_editor_type"),
    sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="ck_self_edits_status"),
    sa.CheckConstraint("reward_score >= 0 AND reward_score <= 1", name="ck_self_edits_reward"),
    sa.Index("ix_self_edits_tenant_status_ts", "tenant_id", "status", "timestamp"),
    sa.Index("ix_self_edits_agent", "tenant_id", "agent_id", "timestamp"),
    sa.Index("ix_self_edits_interaction", "interaction_id"),
    sa.Index("ix_self_edits_reviewed", "tenant_id", "status", "reviewed_at"),
)

evaluations = sa.Table(
    "evaluations",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.String(128), nullable=False),
    sa.Column("model_version", sa.String(256), nullable=False),
    sa.Column("dataset_id", sa.String(512), nullable=False),
    sa.Column("metric_name", sa.String(128), nullable=False),
    sa.Column("metric_value", sa.Float, nullable=False),
    sa.Column("run_id", sa.String(128), nullable=True),
    sa.Column("timestamp", TS, nullable=False),
    sa.Column("metadata", JSONType, nullable=False),
    sa.Index("ix_evaluations_tenant_model", "tenant_id", "model_version", "timestamp"),
    sa.Index("ix_evaluations_run", "run_id"),
)

scrub_detections = sa.Table(
    "scrub_detections",
    metadata,
    sa.Column("text_sha256", sa.String(64), primary_key=True),
    sa.Column("tenant_id", sa.String(128), primary_key=True),
    sa.Column("scrubber_version", sa.String(128), primary_key=True),
    sa.Column("detections", JSONType, nullable=False),
    sa.Column("analysed_at", TS, nullable=False),
    comment="What the scrubber's analysis found in a text (offsets, types, scores; never a value); migration 0005.",
)

scrub_results = sa.Table(
    "scrub_results",
    metadata,
    sa.Column("text_sha256", sa.String(64), primary_key=True),
    sa.Column("tenant_id", sa.String(128), primary_key=True),
    sa.Column("scrubber_version", sa.String(128), primary_key=True),
    sa.Column("policy_sha256", sa.String(64), primary_key=True),
    sa.Column("spans", sa.Text, nullable=False),
    sa.Column("stored_at", TS, nullable=False),
    comment="The spans a policy replaces in a text (offsets and types; never a value); migration 0007.",
)

TENANT_TABLES = ("interactions", "self_edits", "evaluations", "scrub_detections", "scrub_results")

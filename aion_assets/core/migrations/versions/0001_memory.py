"""Memory store: tenants, interactions, self_edits, evaluations; RLS on PostgreSQL.

Revision ID: 0001_memory
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_memory"
down_revision = None
branch_labels = None
depends_on = None

TENANT_TABLES = ("interactions", "self_edits", "evaluations")


def _schema() -> str | None:
    return "aion_memory" if op.get_bind().dialect.name == "postgresql" else None


def upgrade() -> None:
    schema = _schema()
    json_type = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "tenants",
        sa.Column("tenant_id", sa.String(128), primary_key=True),
        sa.Column("retention_days", sa.Integer, nullable=True),
        sa.Column("adaptation_opt_out", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("config", json_type, nullable=False, server_default=sa.text("'{}'")),
        sa.Column("created_at", ts, nullable=False),
        schema=schema,
    )
    op.create_table(
        "interactions",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("agent_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=True),
        sa.Column("input_text", sa.Text, nullable=False),
        sa.Column("output_text", sa.Text, nullable=False),
        sa.Column("model_version", sa.String(256), nullable=True),
        sa.Column("channel", sa.String(64), nullable=True),
        sa.Column("timestamp", ts, nullable=False),
        sa.Column("metadata", json_type, nullable=False),
        schema=schema,
    )
    op.create_index("ix_interactions_tenant_ts", "interactions", ["tenant_id", "timestamp"], schema=schema)
    op.create_index(
        "ix_interactions_agent", "interactions", ["tenant_id", "agent_id", "timestamp"], schema=schema
    )
    op.create_index("ix_interactions_ts", "interactions", ["timestamp"], schema=schema)
    fk_target = f"{schema}.interactions.id" if schema else "interactions.id"
    op.create_table(
        "self_edits",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column(
            "interaction_id",
            sa.Uuid,
            sa.ForeignKey(fk_target, ondelete="CASCADE", name="fk_self_edits_interaction"),
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
        sa.Column("reviewed_at", ts, nullable=True),
        sa.Column("timestamp", ts, nullable=False),
        sa.Column("metadata", json_type, nullable=False),
        sa.CheckConstraint("editor_type IN ('human', 'model', 'rule')", name="ck_self_edits_editor_type"),
        sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="ck_self_edits_status"),
        sa.CheckConstraint("reward_score >= 0 AND reward_score <= 1", name="ck_self_edits_reward"),
        schema=schema,
    )
    op.create_index(
        "ix_self_edits_tenant_status_ts", "self_edits", ["tenant_id", "status", "timestamp"], schema=schema
    )
    op.create_index("ix_self_edits_agent", "self_edits", ["tenant_id", "agent_id", "timestamp"], schema=schema)
    op.create_index("ix_self_edits_interaction", "self_edits", ["interaction_id"], schema=schema)
    op.create_index(
        "ix_self_edits_reviewed", "self_edits", ["tenant_id", "status", "reviewed_at"], schema=schema
    )
    op.create_table(
        "evaluations",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(256), nullable=False),
        sa.Column("dataset_id", sa.String(512), nullable=False),
        sa.Column("metric_name", sa.String(128), nullable=False),
        sa.Column("metric_value", sa.Float, nullable=False),
        sa.Column("run_id", sa.String(128), nullable=True),
        sa.Column("timestamp", ts, nullable=False),
        sa.Column("metadata", json_type, nullable=False),
        schema=schema,
    )
    op.create_index(
        "ix_evaluations_tenant_model", "evaluations", ["tenant_id", "model_version", "timestamp"], schema=schema
    )
    op.create_index("ix_evaluations_run", "evaluations", ["run_id"], schema=schema)

    if schema:
        for table in TENANT_TABLES:
            # FORCE applies the policy to the table owner too; only superusers and
            # BYPASSRLS roles escape it, and the application role is neither.
            op.execute(f"ALTER TABLE {schema}.{table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {schema}.{table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {schema}.{table} "
                "USING (tenant_id = current_setting('aion.tenant_id', true)) "
                "WITH CHECK (tenant_id = current_setting('aion.tenant_id', true))"
            )


def downgrade() -> None:
    schema = _schema()
    for table in ("evaluations", "self_edits", "interactions", "tenants"):
        op.drop_table(table, schema=schema)

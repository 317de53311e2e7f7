"""Model registry: models, metrics, routes, deployments, append-only audit_log; RLS on PostgreSQL.

A version's identity columns cannot be updated (a trigger on both backends): a name always
means the same weights. The audit log is append-only on both backends: a trigger refuses UPDATE and DELETE (and
TRUNCATE on PostgreSQL) for every role, the owner included; ``provision_app_role`` also
revokes those privileges from the application role, so it fails even before the trigger.

Revision ID: 0002_registry
Revises: 0001_memory
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_registry"
down_revision = "0001_memory"
branch_labels = None
depends_on = None

TENANT_TABLES = ("models", "metrics", "routes", "deployments", "audit_log")
#: What makes a version what it is; only its status columns may change after registration.
IDENTITY_COLUMNS = (
    "id", "tenant_id", "name", "parent_id", "adapter_uri", "created_at", "created_by", "base_model", "domain",
    "dataset_version", "evaluation_run_id", "source_edit_count", "manifest_sha256",
)
STATUS_CHECK = "status IN ('candidate', 'pending_approval', 'promoted', 'retired', 'rejected')"


def _schema() -> str | None:
    return "aion_registry" if op.get_bind().dialect.name == "postgresql" else None


def upgrade() -> None:
    schema = _schema()
    json_type = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    ts = sa.DateTime(timezone=True)
    models_id = f"{schema}.models.id" if schema else "models.id"
    op.create_table(
        "models",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("parent_id", sa.Uuid, sa.ForeignKey(models_id, name="fk_models_parent"), nullable=True),
        sa.Column("adapter_uri", sa.Text, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("base_model", sa.String(128), nullable=False),
        sa.Column("domain", sa.String(128), nullable=False),
        sa.Column("dataset_version", sa.String(256), nullable=True),
        sa.Column("evaluation_run_id", sa.String(256), nullable=True),
        sa.Column("source_edit_count", sa.Integer, nullable=True),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("status_changed_at", ts, nullable=False),
        sa.Column("status_changed_by", sa.String(256), nullable=False),
        sa.Column("status_reason", sa.Text, nullable=True),
        sa.UniqueConstraint("tenant_id", "manifest_sha256", name="uq_models_tenant_manifest"),
        sa.UniqueConstraint("tenant_id", "name", name="uq_models_tenant_name"),
        sa.CheckConstraint(STATUS_CHECK, name="ck_models_status"),
        schema=schema,
    )
    op.create_index(
        "ix_models_tenant_domain_status", "models", ["tenant_id", "domain", "status"], schema=schema
    )
    op.create_table(
        "metrics",
        sa.Column(
            "model_id",
            sa.Uuid,
            sa.ForeignKey(models_id, ondelete="CASCADE", name="fk_metrics_model"),
            primary_key=True,
        ),
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("ci_low", sa.Float, nullable=True),
        sa.Column("ci_high", sa.Float, nullable=True),
        schema=schema,
    )
    op.create_table(
        "routes",
        sa.Column("tenant_id", sa.String(128), primary_key=True),
        sa.Column("agent_id", sa.String(128), primary_key=True),
        sa.Column("default_model_id", sa.Uuid, sa.ForeignKey(models_id, name="fk_routes_default"), nullable=False),
        sa.Column(
            "fallback_model_id", sa.Uuid, sa.ForeignKey(models_id, name="fk_routes_fallback"), nullable=True
        ),
        sa.Column("policy_json", json_type, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        sa.Column("updated_by", sa.String(256), nullable=False),
        sa.CheckConstraint("version >= 1", name="ck_routes_version"),
        schema=schema,
    )
    op.create_table(
        "deployments",
        sa.Column(
            "model_id",
            sa.Uuid,
            sa.ForeignKey(models_id, ondelete="CASCADE", name="fk_deployments_model"),
            primary_key=True,
        ),
        sa.Column("environment", sa.String(64), primary_key=True),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("replica_count", sa.Integer, nullable=False),
        sa.Column("autoscale_policy", json_type, nullable=False),
        sa.Column("config_json", json_type, nullable=False),
        schema=schema,
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(512), nullable=False),
        sa.Column("before_json", json_type, nullable=True),
        sa.Column("after_json", json_type, nullable=True),
        sa.Column("at", ts, nullable=False),
        schema=schema,
    )
    op.create_index("ix_audit_log_tenant_at", "audit_log", ["tenant_id", "at"], schema=schema)

    if schema:
        for table in TENANT_TABLES:
            # FORCE applies the policy to the table owner too (see 0001_memory).
            op.execute(f"ALTER TABLE {schema}.{table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {schema}.{table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {schema}.{table} "
                "USING (tenant_id = current_setting('aion.tenant_id', true)) "
                "WITH CHECK (tenant_id = current_setting('aion.tenant_id', true))"
            )
        op.execute(
            f"CREATE FUNCTION {schema}.refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'aion_registry.audit_log is append-only: % is not allowed', TG_OP "
            "USING ERRCODE = 'insufficient_privilege'; END $$"
        )
        op.execute(
            f"CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON {schema}.audit_log "
            f"FOR EACH ROW EXECUTE FUNCTION {schema}.refuse_audit_change()"
        )
        op.execute(
            f"CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON {schema}.audit_log "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {schema}.refuse_audit_change()"
        )
        op.execute(
            f"CREATE FUNCTION {schema}.refuse_version_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'aion_registry.models: a registered version is immutable (only its status "
            "may change)' USING ERRCODE = 'insufficient_privilege'; END $$"
        )
        op.execute(
            f"CREATE TRIGGER models_immutable BEFORE UPDATE OF {', '.join(IDENTITY_COLUMNS)} ON {schema}.models "
            f"FOR EACH ROW WHEN (({', '.join('OLD.' + c for c in IDENTITY_COLUMNS)}) IS DISTINCT FROM "
            f"({', '.join('NEW.' + c for c in IDENTITY_COLUMNS)})) EXECUTE FUNCTION {schema}.refuse_version_change()"
        )
    else:
        op.execute(
            f"CREATE TRIGGER models_immutable BEFORE UPDATE OF {', '.join(IDENTITY_COLUMNS)} ON models "
            "BEGIN SELECT RAISE(ABORT, 'models: a registered version is immutable (only its status may change)'); "
            "END"
        )
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: {verb} is not allowed'); END"
            )


def downgrade() -> None:
    schema = _schema()
    for table in ("audit_log", "deployments", "routes", "metrics", "models"):
        op.drop_table(table, schema=schema)
    if schema:
        op.execute(f"DROP FUNCTION IF EXISTS {schema}.refuse_audit_change()")
        op.execute(f"DROP FUNCTION IF EXISTS {schema}.refuse_version_change()")

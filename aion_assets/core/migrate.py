"""Schema migrations (Alembic) and, on PostgreSQL, the application role and its grants.

``aion db upgrade`` runs :func:`upgrade` as the schema owner (AION_DATABASE_ADMIN_URL); the
API and every other long-running part connect as the application role (AION_DATABASE_URL),
which owns nothing, has no BYPASSRLS, and so stays under row-level security.
"""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from psycopg import sql
from sqlalchemy.engine import Engine

from aion_assets.core.db import SCHEMAS, is_postgres, make_engine, normalize_url, translate_errors
from aion_assets.core.errors import ConfigError, SchemaNotCurrentError

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # Alembic's config goes through ConfigParser interpolation: escape '%' in passwords.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """The newest migration revision shipped with the code."""
    head = ScriptDirectory.from_config(_alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    with translate_errors(), engine.connect() as conn:
        opts = {"version_table_schema": "aion_memory"} if conn.dialect.name == "postgresql" else {}
        return MigrationContext.configure(conn, opts=opts).get_current_revision()


def check_current(engine: Engine) -> None:
    """Raise SchemaNotCurrentError unless the database is at the code's head revision."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaNotCurrentError(
            f"database {engine.url.render_as_string(hide_password=True)} is at revision "
            f"{current or 'none (never migrated)'}, the code needs {head}: run `aion db upgrade`"
        )


def upgrade(admin_url: str, app_url: str | None = None) -> str:
    """Migrate the database to head as the owner, then provision the application role.

    Args:
        admin_url: URL of the schema owner (runs the DDL).
        app_url: URL the application connects with; on PostgreSQL its user is created
            (LOGIN, NOSUPERUSER, NOBYPASSRLS) when missing and granted table access.

    Returns:
        The revision the database is now at.
    """
    command.upgrade(_alembic_config(normalize_url(admin_url)), "head")
    if app_url and is_postgres(admin_url):
        provision_app_role(admin_url, app_url)
    return head_revision()


def provision_app_role(admin_url: str, app_url: str) -> None:
    """Create (if missing) and grant the role named in APP_URL on the AION schemas."""
    app = sa.engine.make_url(normalize_url(app_url))
    admin = sa.engine.make_url(normalize_url(admin_url))
    if not app.username:
        raise ConfigError("AION_DATABASE_URL names no user: give postgresql://ROLE[:PASSWORD]@host/db")
    engine = make_engine(admin_url, pool_size=1)
    try:
        with translate_errors(), engine.begin() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            cur = raw.cursor()
            role = sql.Identifier(app.username)
            if app.username != admin.username:
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (app.username,))
                if cur.fetchone() is None:
                    stmt = sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE").format(
                        role
                    )
                    if app.password:
                        stmt = stmt + sql.SQL(" PASSWORD {}").format(sql.Literal(app.password))
                    cur.execute(stmt)
                    log.info("created application role %s", app.username)
            for schema in SCHEMAS:
                s = sql.Identifier(schema)
                cur.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(s, role))
                cur.execute(
                    sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {} TO {}").format(
                        s, role
                    )
                )
                cur.execute(
                    sql.SQL(
                        "ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}"
                    ).format(s, role)
                )
            # The application never rewrites migration history.
            cur.execute(sql.SQL("REVOKE ALL ON aion_memory.alembic_version FROM {}").format(role))
            cur.execute(sql.SQL("GRANT SELECT ON aion_memory.alembic_version TO {}").format(role))
    finally:
        engine.dispose()


def warn_if_rls_bypassed(engine: Engine) -> str | None:
    """Return a warning when the engine's role escapes row-level security (superuser/BYPASSRLS)."""
    if engine.dialect.name != "postgresql":
        return None
    with translate_errors(), engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
        ).scalar()
    if row:
        return (
            "the application connects as a role that bypasses row-level security; tenant isolation "
            "rests on the application alone. Give AION_DATABASE_URL a separate role (see docs/operations.md)."
        )
    return None

"""Schema migrations (Alembic) and, on PostgreSQL, the application role and its grants.

``aion db upgrade`` runs :func:`upgrade` as the schema owner (AION_DATABASE_ADMIN_URL); the
API and every other long-running part connect as the application role (AION_DATABASE_URL),
which owns nothing, has no BYPASSRLS, and so stays under row-level security. The API refuses
to start as a role that escapes row-level security (:func:`check_app_role`) unless the
operator allows it explicitly (AION_ALLOW_RLS_BYPASS=true).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import psycopg
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
#: Session defaults given to the application role in its database (when it has none of its own):
#: a runaway query or a client that leaves a transaction open cannot hold locks, a snapshot
#: or a connection for long. Operators may change them with ALTER ROLE ... IN DATABASE ... SET;
#: `aion db upgrade` keeps a value that is already set.
APP_ROLE_SETTINGS = {"statement_timeout": "60s", "idle_in_transaction_session_timeout": "5min"}


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
    if is_postgres(admin_url):
        app_user = sa.engine.make_url(normalize_url(app_url)).username if app_url else None
        admin_user = sa.engine.make_url(normalize_url(admin_url)).username
        if app_url and app_user != admin_user:
            provision_app_role(admin_url, app_url)
        else:
            log.warning(
                "AION_DATABASE_URL connects as the schema owner %s: the API refuses to start as a role that "
                "can switch off row-level security. Set AION_DATABASE_ADMIN_URL to this owner URL and "
                "AION_DATABASE_URL to a separate role (e.g. postgresql://aion_app:PASSWORD@host/db), then run "
                "`aion db upgrade` again: it creates that role and grants it the tables (docs/operations.md).",
                admin_user,
            )
    return head_revision()


def provision_app_role(admin_url: str, app_url: str) -> None:
    """Create (if missing) and grant the role named in APP_URL on the AION schemas.

    The role also gets :data:`APP_ROLE_SETTINGS` in this database unless it already has
    its own values (a warning, not a failure, when the owner may not alter the role).
    """
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
            # The registry's audit log is append-only (a trigger refuses changes for everyone, too).
            cur.execute(sql.SQL("REVOKE UPDATE, DELETE, TRUNCATE ON aion_registry.audit_log FROM {}").format(role))
            # Tenant settings change only through the owner (`aion tenant`): the application role reads
            # its own row (RLS) and inserts it once (ON CONFLICT DO NOTHING); it lists tenant ids
            # through the SECURITY DEFINER function of migration 0003, never the rows of others.
            cur.execute(sql.SQL("REVOKE UPDATE, DELETE, TRUNCATE ON aion_memory.tenants FROM {}").format(role))
            cur.execute(sql.SQL("GRANT EXECUTE ON FUNCTION aion_memory.tenant_ids() TO {}").format(role))
            _set_role_defaults(raw, app.username)
    finally:
        engine.dispose()


def _set_role_defaults(raw: Any, username: str) -> None:
    """Give USERNAME the APP_ROLE_SETTINGS it does not already have in the current database."""
    cur = raw.cursor()
    cur.execute(
        "SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
        "JOIN pg_database d ON d.oid = s.setdatabase WHERE r.rolname = %s AND d.datname = current_database()",
        (username,),
    )
    row = cur.fetchone()
    present = {item.split("=", 1)[0] for item in (row[0] if row and row[0] else [])}
    for name, value in APP_ROLE_SETTINGS.items():
        if name in present:
            continue
        stmt = sql.SQL("ALTER ROLE {} IN DATABASE {} SET {} = {}").format(
            sql.Identifier(username), sql.Identifier(raw.info.dbname), sql.Identifier(name), sql.Literal(value)
        )
        try:
            with raw.transaction():  # a savepoint: a refusal must not undo the grants above
                cur.execute(stmt)
        except psycopg.errors.InsufficientPrivilege:
            log.warning(
                "could not set %s on role %s (the schema owner may not alter it): as a superuser run "
                "ALTER ROLE %s IN DATABASE %s SET %s = '%s'",
                name, username, username, raw.info.dbname, name, value,
            )


def check_app_role(engine: Engine, *, allow_bypass: bool = False) -> str | None:
    """Refuse an application role that escapes row-level security (PostgreSQL; SQLite has no roles).

    A superuser or BYPASSRLS role ignores the policies; a role that owns (or is a member of the
    owner of) an AION table or schema can switch them off with ALTER TABLE. Either way tenant
    isolation would rest on the application alone.

    Args:
        allow_bypass: the operator accepts such a role (AION_ALLOW_RLS_BYPASS=true); the
            problem is then returned as a warning instead of raised.

    Returns:
        None when the role is sound (or on SQLite), else the warning to log (only with ALLOW_BYPASS).

    Raises:
        ConfigError: the role escapes row-level security and ALLOW_BYPASS is false.
    """
    if engine.dialect.name != "postgresql":
        return None
    with translate_errors(), engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT current_user AS role, r.rolsuper AS superuser, r.rolbypassrls AS bypassrls, "
                "EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "        WHERE n.nspname = ANY(:schemas) AND pg_has_role(current_user, c.relowner, 'USAGE')) "
                "OR EXISTS (SELECT 1 FROM pg_namespace n "
                "        WHERE n.nspname = ANY(:schemas) AND pg_has_role(current_user, n.nspowner, 'USAGE')) AS owner "
                "FROM pg_roles r WHERE r.rolname = current_user"
            ),
            {"schemas": list(SCHEMAS)},
        ).one()
    reasons = [
        text
        for flag, text in (
            (row.superuser, "is a superuser"),
            (row.bypassrls, "has BYPASSRLS"),
            (row.owner, "owns the AION tables (it can switch row-level security off)"),
        )
        if flag
    ]
    if not reasons:
        return None
    message = (
        f"AION_DATABASE_URL connects as role {row.role!r}, which {' and '.join(reasons)}: tenant isolation would "
        "rest on the application alone. Connect as a separate application role: set AION_DATABASE_ADMIN_URL to "
        "the owner's URL and AION_DATABASE_URL to postgresql://aion_app:PASSWORD@host/db, and run "
        "`aion db upgrade` (it creates the role and its grants; see docs/operations.md). To run as this role "
        "anyway, set AION_ALLOW_RLS_BYPASS=true."
    )
    if allow_bypass:
        return message
    raise ConfigError(message)

"""Database engines, tenant-scoped transactions and driver-error translation.

PostgreSQL URLs are always driven by psycopg 3 (``postgresql://`` is rewritten to
``postgresql+psycopg://``). Tables are declared in the schemas ``aion_memory`` and
``aion_registry``; on SQLite those schemas are translated away so the same table objects
work on both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from aion_assets.core.errors import StoreUnavailableError

SCHEMAS = ("aion_memory", "aion_registry")
TENANT_GUC = "aion.tenant_id"


def normalize_url(url: str) -> str:
    """Return URL with the psycopg 3 driver selected for PostgreSQL."""
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def is_postgres(engine_or_url: Engine | str) -> bool:
    """Whether the engine (or URL) points at PostgreSQL."""
    url = engine_or_url if isinstance(engine_or_url, str) else str(engine_or_url.url)
    return url.startswith(("postgresql", "postgres"))


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """Create an engine for URL; SQLite gets WAL and enforced foreign keys.

    Args:
        url: ``sqlite:///path`` or ``postgresql://user@host/db``.
        pool_size: connections kept per process (PostgreSQL only).
    """
    url = normalize_url(url)
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            execution_options={"schema_translate_map": {name: None for name in SCHEMAS}},
            connect_args={"timeout": 30, "check_same_thread": False},
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # Take transaction control from pysqlite so that the "begin" hook below decides.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # type: ignore[no-untyped-def]
            # An IMMEDIATE begin makes concurrent writers queue on the busy timeout instead
            # of failing later when a deferred read transaction tries to upgrade to a write.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_timeout=10,
        connect_args={"connect_timeout": 5},
    )


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """Turn driver connection failures into StoreUnavailableError (retryable)."""
    try:
        yield
    except sa.exc.DBAPIError as exc:
        if exc.connection_invalidated or isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
            raise StoreUnavailableError(f"database unavailable: {exc.orig!s}".strip()) from exc
        raise
    except sa.exc.TimeoutError as exc:
        raise StoreUnavailableError("database unavailable: connection pool timed out") from exc


@contextlib.contextmanager
def tenant_transaction(engine: Engine, tenant_id: str | None) -> Iterator[Connection]:
    """Open a transaction scoped to TENANT_ID.

    On PostgreSQL the tenant is set with ``set_config(..., true)`` (transaction-local), so
    row-level security sees it and a pooled connection never carries it into the next
    request. ``None`` means no tenant: under RLS such a transaction sees no tenant rows.
    """
    with translate_errors(), engine.begin() as conn:
        if tenant_id is not None and conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT set_config(:k, :v, true)"), {"k": TENANT_GUC, "v": tenant_id})
        yield conn

"""Database engines, tenant-scoped transactions and driver-error translation.

PostgreSQL URLs are always driven by psycopg 3 (``postgresql://`` is rewritten to
``postgresql+psycopg://``). Tables are declared in the schemas ``aion_memory`` and
``aion_registry``; on SQLite those schemas are translated away so the same table objects
work on both.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from aion_assets.core.errors import StoreUnavailableError

log = logging.getLogger(__name__)
SCHEMAS = ("aion_memory", "aion_registry")
TENANT_GUC = "aion.tenant_id"
#: Connection execution option: the transaction only reads (SQLite then begins DEFERRED).
READ_ONLY = "aion_read_only"
#: How long a SQLite writer waits for the write lock before the request fails with 503.
SQLITE_BUSY_TIMEOUT_S = 30
#: A pooled PostgreSQL connection idle this long is pinged before use (see ``_ping_idle_connections``).
PING_AFTER_IDLE_S = 2.0
_LAST_USED = "aion_last_used"
_SET_TENANT = "SELECT set_config(%s, %s, true)"


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


def make_engine(
    url: str, *, pool_size: int = 10, max_overflow: int | None = None, pool_timeout: float = 10.0
) -> Engine:
    """Create an engine for URL; SQLite gets WAL, a busy timeout and enforced foreign keys.

    On SQLite, write transactions begin IMMEDIATE (writers queue on the busy timeout) and
    read-only ones (``tenant_transaction(..., read_only=True)``) begin DEFERRED: in WAL mode a
    reader then takes no lock a writer waits for, however long it stays open.

    Args:
        url: ``sqlite:///path`` or ``postgresql://user@host/db``.
        pool_size: connections kept per process (PostgreSQL only).
        max_overflow: extra connections opened under load (PostgreSQL only; default POOL_SIZE).
        pool_timeout: seconds a request waits for a pooled connection before 503 (PostgreSQL only).
    """
    url = normalize_url(url)
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:" and not path.startswith("file:"):
            from aion_assets.core.files import create_private_file

            # Created 0600 (in a 0700 folder when missing) before SQLite opens it: SQLite gives
            # the -wal and -shm files the database file's mode, so they are private too.
            create_private_file(path)
        engine = sa.create_engine(
            url,
            execution_options={"schema_translate_map": {name: None for name in SCHEMAS}},
            # Bound values are interaction text (PII): never let them into exception messages and logs.
            hide_parameters=True,
            # pysqlite's timeout is SQLite's busy_timeout: a writer waits this long for the lock.
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
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
            if conn.get_execution_options().get(READ_ONLY):
                # DEFERRED: a WAL reader sees a snapshot and never blocks a writer (nor waits for one).
                conn.exec_driver_sql("BEGIN")
            else:
                # IMMEDIATE makes concurrent writers queue on the busy timeout instead of failing
                # later when a deferred transaction that has read tries to upgrade to a write.
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    engine = sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size if max_overflow is None else max_overflow,
        pool_timeout=pool_timeout,
        connect_args={"connect_timeout": 5},
        hide_parameters=True,
    )
    _ping_idle_connections(engine)
    return engine


def _ping_idle_connections(engine: Engine) -> None:
    """Ping a pooled connection at checkout only when it sat idle for PING_AFTER_IDLE_S or more.

    SQLAlchemy's ``pool_pre_ping`` costs a round trip on every checkout (one of the five a
    single-row insert made with it). A connection used a moment ago is alive; one that sat idle
    may have been cut (a database restart, a proxy's idle timeout) and is replaced before a
    request sees it. A connection broken within the window fails its one request with 503 (the
    client retries) and is replaced.
    """

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _mark_used(_dbapi_conn, record):  # type: ignore[no-untyped-def]
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn, record, _proxy):  # type: ignore[no-untyped-def]
        if time.monotonic() - record.info.get(_LAST_USED, 0.0) < PING_AFTER_IDLE_S:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            if not engine.dialect.is_disconnect(exc, dbapi_conn, None):
                raise
            alive = False
        if not alive:
            # The pool retries the checkout with a new connection.
            raise sa.exc.DisconnectionError("pooled connection is closed")


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """Turn driver connection failures into StoreUnavailableError (retryable).

    The error's message is fixed ("database unavailable"): it reaches HTTP clients as a 503
    body, while the driver's message names host, port, role or file path. The detail is logged.
    """
    try:
        yield
    except sa.exc.DBAPIError as exc:
        if exc.connection_invalidated or isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
            log.warning("database unavailable: %s", str(exc.orig).strip())
            raise StoreUnavailableError("database unavailable") from exc
        raise
    except sa.exc.TimeoutError as exc:
        raise StoreUnavailableError("database unavailable: connection pool timed out") from exc


@contextlib.contextmanager
def tenant_transaction(engine: Engine, tenant_id: str | None, *, read_only: bool = False) -> Iterator[Connection]:
    """Open a transaction scoped to TENANT_ID.

    On PostgreSQL the tenant is set with ``set_config(..., true)`` (transaction-local), so
    row-level security sees it and a pooled connection never carries it into the next
    request. ``None`` means no tenant: under RLS such a transaction sees no tenant rows.

    Keep transactions short: never yield rows to a caller (a client, a scrubber) from inside
    one; read a page, leave the block, then hand the page out.

    Args:
        read_only: the transaction only reads. SQLite begins it DEFERRED (no lock a writer
            waits for); PostgreSQL begins it ``READ ONLY`` (a write in it is an error).
    """
    with translate_errors(), engine.connect() as conn:
        if read_only:
            # Options of this Connection object only: the pooled DBAPI connection is reset on return.
            conn.execution_options(**{READ_ONLY: True})
            if conn.dialect.name == "postgresql":
                conn.execution_options(postgresql_readonly=True)
        with conn.begin():
            if tenant_id is not None and conn.dialect.name == "postgresql":
                _set_tenant(conn, tenant_id)
            yield conn


@contextlib.contextmanager
def tenant_pipeline(engine: Engine, tenant_id: str, *, read_only: bool = False) -> Iterator[Any]:
    """One PostgreSQL transaction of TENANT_ID sent as a single pipeline: one round trip in all.

    Yields the psycopg connection in pipeline mode. ``BEGIN``, the tenant's ``set_config``, the
    statements the block queues and ``COMMIT`` go out together and are answered together when
    the block ends: read the cursors' results after it. (``tenant_transaction`` costs four round
    trips for one statement: psycopg waits for its own BEGIN, then the tenant, the statement and
    COMMIT each wait for an answer.) The block cannot look at a result before COMMIT is sent, so
    use it only for work that may be committed whatever the results are, such as one
    ``INSERT ... ON CONFLICT DO NOTHING`` or reads; if anything fails, nothing is committed.

    Args:
        read_only: begin ``READ ONLY`` (a write in the block is an error): a read such as
            ``GET /routes/{agent_id}`` then costs one round trip instead of four.

    Raises:
        StoreUnavailableError: the database cannot be reached (retryable).
        sqlalchemy.exc.DBAPIError: a statement failed (wrapped as SQLAlchemy wraps its own, so
            callers and the HTTP error handlers treat it alike).
    """
    with translate_errors(), engine.connect() as conn:
        # In autocommit mode psycopg sends no BEGIN of its own: the pipeline carries BEGIN and COMMIT.
        # SQLAlchemy restores the isolation level when the connection goes back to the pool.
        conn.execution_options(isolation_level="AUTOCOMMIT")
        raw = conn.connection.driver_connection
        if raw is None:  # a pooled connection always has one while checked out
            raise StoreUnavailableError("database connection was closed")
        dbapi = conn.dialect.loaded_dbapi
        # On any failure COMMIT is either not queued or skipped (a pipeline stops at its first
        # error); the pool's reset-on-return rolls back what is left open, then SQLAlchemy
        # switches autocommit off again (tests/memory/test_ingest_fast_path.py).
        try:
            with raw.pipeline():
                raw.execute("BEGIN READ ONLY" if read_only else "BEGIN")
                raw.execute(_SET_TENANT, (TENANT_GUC, tenant_id), prepare=True)
                yield raw
                raw.execute("COMMIT")
        except dbapi.Error as exc:
            raise _wrapped(conn, raw, exc, "(a pipelined transaction)") from exc


def _wrapped(conn: Connection, raw: Any, exc: Any, statement: str) -> sa.exc.StatementError:
    """EXC (a psycopg error on RAW) as the DBAPIError SQLAlchemy would raise; invalidates CONN on a disconnect."""
    disconnect = conn.dialect.is_disconnect(exc, raw, None)
    if disconnect and not conn.invalidated:
        conn.invalidate(exc)
    return sa.exc.DBAPIError.instance(
        statement, None, exc, conn.dialect.loaded_dbapi.Error, hide_parameters=True,
        connection_invalidated=disconnect,
    )


def _set_tenant(conn: Connection, tenant_id: str) -> None:
    """Set TENANT_GUC for the transaction psycopg begins implicitly.

    A driver error is wrapped as SQLAlchemy wraps its own, so ``translate_errors`` sees it alike.
    (psycopg waits for its own BEGIN before it sends the ``set_config``: with the statements that
    follow and COMMIT, a transaction of one statement makes four round trips; ``tenant_pipeline``
    makes one.)
    """
    raw = conn.connection.driver_connection
    if raw is None:  # a pooled connection always has one while checked out
        raise StoreUnavailableError("database connection was closed")
    dbapi = conn.dialect.loaded_dbapi
    try:
        with raw.pipeline():
            raw.execute(_SET_TENANT, (TENANT_GUC, tenant_id), prepare=True)
    except dbapi.Error as exc:
        raise _wrapped(conn, raw, exc, _SET_TENANT) from exc

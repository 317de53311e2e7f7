"""Protects: on PostgreSQL the API runs only as a role that stays under row-level security, and
that role carries server-side timeouts (findings 13 "RLS fails open" and 16).

- ``create_app`` (its startup) and ``aion api`` refuse, with a ConfigError that says what to do,
  a role that is a superuser, has BYPASSRLS, or owns the tables; AION_ALLOW_RLS_BYPASS=true
  (``allow_rls_bypass``) lets such a role start, with a warning.
- ``aion db upgrade`` with two URLs creates the application role, which passes the check and
  gets ``statement_timeout`` and ``idle_in_transaction_session_timeout``; an operator's own
  value survives a later upgrade; with one URL (the owner) it warns that the API will refuse.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from psycopg import sql

from aion_assets.app import create_app
from aion_assets.core.auth import TokenVerifier
from aion_assets.core.db import make_engine
from aion_assets.core.errors import ConfigError
from aion_assets.core.migrate import APP_ROLE_SETTINGS, check_app_role, provision_app_role, upgrade
from tests.conftest import PG_HOST, PG_PORT, PG_SUPERUSER, Database

pytestmark = pytest.mark.postgres
SECRET = "app-role-secret-" + "r" * 24


def _url(user: str, dbname: str) -> str:
    return f"postgresql://{user}@{PG_HOST}:{PG_PORT}/{dbname}"


def _dbname(db: Database) -> str:
    return sa.engine.make_url(db.url).database  # type: ignore[return-value]


@pytest.fixture
def superuser() -> Iterator[psycopg.Connection]:
    with psycopg.connect(_url(PG_SUPERUSER, "postgres"), autocommit=True) as conn:
        yield conn


@pytest.fixture
def bypassrls_url(pg_database: Database, superuser: psycopg.Connection) -> Iterator[str]:
    """A login role with BYPASSRLS and the app's grants (only a superuser can create one)."""
    role = f"aion_bypass_{uuid.uuid4().hex[:8]}"
    superuser.execute(sql.SQL("CREATE ROLE {} LOGIN BYPASSRLS").format(sql.Identifier(role)))
    url = _url(role, _dbname(pg_database))
    try:
        provision_app_role(pg_database.admin_url, url)  # the role exists: this only grants
        yield url
    finally:
        with psycopg.connect(_url(PG_SUPERUSER, _dbname(pg_database)), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        superuser.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def _start(url: str, **kwargs: bool) -> None:
    """Run the app's startup (and one health check) over URL; raises what the startup raises."""
    engine = make_engine(url, pool_size=1)
    try:
        with TestClient(create_app(engine, TokenVerifier(SECRET), **kwargs)) as client:
            assert client.get("/healthz").status_code == 200
    finally:
        engine.dispose()


def test_the_app_role_starts(pg_database: Database) -> None:
    assert check_app_role(make_engine(pg_database.url, pool_size=1)) is None
    _start(pg_database.url)


@pytest.mark.parametrize("who", ["owner", "superuser", "bypassrls"])
def test_a_role_that_escapes_rls_is_refused_unless_allowed(
    who: str, pg_database: Database, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    url = {
        "owner": lambda: pg_database.admin_url,
        "superuser": lambda: _url(PG_SUPERUSER, _dbname(pg_database)),
        "bypassrls": lambda: request.getfixturevalue("bypassrls_url"),
    }[who]()
    reason = {"owner": "owns the AION tables", "superuser": "is a superuser", "bypassrls": "has BYPASSRLS"}[who]
    with pytest.raises(ConfigError, match=reason) as refused:
        _start(url)
    message = str(refused.value)
    assert "AION_DATABASE_ADMIN_URL" in message and "aion db upgrade" in message
    assert "AION_ALLOW_RLS_BYPASS=true" in message
    with caplog.at_level(logging.WARNING):
        _start(url, allow_rls_bypass=True)
    assert reason in caplog.text


def _aion(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AION_")}
    environ |= {"AION_HOME": str(home), "AION_JWT_SECRET": SECRET} | env
    return subprocess.run(
        [sys.executable, "-m", "aion_assets.cli", *args], capture_output=True, text=True, env=environ, timeout=120
    )


def test_cli_upgrade_with_one_url_warns_and_api_refuses_the_owner(pg_database: Database, tmp_path: Path) -> None:
    upgraded = _aion("db", "upgrade", home=tmp_path, AION_DATABASE_URL=pg_database.admin_url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "schema owner" in upgraded.stderr and "AION_DATABASE_ADMIN_URL" in upgraded.stderr
    refused = _aion("api", "--port", "1", home=tmp_path, AION_DATABASE_URL=pg_database.admin_url)
    assert refused.returncode == 2
    assert "owns the AION tables" in refused.stderr and "AION_ALLOW_RLS_BYPASS" in refused.stderr


def test_cli_upgrade_provisions_a_role_with_timeouts_that_the_api_accepts(
    pg_database: Database, superuser: psycopg.Connection, tmp_path: Path
) -> None:
    role = f"aion_app2_{uuid.uuid4().hex[:8]}"
    app_url = _url(role, _dbname(pg_database))
    try:
        out = _aion(
            "db", "upgrade", home=tmp_path, AION_DATABASE_ADMIN_URL=pg_database.admin_url, AION_DATABASE_URL=app_url
        )
        assert out.returncode == 0, out.stderr
        assert "schema owner" not in out.stderr
        engine = make_engine(app_url, pool_size=1)
        assert check_app_role(engine) is None
        with engine.connect() as conn:
            shown = {name: conn.execute(sa.text(f"SHOW {name}")).scalar() for name in APP_ROLE_SETTINGS}
        engine.dispose()
        assert shown == {"statement_timeout": "1min", "idle_in_transaction_session_timeout": "5min"}
    finally:
        with psycopg.connect(_url(PG_SUPERUSER, _dbname(pg_database)), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        superuser.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_upgrade_keeps_an_operators_timeout(pg_database: Database, superuser: psycopg.Connection) -> None:
    role, dbname = sa.engine.make_url(pg_database.url).username, _dbname(pg_database)
    alter = sql.SQL("ALTER ROLE {} IN DATABASE {} SET statement_timeout = {}")
    superuser.execute(alter.format(sql.Identifier(role), sql.Identifier(dbname), sql.Literal("2min")))
    try:
        upgrade(pg_database.admin_url, pg_database.url)
        with psycopg.connect(pg_database.url) as conn:
            assert conn.execute("SHOW statement_timeout").fetchone() == ("2min",)
            assert conn.execute("SHOW idle_in_transaction_session_timeout").fetchone() == ("5min",)
    finally:
        default = sql.Literal(APP_ROLE_SETTINGS["statement_timeout"])
        superuser.execute(alter.format(sql.Identifier(role), sql.Identifier(dbname), default))

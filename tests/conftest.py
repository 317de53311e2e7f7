"""Shared fixtures: databases on both backends (SQLite file, the machine's PostgreSQL).

Each test session creates its own PostgreSQL database and application role on the server at
127.0.0.1:5432 and drops both at the end; tests inside a session isolate themselves by
using fresh tenant ids.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``make test`` runs two workers), the tests marked ``slow`` form one group.

    They train the real model, run Dagster's daemon or Celery workers, or start servers, and some
    wait on deadlines: run one at a time on one worker, beside the quick tests on the other, they
    never contend with each other for the machine's cores. A slow test marked ``shares_cores`` only
    computes (no deadline to miss, nothing trained): it runs on either worker like a quick one, so
    the slow group, the suite's longest path, does not wait for it.
    """
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        if item.get_closest_marker("slow") is not None and item.get_closest_marker("shares_cores") is None:
            item.add_marker(pytest.mark.xdist_group("slow"))


@pytest.fixture(autouse=True)
def _settings_read_per_test() -> Iterator[None]:
    """Every test reads the AION_* settings afresh: ``get_settings`` caches them per process, so a
    test that set an AION_* variable would otherwise see what an earlier test on the same xdist
    worker cached (``test_console_user_add`` wrote its users file into another test's home)."""
    from aion_assets.core.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


PG_HOST = os.environ.get("AION_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("AION_TEST_PG_PORT", "5432"))
PG_SUPERUSER = os.environ.get("AION_TEST_PG_USER", "postgres")


@dataclass(frozen=True)
class Database:
    """A migrated database: the app URL (under RLS on Postgres) and the owner's URL."""

    backend: str
    url: str
    admin_url: str


def _pg_url(user: str, dbname: str) -> str:
    return f"postgresql://{user}@{PG_HOST}:{PG_PORT}/{dbname}"


@pytest.fixture(scope="session")
def pg_database() -> Iterator[Database]:
    """A fresh, migrated PostgreSQL database plus a non-owner application role."""
    from aion_assets.core.migrate import upgrade

    suffix = uuid.uuid4().hex[:10]
    dbname, owner, app_role = f"aion_test_{suffix}", f"aion_owner_{suffix}", f"aion_app_{suffix}"
    try:
        admin = psycopg.connect(_pg_url(PG_SUPERUSER, "postgres"), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {PG_HOST}:{PG_PORT} is not reachable ({exc}); .ci/run starts it")
    with admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE").format(sql.Identifier(owner)))
        admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(dbname), sql.Identifier(owner)))
        db = Database("postgres", _pg_url(app_role, dbname), _pg_url(owner, dbname))
        try:
            upgrade(db.admin_url, db.url)
            yield db
        finally:
            admin.execute(
                sql.SQL("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = {}").format(
                    sql.Literal(dbname)
                )
            )
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(dbname)))
            for role in (app_role, owner):
                admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> Database:
    """A fresh, migrated SQLite database file."""
    from aion_assets.core.migrate import upgrade

    path: Path = tmp_path_factory.mktemp("sqlite") / "aion.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    return Database("sqlite", url, url)


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> Database:
    """The same test on both backends."""
    fixture = "sqlite_database" if request.param == "sqlite" else "pg_database"
    return request.getfixturevalue(fixture)  # type: ignore[no-any-return]


@pytest.fixture
def tenant() -> str:
    """A tenant id no other test uses."""
    return f"t-{uuid.uuid4().hex[:12]}"

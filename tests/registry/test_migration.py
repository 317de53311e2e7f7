"""Protects: migration 0002_registry goes up, down and up again cleanly on SQLite (the registry tables
appear and disappear, the memory schema is untouched)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command

from aion_assets.core.db import make_engine
from aion_assets.core.migrate import _alembic_config, current_revision, head_revision, upgrade

REGISTRY = {"models", "metrics", "routes", "deployments", "audit_log"}


def test_registry_migration_round_trip(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'aion.db'}"
    upgrade(url)
    engine = make_engine(url, pool_size=1)
    try:
        assert current_revision(engine) == head_revision()
        assert set(sa.inspect(engine).get_table_names()) >= REGISTRY
        command.downgrade(_alembic_config(url), "0001_memory")
        tables = set(sa.inspect(engine).get_table_names())
        assert not REGISTRY & tables and "interactions" in tables
        assert current_revision(engine) == "0001_memory"
        upgrade(url)
        assert set(sa.inspect(engine).get_table_names()) >= REGISTRY
    finally:
        engine.dispose()

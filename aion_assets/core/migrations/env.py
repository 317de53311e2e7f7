"""Alembic environment: one history for every AION schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import context

from aion_assets.core.db import SCHEMAS, make_engine

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url, "aion_assets.core.migrate sets sqlalchemy.url"
engine = make_engine(url, pool_size=1)
postgres = engine.dialect.name == "postgresql"

with engine.connect() as connection:
    if postgres:
        for schema in SCHEMAS:
            connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        connection.commit()
    context.configure(
        connection=connection,
        target_metadata=None,
        version_table="alembic_version",
        version_table_schema="aion_memory" if postgres else None,
        render_as_batch=not postgres,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()

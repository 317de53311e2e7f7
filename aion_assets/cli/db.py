"""`aion db`: migrate the schema and show its revision."""

from __future__ import annotations

import click


@click.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the code's revision (as AION_DATABASE_ADMIN_URL) and grant the app role."""
    from aion_assets.core.migrate import upgrade
    from aion_assets.core.settings import get_settings

    settings = get_settings()
    revision = upgrade(settings.db_admin_url, settings.db_url if settings.database_url else None)
    click.echo(f"database at revision {revision}")


@db.command("current")
def db_current() -> None:
    """Print the database's revision and the code's."""
    from aion_assets.core.db import make_engine
    from aion_assets.core.migrate import current_revision, head_revision
    from aion_assets.core.settings import get_settings

    engine = make_engine(get_settings().db_url, pool_size=1)
    click.echo(f"database: {current_revision(engine) or 'not migrated'}; code: {head_revision()}")

"""The `aion` command line."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from aion_assets.core.errors import AionError


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level.")
def main(verbose: bool) -> None:
    """AION SEAL: capture, curate, train, evaluate and route LLM agents' self-edits."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # One line per HTTP request or migration step would drown the demo's output.
    for noisy in ("httpx", "alembic"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)


@main.group()
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


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
@click.option("--log-level", default="warning", show_default=True, help="uvicorn log level.")
def api(host: str, port: int, workers: int, log_level: str) -> None:
    """Serve the memory API (OpenAPI docs at /docs)."""
    import uvicorn

    from aion_assets.core.db import make_engine
    from aion_assets.core.migrate import check_current
    from aion_assets.core.settings import get_settings

    settings = get_settings()
    # Refuse to start on an unmigrated database with a message, not a stack trace per request.
    check_current(make_engine(settings.db_url, pool_size=1))
    uvicorn.run(
        "aion_assets.core.asgi:create",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


@main.command()
@click.option("--tenant", required=True, help="Tenant the token is scoped to.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice(["writer", "reviewer", "admin"]),
    help="Role(s) granted; repeat for several.",
)
@click.option("--ttl", default=3600, show_default=True, type=click.IntRange(1), help="Seconds of validity.")
@click.option("--subject", default=None, help="The token's subject (reviewer name); default dev@TENANT.")
def token(tenant: str, roles: tuple[str, ...], ttl: int, subject: str | None) -> None:
    """Mint a development token and print it alone on stdout."""
    from pydantic import TypeAdapter, ValidationError

    from aion_assets.core.auth import mint_token
    from aion_assets.core.settings import get_settings
    from aion_assets.memory.models import Ident

    try:
        TypeAdapter(Ident).validate_python(tenant)
    except ValidationError as exc:
        raise click.BadParameter("tenant must be letters, digits and _.:@/- (max 128)", param_hint="--tenant") from exc
    secret = get_settings().jwt_signing_secret()
    click.echo(mint_token(secret, tenant_id=tenant, roles=list(roles), ttl_seconds=ttl, subject=subject))


@main.command("tenant")
@click.option("--tenant", required=True, help="Tenant id.")
@click.option("--retention-days", type=click.IntRange(min=1), default=None, help="Archive after N days.")
@click.option("--opt-out/--opt-in", "opt_out", default=None, help="Exclude the tenant from adaptation (or include).")
@click.option(
    "--config-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="YAML/JSON object with curation, agents and scrub sections; replaces the stored config.",
)
def tenant_cmd(tenant: str, retention_days: int | None, opt_out: bool | None, config_file: Path | None) -> None:
    """Show or change a tenant's settings (retention, opt-out, curation, agents' domains, scrubbing)."""
    import json

    import yaml

    from aion_assets.core.db import make_engine
    from aion_assets.core.errors import ConfigError
    from aion_assets.core.settings import get_settings
    from aion_assets.memory.store import MemoryStore
    from aion_assets.seal.curation import validate_tenant_config

    config = None
    if config_file is not None:
        try:
            raw = yaml.safe_load(config_file.read_text())
        except yaml.YAMLError as exc:
            raise ConfigError(f"{config_file}: not valid YAML/JSON: {exc}") from exc
        config = validate_tenant_config(tenant, raw if raw is not None else {})
    store = MemoryStore(make_engine(get_settings().db_url, pool_size=1))
    stored = store.configure_tenant(tenant, retention_days=retention_days, adaptation_opt_out=opt_out, config=config)
    click.echo(json.dumps(stored.model_dump(mode="json"), indent=2))


def _register_optional() -> None:
    """Add the command groups of the pipeline and the demo (imported lazily: they are heavy)."""
    from aion_assets import cli_demo, cli_seal

    main.add_command(cli_demo.demo)
    main.add_command(cli_seal.seal)
    try:
        from aion_assets import cli_pipeline
    except ImportError:
        return
    for command in cli_pipeline.COMMANDS:
        main.add_command(command)


def run() -> None:
    """Entry point with the project's errors turned into one-line messages and exit code 2."""
    _register_optional()
    try:
        main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except AionError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    run()

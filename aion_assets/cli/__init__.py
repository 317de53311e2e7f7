"""The `aion` command line: the group, error handling, and one module per command group."""

from __future__ import annotations

import logging
import sys
import warnings

import click

from aion_assets.core.errors import AionError


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level.")
def main(verbose: bool) -> None:
    """AION SEAL: capture, curate, train, evaluate and route LLM agents' self-edits."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # One line per HTTP request, migration step or loaded recognizer would drown the demo's output.
    for noisy in ("httpx", "alembic", "presidio-analyzer", "presidio-anonymizer"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    if not verbose:
        # Dagster marks APIs we use deliberately (partitioned asset checks) as preview/beta on every
        # load; the project pins Dagster's version, so the warnings tell an operator nothing. Matched by
        # message so that commands which never touch Dagster do not pay for importing it.
        warnings.filterwarnings("ignore", message=r".* is currently in (preview|beta)")


def _register() -> None:
    """Add every command group (modules import their heavy dependencies inside the commands)."""
    from aion_assets.cli import api, console, db, demo, pipeline, purge, registry, seal, tenant, token

    for command in (
        db.db, api.api, token.token, tenant.tenant_cmd, demo.demo, seal.seal, *pipeline.COMMANDS, *console.COMMANDS,
        registry.rollback, purge.purge,
    ):
        if command.name not in main.commands:
            main.add_command(command)


def run() -> None:
    """Entry point with the project's errors turned into one-line messages and exit code 2."""
    _register()
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


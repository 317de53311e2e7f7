"""`aion console-user`: manage the reviewer console's users (hashed passwords, tenants, roles)."""

from __future__ import annotations

import click

from aion_assets.core.auth import Role


@click.group("console-user")
def console_user() -> None:
    """Users of the reviewer console (the file is AION_CONSOLE_USERS, default AION_HOME/console_users.yaml)."""


@console_user.command("add")
@click.option("--username", required=True, help="Login name (letters, digits and _.@-); recorded as the reviewer.")
@click.option(
    "--tenant",
    "grants",
    multiple=True,
    required=True,
    metavar="TENANT:ROLE[,ROLE]",
    help=f"A tenant and the user's roles on it ({', '.join(Role.__members__)}); repeat for several tenants.",
)
@click.password_option(help="The password (prompted twice, hidden, when not given).")
def add(username: str, grants: tuple[str, ...], password: str) -> None:
    """Add a console user, or replace one (new password and grants); the password is stored scrypt-hashed."""
    from aion_assets.core.settings import get_settings
    from review_app.auth import save_user

    parsed: dict[str, list[str]] = {}
    for grant in grants:
        tenant, sep, roles = grant.partition(":")
        if not sep or not tenant or not roles:
            raise click.BadParameter(f"{grant!r}: use TENANT:ROLE[,ROLE], e.g. acme:reviewer", param_hint="--tenant")
        parsed.setdefault(tenant, []).extend(r.strip() for r in roles.split(",") if r.strip())
    settings = get_settings()
    path = settings.console_users or settings.resolved_home / "console_users.yaml"
    try:
        user = save_user(path, username, password, parsed)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--password") from exc
    summary = "; ".join(f"{t}: {', '.join(sorted(r.value for r in roles))}" for t, roles in sorted(user.grants.items()))
    click.echo(f"saved {username} in {path} ({summary})")


COMMANDS: list[click.Command] = [console_user]

"""The `aion` command line: tokens printed alone, migrations applied, and the API refusing to
start against an unmigrated database with a message saying so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jwt

from aion_assets.core.migrate import head_revision


def aion(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AION_")}
    environ |= {"AION_HOME": str(home)} | env
    return subprocess.run([sys.executable, "-m", "aion_assets.cli", *args], capture_output=True, text=True,
                          env=environ, timeout=120)


def test_token_prints_the_token_alone_and_keeps_the_secret(tmp_path: Path) -> None:
    out = aion("token", "--tenant", "acme", "--role", "writer", "--role", "reviewer", "--ttl", "60", home=tmp_path)
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip()
    assert out.stdout == token + "\n"
    secret = (tmp_path / "jwt_secret").read_text().strip()
    assert oct((tmp_path / "jwt_secret").stat().st_mode & 0o777) == "0o600"
    claims = jwt.decode(token, secret, algorithms=["HS256"])
    assert claims["tenant_id"] == "acme" and claims["roles"] == ["reviewer", "writer"]
    assert secret not in out.stdout + out.stderr
    again = aion("token", "--tenant", "acme", "--role", "admin", home=tmp_path)
    jwt.decode(again.stdout.strip(), secret, algorithms=["HS256"])  # same kept secret
    bad = aion("token", "--tenant", "no spaces allowed", "--role", "writer", home=tmp_path)
    assert bad.returncode != 0 and "--tenant" in bad.stderr


def test_api_refuses_an_unmigrated_database_then_upgrade_fixes_it(tmp_path: Path) -> None:
    refused = aion("api", "--port", "1", home=tmp_path)
    assert refused.returncode == 2
    assert "never migrated" in refused.stderr and "aion db upgrade" in refused.stderr
    head = head_revision()  # the newest migration, whichever domain added it
    upgraded = aion("db", "upgrade", home=tmp_path)
    assert upgraded.returncode == 0 and head in upgraded.stdout
    current = aion("db", "current", home=tmp_path)
    assert f"database: {head}; code: {head}" in current.stdout


def test_bad_database_url_is_a_clear_error(tmp_path: Path) -> None:
    out = aion("db", "current", home=tmp_path, AION_DATABASE_URL="mysql://x@y/z")
    assert out.returncode == 2 and "scheme" in out.stderr and "AION_" in out.stderr


def test_tenant_settings_are_validated_before_they_are_stored(tmp_path: Path) -> None:
    import json

    assert aion("db", "upgrade", home=tmp_path).returncode == 0
    good = tmp_path / "acme.yaml"
    good.write_text(
        "agents:\n  bot: {domain: support}\nscrub:\n  allow_list: [Acme Support]\ncuration: {min_reward: 0.7}\n"
    )
    out = aion("tenant", "--tenant", "acme", "--retention-days", "30", "--config-file", str(good), home=tmp_path)
    assert out.returncode == 0, out.stderr
    stored = json.loads(out.stdout)
    assert stored["retention_days"] == 30 and stored["config"]["curation"] == {"min_reward": 0.7}
    for text, message in [
        ("colour: red\n", "unknown key"),
        ("curation: {min_reward: 3}\n", "min_reward"),
        ("agents: [1, 2]\n", "agents"),
    ]:
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        refused = aion("tenant", "--tenant", "acme", "--config-file", str(bad), home=tmp_path)
        assert refused.returncode == 2 and message in refused.stderr, refused.stderr
    again = json.loads(aion("tenant", "--tenant", "acme", home=tmp_path).stdout)
    assert again["config"] == stored["config"]  # nothing half-written by the refused calls

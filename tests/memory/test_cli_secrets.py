"""Protects: the command line keeps secrets and token rules: `aion token` knows the reader role,
bounds --ttl by AION_JWT_MAX_TTL_SECONDS and refuses to mint when HS256 is not configured (making
no secret); `aion api` refuses JWT settings that disagree with a message; a mistyped database URL
scheme is reported without echoing the URL's password; `aion demo` prints the database URL with
the password masked."""

from __future__ import annotations

from pathlib import Path

import jwt

from .test_cli import aion

PASSWORD = "hunter2-s3cret"


def test_token_reader_role_and_ttl_cap(tmp_path: Path) -> None:
    out = aion("token", "--tenant", "acme", "--role", "reader", home=tmp_path)
    assert out.returncode == 0, out.stderr
    secret = (tmp_path / "jwt_secret").read_text().strip()
    assert jwt.decode(out.stdout.strip(), secret, algorithms=["HS256"])["roles"] == ["reader"]
    too_long = aion("token", "--tenant", "acme", "--role", "writer", "--ttl", str(24 * 3600 + 1), home=tmp_path)
    assert too_long.returncode != 0 and "--ttl" in too_long.stderr and "AION_JWT_MAX_TTL_SECONDS" in too_long.stderr
    capped = aion("token", "--tenant", "acme", "--role", "writer", "--ttl", "121", home=tmp_path,
                  AION_JWT_MAX_TTL_SECONDS="120")
    assert capped.returncode != 0 and "120" in capped.stderr


def test_token_refused_when_only_rs256_is_configured(tmp_path: Path) -> None:
    out = aion("token", "--tenant", "acme", "--role", "writer", home=tmp_path, AION_JWT_ALGORITHMS="RS256",
               AION_JWT_PUBLIC_KEY="@/nonexistent.pem")
    assert out.returncode == 2 and "HS256" in out.stderr and out.stdout == ""
    assert not (tmp_path / "jwt_secret").exists()


def test_api_refuses_disagreeing_jwt_settings(tmp_path: Path) -> None:
    out = aion("api", "--port", "1", home=tmp_path, AION_JWT_ALGORITHMS="RS256")
    assert out.returncode == 2
    assert "AION_JWT_ALGORITHMS lists RS256 but AION_JWT_PUBLIC_KEY is not set" in out.stderr


def test_mistyped_database_scheme_does_not_echo_the_password(tmp_path: Path) -> None:
    out = aion("db", "current", home=tmp_path, AION_DATABASE_URL=f"mysql://app:{PASSWORD}@db.internal/aion")
    assert out.returncode == 2 and "scheme" in out.stderr
    assert PASSWORD not in out.stdout + out.stderr


def test_demo_masks_the_database_url(tmp_path: Path) -> None:
    # Port 1 refuses at once: the demo prints its header, then stops at the migration.
    out = aion("demo", "--ingest-only", home=tmp_path, AION_DATABASE_URL=f"postgresql://app:{PASSWORD}@127.0.0.1:1/aion")
    assert "database: postgresql://app:***@127.0.0.1:1/aion" in out.stdout
    assert PASSWORD not in out.stdout + out.stderr
    assert out.returncode != 0

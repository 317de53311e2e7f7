"""Tokens: HS256 and RS256 verification, required claims, role checks; settings: the JWT
secret generated once into AION_HOME and kept; tracing turned on by configuration."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from aion_assets.core.auth import AuthError, ForbiddenError, Role, TokenVerifier, mint_token
from aion_assets.core.errors import ConfigError
from aion_assets.core.settings import Settings

SECRET = "unit-secret-" + "q" * 24


def test_hs256_round_trip_and_roles() -> None:
    token = mint_token(SECRET, tenant_id="acme", roles=["reviewer"], subject="ana@acme")
    who = TokenVerifier(SECRET).verify(f"Bearer {token}")
    assert who.tenant_id == "acme" and who.subject == "ana@acme" and who.roles == {Role.reviewer}
    who.require(Role.reviewer)
    with pytest.raises(ForbiddenError, match="writer"):
        who.require(Role.writer)
    admin = TokenVerifier(SECRET).verify(f"Bearer {mint_token(SECRET, tenant_id='acme', roles=['admin'])}")
    admin.require(Role.writer)  # admin implies every role


def test_rs256_with_public_key_only() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem_public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    token = jwt.encode({"tenant_id": "acme", "roles": ["writer"], "exp": int(time.time()) + 60}, key, "RS256")
    verifier = TokenVerifier(None, pem_public)
    assert verifier.verify(f"Bearer {token}").tenant_id == "acme"
    with pytest.raises(AuthError, match="not accepted"):
        verifier.verify(f"Bearer {mint_token(SECRET, tenant_id='acme', roles=['writer'])}")


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"roles": ["writer"], "exp": 9_999_999_999}, "tenant_id"),
        ({"tenant_id": "acme", "roles": ["writer"]}, "exp"),
        ({"tenant_id": "acme", "roles": "writer", "exp": 9_999_999_999}, "roles"),
        ({"tenant_id": "", "roles": [], "exp": 9_999_999_999}, "tenant_id"),
    ],
)
def test_required_claims(claims: dict[str, object], message: str) -> None:
    with pytest.raises(AuthError, match=message):
        TokenVerifier(SECRET).verify("Bearer " + jwt.encode(claims, SECRET, "HS256"))


def test_alg_none_is_refused() -> None:
    token = jwt.encode({"tenant_id": "acme", "roles": ["admin"], "exp": 9_999_999_999}, None, "none")
    with pytest.raises(AuthError):
        TokenVerifier(SECRET).verify(f"Bearer {token}")


def test_mint_refuses_unknown_roles() -> None:
    with pytest.raises(ValueError, match="superuser"):
        mint_token(SECRET, tenant_id="acme", roles=["superuser"])


def test_secret_generated_once_and_kept(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    first = settings.jwt_signing_secret()
    assert len(first) >= 32 and Settings(home=tmp_path).jwt_signing_secret() == first
    assert (tmp_path / "jwt_secret").stat().st_mode & 0o077 == 0
    with pytest.raises(ConfigError, match="too short"):
        Settings(home=tmp_path, jwt_secret="short").jwt_signing_secret()


def test_defaults_live_under_home(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    assert settings.db_url == f"sqlite:///{tmp_path / 'aion.db'}"
    assert settings.artifacts == (tmp_path / "artifacts").as_uri()
    assert Settings(home=tmp_path, database_url="postgresql://app@db/aion").db_admin_url == "postgresql://app@db/aion"
    with pytest.raises(ValueError, match="scheme"):
        Settings(database_url="mysql://x@y/z")


def test_tracing_exports_request_spans(sqlite_database, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient
    from opentelemetry import trace

    from aion_assets.app import create_app
    from aion_assets.core.db import make_engine

    app = create_app(make_engine(sqlite_database.url), TokenVerifier(SECRET), otel_exporter="console")
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
    trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]
    assert '"http.route": "/healthz"' in capsys.readouterr().out
    with pytest.raises(ValueError, match="console"):
        create_app(make_engine(sqlite_database.url), TokenVerifier(SECRET), otel_exporter="zipkin")

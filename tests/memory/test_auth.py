"""Protects: tokens are verified only with the configured algorithms (HS256 cannot sneak in beside
RS256, and no HS secret is generated then); algorithms and keys that disagree refuse to start;
`iss`/`aud` are checked when configured (an ordinary IdP token works); a token's lifetime is
capped; the tenant and subject claims are validated (401 with a clear message); roles, including
`reader`; settings: the JWT secret (at least 32 bytes) generated once into AION_HOME and kept,
AION_JWT_ALGORITHMS parsed from the environment, a rejected database URL never echoed with its
password, the displayed URL masked; tracing turned on by configuration."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from aion_assets.core.auth import AuthError, ForbiddenError, Role, TokenVerifier, mint_token
from aion_assets.core.errors import ConfigError
from aion_assets.core.settings import Settings

SECRET = "unit-secret-" + "q" * 24
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM_PUBLIC = RSA_KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
).decode()
ISSUER, AUDIENCE = "https://idp.example.com/", "aion-api"


def make_claims(**overrides: Any) -> dict[str, Any]:
    """Valid claims for tenant acme, issued now, one hour of life."""
    now = int(time.time())
    return {"sub": "ana@acme", "tenant_id": "acme", "roles": ["writer"], "iat": now, "exp": now + 3600} | overrides


def hs256(payload: dict[str, Any] | str, secret: str | bytes) -> str:
    """An HS256 token signed by hand with any key (PyJWT refuses PEM keys as HMAC secrets).

    PAYLOAD is a dict or the payload's JSON text as is.
    """
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    key = secret.encode() if isinstance(secret, str) else secret
    text = payload if isinstance(payload, str) else json.dumps(payload)
    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(text.encode())
    return signing_input + "." + b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())


def rs256(payload: dict[str, Any]) -> str:
    return jwt.encode(payload, RSA_KEY, "RS256")


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
    verifier = TokenVerifier(None, PEM_PUBLIC)
    assert verifier.algorithms == ["RS256"]
    assert verifier.verify(f"Bearer {rs256(make_claims())}").tenant_id == "acme"
    with pytest.raises(AuthError, match="not accepted"):
        verifier.verify(f"Bearer {mint_token(SECRET, tenant_id='acme', roles=['writer'])}")


def test_only_rs256_configured_refuses_every_hs256_token_and_generates_no_secret(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, jwt_public_key=PEM_PUBLIC, jwt_algorithms=["RS256"])
    verifier = settings.token_verifier()
    assert not (tmp_path / "jwt_secret").exists()
    assert verifier.algorithms == ["RS256"]
    # Any secret, including the public key itself (the classic RS/HS confusion).
    for key in (SECRET, "x" * 64, PEM_PUBLIC):
        with pytest.raises(AuthError, match="'HS256' is not accepted"):
            verifier.verify(f"Bearer {hs256(make_claims(roles=['admin']), key)}")
    assert verifier.verify(f"Bearer {rs256(make_claims())}").tenant_id == "acme"
    # Without AION_JWT_ALGORITHMS, a public key alone means RS256 alone: still no secret file.
    assert Settings(home=tmp_path, jwt_public_key=PEM_PUBLIC).token_verifier().algorithms == ["RS256"]
    assert not (tmp_path / "jwt_secret").exists()
    with pytest.raises(ConfigError, match="HS256 is not among"):
        settings.jwt_signing_secret()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"jwt_algorithms": ["RS256"]}, "lists RS256 but AION_JWT_PUBLIC_KEY is not set"),
        ({"jwt_algorithms": ["HS256", "RS256"], "jwt_public_key": PEM_PUBLIC}, "lists HS256 but AION_JWT_SECRET"),
        ({"jwt_algorithms": ["RS256"], "jwt_public_key": PEM_PUBLIC, "jwt_secret": SECRET}, "AION_JWT_SECRET is set"),
        ({"jwt_algorithms": ["HS256"], "jwt_public_key": PEM_PUBLIC}, "does not list RS256"),
        ({"jwt_algorithms": ["ES256"]}, "unsupported 'ES256'"),
        ({"jwt_algorithms": []}, "empty"),
        ({"jwt_secret": "s" * 31}, "at least 32 bytes"),
        ({"jwt_public_key": "@/nonexistent/key.pem"}, "cannot read"),
    ],
)
def test_algorithms_and_keys_that_disagree_refuse_to_start(
    tmp_path: Path, config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings(home=tmp_path, **config).token_verifier()
    assert not (tmp_path / "jwt_secret").exists()


def test_algorithms_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AION_JWT_ALGORITHMS", "hs256, RS256")
    assert Settings(home=tmp_path).jwt_accepted_algorithms() == ["HS256", "RS256"]
    monkeypatch.setenv("AION_JWT_ALGORITHMS", '["RS256"]')
    assert Settings(home=tmp_path).jwt_accepted_algorithms() == ["RS256"]
    both = Settings(home=tmp_path, jwt_secret=SECRET, jwt_public_key=PEM_PUBLIC, jwt_algorithms="HS256,RS256")
    verifier = both.token_verifier()
    assert verifier.verify(f"Bearer {hs256(make_claims(), SECRET)}").tenant_id == "acme"
    assert verifier.verify(f"Bearer {rs256(make_claims())}").tenant_id == "acme"


def test_issuer_and_audience_of_an_ordinary_identity_provider() -> None:
    verifier = TokenVerifier(None, PEM_PUBLIC, issuer=ISSUER, audience=AUDIENCE)
    assert verifier.verify(f"Bearer {rs256(make_claims(iss=ISSUER, aud=AUDIENCE))}").subject == "ana@acme"
    assert verifier.verify(f"Bearer {rs256(make_claims(iss=ISSUER, aud=['other', AUDIENCE]))}").tenant_id == "acme"
    for bad, message in [
        (make_claims(iss=ISSUER), "no aud claim"),
        (make_claims(iss=ISSUER, aud="another-service"), "audience"),
        (make_claims(aud=AUDIENCE), "no iss claim"),
        (make_claims(iss="https://evil.example.com/", aud=AUDIENCE), "issuer"),
    ]:
        with pytest.raises(AuthError, match=message):
            verifier.verify(f"Bearer {rs256(bad)}")
    # Without a configured audience, a token meant for some audience is not ours to accept.
    with pytest.raises(AuthError, match="audience"):
        TokenVerifier(None, PEM_PUBLIC).verify(f"Bearer {rs256(make_claims(aud=AUDIENCE))}")


def test_token_lifetime_is_capped() -> None:
    now = int(time.time())
    verifier = TokenVerifier(SECRET, max_ttl_seconds=3600)
    assert verifier.verify(f"Bearer {hs256(make_claims(iat=now, exp=now + 3600), SECRET)}").tenant_id == "acme"
    with pytest.raises(AuthError, match="lifetime 3601 s exceeds the maximum of 3600 s"):
        verifier.verify(f"Bearer {hs256(make_claims(iat=now, exp=now + 3601), SECRET)}")
    ten_years = make_claims(iat=now, exp=now + 10 * 365 * 86400)
    with pytest.raises(AuthError, match="lifetime"):
        TokenVerifier(SECRET).verify(f"Bearer {hs256(ten_years, SECRET)}")  # the default cap: 24 h
    no_iat = {k: v for k, v in make_claims().items() if k != "iat"}
    with pytest.raises(AuthError, match="no iat claim"):
        verifier.verify(f"Bearer {hs256(no_iat, SECRET)}")
    assert TokenVerifier(SECRET, max_ttl_seconds=None).verify(f"Bearer {hs256(no_iat, SECRET)}").tenant_id == "acme"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tenant_id": "t" * 129}, "tenant_id claim is invalid"),
        ({"tenant_id": ".."}, "tenant_id claim is invalid"),
        ({"tenant_id": "has space"}, "tenant_id claim is invalid"),
        ({"tenant_id": "nul\u0000"}, "tenant_id claim is invalid"),
        ({"tenant_id": "-leading"}, "tenant_id claim is invalid"),
        ({"tenant_id": 7}, "tenant_id"),
        ({"sub": "s" * 257}, "sub claim"),
        ({"sub": "ana\u0000"}, "sub claim"),
        ({"sub": "\ud800"}, "sub claim"),
        ({"sub": 12}, "ubject"),
        ({"roles": [["admin"]]}, "roles"),
        ({"exp": float("inf")}, "exp"),
    ],
)
def test_bad_claims_are_auth_errors(overrides: dict[str, Any], message: str) -> None:
    # json.dumps escapes NUL and lone surrogates (\u0000, \ud800) and writes inf as Infinity: the
    # verifier receives exactly what a hostile issuer could send.
    with pytest.raises(AuthError, match=message):
        TokenVerifier(SECRET).verify(f"Bearer {hs256(make_claims(**overrides), SECRET)}")


def test_oversized_or_deeply_nested_token_is_an_auth_error() -> None:
    with pytest.raises(AuthError, match="longer than"):
        TokenVerifier(SECRET).verify("Bearer " + "a" * 9000)
    nested = json.dumps(make_claims())[:-1] + ', "n": ' + "[" * 2500 + "]" * 2500 + "}"
    with pytest.raises(AuthError, match=r"invalid token|malformed"):  # not a RecursionError (500)
        TokenVerifier(SECRET).verify(f"Bearer {hs256(nested, SECRET)}")


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
        TokenVerifier(SECRET, max_ttl_seconds=None).verify("Bearer " + jwt.encode(claims, SECRET, "HS256"))


def test_alg_none_is_refused() -> None:
    token = jwt.encode({"tenant_id": "acme", "roles": ["admin"], "exp": 9_999_999_999}, None, "none")
    with pytest.raises(AuthError):
        TokenVerifier(SECRET).verify(f"Bearer {token}")


def test_mint_refuses_unknown_roles() -> None:
    with pytest.raises(ValueError, match="superuser"):
        mint_token(SECRET, tenant_id="acme", roles=["superuser"])
    reader = TokenVerifier(SECRET).verify(f"Bearer {mint_token(SECRET, tenant_id='acme', roles=['reader'])}")
    assert reader.roles == {Role.reader}
    reader.require(Role.reader, Role.writer)
    with pytest.raises(ForbiddenError, match="writer"):
        reader.require(Role.writer)


def test_secret_generated_once_and_kept(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    first = settings.jwt_signing_secret()
    assert len(first) >= 32 and Settings(home=tmp_path).jwt_signing_secret() == first
    assert (tmp_path / "jwt_secret").stat().st_mode & 0o077 == 0
    for short in ("short", "s" * 31, "é" * 15):  # bytes count, not characters
        with pytest.raises(ConfigError, match="too short"):
            Settings(home=tmp_path, jwt_secret=short).jwt_signing_secret()
    assert Settings(home=tmp_path, jwt_secret="é" * 16).jwt_signing_secret() == "é" * 16


def test_defaults_live_under_home(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    assert settings.db_url == f"sqlite:///{tmp_path / 'aion.db'}"
    assert settings.artifacts == (tmp_path / "artifacts").as_uri()
    assert Settings(home=tmp_path, database_url="postgresql://app@db/aion").db_admin_url == "postgresql://app@db/aion"
    with pytest.raises(ValueError, match="scheme"):
        Settings(database_url="mysql://x@y/z")


def test_rejected_database_url_is_not_echoed_and_the_shown_url_is_masked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="scheme") as caught:
        Settings(database_url="mysql://app:hunter2@db.internal/aion")
    assert "hunter2" not in str(caught.value)
    shown = Settings(home=tmp_path, database_url="postgresql://app:hunter2@db.internal:5432/aion").db_url_display
    assert shown == "postgresql://app:***@db.internal:5432/aion"
    assert Settings(home=tmp_path).db_url_display == f"sqlite:///{tmp_path / 'aion.db'}"


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

"""Protects, over real HTTP on SQLite and PostgreSQL: every data route needs a role (a role-less
token is 403 on reads, `reader` reads but cannot write or export); the app built from settings
accepts only the configured algorithms (RS256 only: an HS256 token is 401 and no secret file is
made), an ordinary IdP token with iss/aud works, and disagreeing settings refuse to build; bad
claims are 401, never 500; nothing sensitive leaves: /healthz and 503 bodies give a fixed reason
(no host, port, path or password) while the log keeps the detail, database errors carry no bound
values, and /metrics can require a token."""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from aion_assets.app import app_from_settings, create_app
from aion_assets.core.auth import TokenVerifier, mint_token
from aion_assets.core.db import make_engine
from aion_assets.core.errors import ConfigError
from aion_assets.core.settings import Settings

from .conftest import SECRET

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM_PUBLIC = RSA_KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
).decode()
ISSUER, AUDIENCE = "https://idp.example.com/", "aion-api"
METRICS_TOKEN = "scrape-" + "m" * 24
UNREACHABLE_PG = "postgresql://app:hunter2@127.0.0.1:1/aion"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def interaction() -> dict[str, Any]:
    return {"agent_id": "support-bot", "input_text": "my email is a@b.com", "output_text": "noted"}


def idp_token(tenant: str, roles: list[str], **extra: Any) -> str:
    """An RS256 token as an identity provider issues it: iss, aud, iat, exp."""
    now = int(time.time())
    claims = {"sub": "ana@idp", "tenant_id": tenant, "roles": roles, "iat": now, "exp": now + 600}
    return jwt.encode(claims | {"iss": ISSUER, "aud": AUDIENCE} | extra, RSA_KEY, "RS256")


def test_every_read_needs_a_role(client: TestClient, auth: dict[str, str], tenant: str) -> None:
    stored = client.post("/interactions", json=interaction(), headers=auth).json()
    roleless = bearer(mint_token(SECRET, tenant_id=tenant, roles=[]))
    for path in (f"/interactions/{stored['id']}", "/self-edits", "/datasets/sft"):
        r = client.get(path, headers=roleless)
        assert r.status_code == 403, (path, r.text)
        assert r.json()["error"] == "forbidden" and "role" in r.json()["message"]
    reader = bearer(mint_token(SECRET, tenant_id=tenant, roles=["reader"]))
    assert client.get(f"/interactions/{stored['id']}", headers=reader).json() == stored
    assert client.get("/self-edits", headers=reader).status_code == 200
    assert client.post("/interactions", json=interaction(), headers=reader).status_code == 403
    assert client.get("/datasets/sft", headers=reader).status_code == 403  # the export needs reviewer


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"tenant_id": "t" * 200}, "tenant_id"),
        ({"tenant_id": ".."}, "tenant_id"),
        ({"sub": "s" * 300}, "sub"),
        ({"sub": "ana\x00"}, "sub"),
    ],
)
def test_bad_claims_are_401_not_500(client: TestClient, tenant: str, claims: dict[str, Any], message: str) -> None:
    now = int(time.time())
    base = {"sub": "ana", "tenant_id": tenant, "roles": ["admin"], "iat": now, "exp": now + 600}
    token = jwt.encode(base | claims, SECRET, "HS256")
    r = client.post(f"/self-edits/{uuid.uuid4()}/approve", headers=bearer(token))
    assert r.status_code == 401, r.text
    assert message in r.json()["message"]


def test_app_from_settings_accepts_only_the_configured_algorithms(database, tmp_path: Path, tenant: str) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(
        home=tmp_path,
        database_url=database.url,
        jwt_public_key=PEM_PUBLIC,
        jwt_algorithms=["RS256"],
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
    )
    with TestClient(app_from_settings(settings)) as client:
        assert not (tmp_path / "jwt_secret").exists()  # no HS secret was generated
        assert client.get("/self-edits", headers=bearer(idp_token(tenant, ["reader"]))).status_code == 200
        forged = mint_token("any-secret-at-all-" + "z" * 20, tenant_id=tenant, roles=["admin"])
        r = client.get("/self-edits", headers=bearer(forged))
        assert r.status_code == 401 and "HS256" in r.json()["message"]
        for bad in (idp_token(tenant, ["reader"], aud="another-service"), _without_aud(tenant)):
            r = client.get("/self-edits", headers=bearer(bad))
            assert r.status_code == 401 and "aud" in r.json()["message"], r.text
        long_lived = idp_token(tenant, ["reader"], exp=int(time.time()) + 30 * 86400)
        r = client.get("/self-edits", headers=bearer(long_lived))
        assert r.status_code == 401 and "lifetime" in r.json()["message"]


def _without_aud(tenant: str) -> str:
    now = int(time.time())
    claims = {"sub": "x", "tenant_id": tenant, "roles": ["reader"], "iat": now, "exp": now + 600, "iss": ISSUER}
    return jwt.encode(claims, RSA_KEY, "RS256")


def test_disagreeing_token_settings_refuse_to_build(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="AION_JWT_PUBLIC_KEY is not set"):
        app_from_settings(Settings(home=tmp_path, jwt_algorithms=["RS256"]))
    with pytest.raises(ConfigError, match="AION_JWT_SECRET"):
        app_from_settings(Settings(home=tmp_path, jwt_algorithms=["HS256", "RS256"], jwt_public_key=PEM_PUBLIC))
    assert not (tmp_path / "jwt_secret").exists()


def test_metrics_can_require_a_token(database, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(home=tmp_path, database_url=database.url, metrics_token=METRICS_TOKEN)
    with TestClient(app_from_settings(settings)) as client:
        for headers in ({}, bearer("wrong-" + "m" * 24), {"Authorization": METRICS_TOKEN}):
            r = client.get("/metrics", headers=headers)
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
            assert "aion_" not in r.text
        ok = client.get("/metrics", headers=bearer(METRICS_TOKEN))
        assert ok.status_code == 200 and "aion_http_request_duration_seconds" in ok.text
    with pytest.raises(ValueError, match="too short"):
        Settings(metrics_token="short")


def test_unreachable_database_gives_fixed_reasons(caplog: pytest.LogCaptureFixture, tenant: str) -> None:
    engine = make_engine(UNREACHABLE_PG)
    app = create_app(engine, TokenVerifier(SECRET), check_schema=False)
    token = bearer(mint_token(SECRET, tenant_id=tenant, roles=["writer"]))
    with caplog.at_level(logging.WARNING), TestClient(app) as client:
        health = client.get("/healthz")
        write = client.post("/interactions", json=interaction(), headers=token)
    assert health.status_code == 503 and health.json() == {"status": "unavailable", "reason": "database unavailable"}
    assert write.status_code == 503 and write.json() == {"error": "unavailable", "message": "database unavailable"}
    for leaked in ("127.0.0.1", "port", "hunter2"):
        assert leaked not in health.text and leaked not in write.text
    assert "127.0.0.1" in caplog.text  # the operator still gets the detail, in the log
    assert "hunter2" not in caplog.text


def test_unmigrated_database_health_shows_no_path(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "private-folder" / "aion.db"
    app = create_app(make_engine(f"sqlite:///{path}"), TokenVerifier(SECRET), check_schema=False)
    with caplog.at_level(logging.WARNING), TestClient(app) as client:
        r = client.get("/healthz")
    assert r.status_code == 503 and r.json() == {"status": "unavailable", "reason": "schema not current"}
    assert "private-folder" in caplog.text and "private-folder" not in r.text


def test_database_errors_carry_no_bound_values(database, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(database.url, pool_size=1)
    pii = "jane.doe@example.org call +1 415 555 0199"
    try:
        with pytest.raises(sa.exc.DBAPIError) as caught, engine.connect() as conn:
            conn.execute(sa.text("SELECT :note AS note FROM no_such_table"), {"note": pii})
        logging.getLogger("test").error("request failed", exc_info=caught.value)
    finally:
        engine.dispose()
    assert "no_such_table" in str(caught.value)  # the statement is still there for debugging
    assert pii not in str(caught.value) and pii not in caplog.text

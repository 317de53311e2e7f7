"""Fixtures for the memory API: an app on either backend and tokens for any tenant/role."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from aion_assets.app import create_app
from aion_assets.core.auth import TokenVerifier, mint_token
from aion_assets.core.db import make_engine

SECRET = "test-secret-" + "x" * 24


@pytest.fixture
def make_token() -> Callable[..., str]:
    """Mint a token: make_token(tenant, "writer", "reviewer", ttl=...)."""

    def _make(tenant: str, *roles: str, ttl: int = 600, subject: str | None = None) -> str:
        return mint_token(SECRET, tenant_id=tenant, roles=list(roles) or ["writer"], ttl_seconds=ttl, subject=subject)

    return _make


@pytest.fixture
def client(database) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """An HTTP client of a fresh app over the parametrized database (small limits for tests)."""
    app = create_app(
        make_engine(database.url, pool_size=4),
        TokenVerifier(SECRET),
        max_body_bytes=256 * 1024,
        max_text_chars=2000,
        max_batch=50,
    )
    with TestClient(app) as c:
        yield c


@pytest.fixture
def auth(make_token: Callable[..., str], tenant: str) -> dict[str, str]:
    """Headers of a writer+reviewer of the test's tenant."""
    return {"Authorization": f"Bearer {make_token(tenant, 'writer', 'reviewer')}"}

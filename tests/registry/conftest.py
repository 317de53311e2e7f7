"""Fixtures for the registry: a store and an HTTP app on either backend, tokens, registered versions."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from aion_assets.app import app_from_settings, create_app
from aion_assets.core.auth import TokenVerifier, mint_token
from aion_assets.core.db import make_engine
from aion_assets.core.settings import Settings
from aion_assets.registry.models import ModelStatus, ModelVersion, ModelVersionIn
from aion_assets.registry.sql_store import SqlRegistryStore

SECRET = "registry-secret-" + "r" * 24


def manifest_hash(seed: str | None = None) -> str:
    """A manifest SHA-256 (fresh unless SEED is given)."""
    return hashlib.sha256((seed or uuid.uuid4().hex).encode()).hexdigest()


def version_in(**overrides: Any) -> ModelVersionIn:
    """A valid registration; OVERRIDES replace fields."""
    base: dict[str, Any] = {
        "manifest_sha256": manifest_hash(),
        "adapter_uri": "file:///artifacts/adapters/acme/support/v1",
        "base_model": "aion-base",
        "domain": "support",
        "dataset_version": "2026.11.29-0001",
        "evaluation_run_id": "run-1",
        "source_edit_count": 12,
        "metrics": [{"name": "key_fact_recall", "value": 0.8, "ci_low": 0.7, "ci_high": 0.9}],
    }
    return ModelVersionIn.model_validate(base | overrides)


@pytest.fixture
def store(database) -> Iterator[SqlRegistryStore]:  # type: ignore[no-untyped-def]
    """A registry store over the parametrized database, as the application role."""
    engine = make_engine(database.url, pool_size=4)
    yield SqlRegistryStore(engine)
    engine.dispose()


@pytest.fixture
def promoted(store: SqlRegistryStore, tenant: str) -> Callable[..., ModelVersion]:
    """Register a version of the test's tenant directly as promoted."""

    def _make(**overrides: Any) -> ModelVersion:
        version, _ = store.register_version(tenant, version_in(status=ModelStatus.promoted, **overrides), "pipeline")
        return version

    return _make


@pytest.fixture
def make_token() -> Callable[..., str]:
    """Mint a token: make_token(tenant, "admin", subject="alice")."""

    def _make(tenant: str, *roles: str, subject: str | None = None) -> str:
        return mint_token(SECRET, tenant_id=tenant, roles=list(roles) or ["writer"], ttl_seconds=600, subject=subject)

    return _make


@pytest.fixture
def headers(make_token: Callable[..., str]) -> Callable[..., dict[str, str]]:
    """Authorization headers: headers(tenant, "admin", subject="alice")."""

    def _make(tenant: str, *roles: str, subject: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {make_token(tenant, *roles, subject=subject)}"}

    return _make


def build_app(url: str, **options: Any) -> Any:
    """The API app over URL (the app role's database URL); OPTIONS go to ``create_app``."""
    return create_app(make_engine(url, pool_size=8), TokenVerifier(SECRET), max_body_bytes=256 * 1024, **options)


@pytest.fixture
def client(database) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """An HTTP client of a fresh app over the parametrized database."""
    with TestClient(build_app(database.url)) as c:
        yield c


def settings_client(database: Any, monkeypatch: pytest.MonkeyPatch, home: Path, **env: str) -> TestClient:
    """A client (not yet started) of the app built from AION_* settings only, as `aion api` builds it."""
    for key in [k for k in os.environ if k.startswith("AION_")]:
        monkeypatch.delenv(key)
    values = {"AION_DATABASE_URL": database.url, "AION_JWT_SECRET": SECRET, "AION_HOME": str(home)} | env
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return TestClient(app_from_settings(Settings()))

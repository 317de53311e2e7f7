"""Fixtures of the console tests: the real API on a loopback port over a real database, console
users with hashed passwords, seeded pending edits, and the console's environment."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aion_assets.app import create_app
from aion_assets.core.artifacts import LocalArtifactStore
from aion_assets.core.auth import TokenVerifier, mint_token
from aion_assets.core.db import make_engine
from aion_assets.core.serve import serve_in_thread
from aion_assets.memory.client import MemoryClient
from aion_assets.memory.models import SelfEdit
from review_app.auth import save_user
from tests.conftest import Database

SECRET = "console-test-secret-" + "c" * 24
PASSWORD = "correct horse battery"
APP = Path(__file__).resolve().parents[2] / "review_app" / "streamlit_app.py"


@pytest.fixture(autouse=True)
def _served_console_options() -> Iterator[None]:
    """AppTest runs the pages with the options a served console has (``review_app.launch.OPTIONS``)."""
    from streamlit import config

    from review_app.launch import OPTIONS

    before = {name: config.get_option(name) for name in OPTIONS}
    for name, value in OPTIONS.items():
        config.set_option(name, {"true": True, "false": False}.get(value, value))
    yield
    for name, value in before.items():
        config.set_option(name, value)


@pytest.fixture
def artifacts(tmp_path: Path) -> LocalArtifactStore:
    """The artifact store the API reads evaluation reports and dataset manifests from."""
    return LocalArtifactStore(tmp_path / "artifacts")


@pytest.fixture
def api(database: Database, artifacts: LocalArtifactStore) -> Iterator[str]:
    """The real app over the parametrized database, served on a loopback port."""
    app = create_app(make_engine(database.url, pool_size=4), TokenVerifier(SECRET), artifact_store=artifacts)
    with serve_in_thread(app) as base:
        yield base


def token(tenant: str, *roles: str, subject: str | None = None) -> str:
    """A token of TENANT signed with the test secret."""
    return mint_token(SECRET, tenant_id=tenant, roles=list(roles), ttl_seconds=600, subject=subject)


@dataclass
class Seeder:
    """Writes interactions and pending edits of a tenant through the API (as a writer)."""

    base: str

    def edits(self, tenant: str, n: int = 3, **fields: object) -> list[SelfEdit]:
        """N pending edits of TENANT (oldest first), one interaction each; FIELDS override the defaults."""
        with MemoryClient(self.base, token(tenant, "writer")) as mc:
            agent = str(fields.pop("agent_id", "support-bot"))
            rows = mc.add_interactions(
                [{"agent_id": agent, "input_text": f"Question {i} of {tenant}?",
                  "output_text": f"Old answer {i} of {tenant}.",
                  "timestamp": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}+00:00"} for i in range(n)]
            )
            edits = []
            for i, row in enumerate(rows):
                body: dict[str, object] = {
                    "interaction_id": str(row.id), "editor_type": "human", "reason_code": "wrong_fact",
                    "edited_output": f"New answer {i} of {tenant}.", "reward_score": 0.8,
                    "timestamp": f"2026-01-02T00:{i // 60:02d}:{i % 60:02d}+00:00",
                }
                edits.append(mc.add_self_edit(body | fields))
        return edits

    def read(self, tenant: str, edit_id: object) -> SelfEdit:
        """The edit as stored, read through the API."""
        with MemoryClient(self.base, token(tenant, "reader")) as mc:
            return mc.get_self_edit(str(edit_id))


@pytest.fixture
def seed(api: str) -> Seeder:
    """Seeds pending edits through the API."""
    return Seeder(api)


@pytest.fixture
def tenants() -> tuple[str, str]:
    """Two tenant ids no other test uses."""
    suffix = uuid.uuid4().hex[:8]
    return f"acme-{suffix}", f"globex-{suffix}"


@pytest.fixture
def console_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, api: str,
                tenants: tuple[str, str]) -> Callable[..., str]:
    """Point the console at the served API; returns add_user(name, {tenant: [roles]})."""
    users = tmp_path / "console_users.yaml"
    monkeypatch.setenv("AION_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AION_API_URL", api)
    monkeypatch.setenv("AION_JWT_SECRET", SECRET)
    monkeypatch.setenv("AION_CONSOLE_USERS", str(users))

    def add_user(name: str, grants: dict[str, list[str]]) -> str:
        save_user(users, name, PASSWORD, grants)
        return name

    return add_user

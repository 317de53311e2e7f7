"""Fixtures of the pipeline tests: seeded memory stores, real resources, both backends.

``backend`` pairs each database with an artifact store: SQLite + a local folder, and
PostgreSQL (a fresh database and application role, from tests/conftest.py) + SeaweedFS S3.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from aion_assets.core.artifacts import ArtifactStore, artifact_store_from_uri
from aion_assets.core.db import make_engine
from aion_assets.memory import tables as t
from aion_assets.memory.models import EditorType, EditStatus, InteractionIn, SelfEditIn
from aion_assets.memory.store import MemoryStore
from tests.conftest import Database

# Presidio's e-mail recognizer would otherwise try to fetch the public-suffix list.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

PII_PROMPTS = [
    "Hi, I'm Maria Gonzalez, my email is maria.gonzalez+orders@example.com. Where is order 4471?",
    "Please call me back at +1 415-555-0132, my name is John Miller.",
    "My card 4111 1111 1111 1111 was charged twice for the Acme Router X2.",
    "I live at 221B Baker Street, London NW1 6XE and my parcel never arrived.",
    "How do I reset the password of the Acme Router X2?",
]


@dataclass
class Backend:
    """A migrated database and an artifact store of one test."""

    name: str
    database: Database
    artifacts_uri: str
    s3: dict[str, str] | None

    def engine(self) -> sa.Engine:
        return make_engine(self.database.url, pool_size=2)

    def artifact_store(self) -> ArtifactStore:
        if self.s3 is None:
            return artifact_store_from_uri(self.artifacts_uri)
        return artifact_store_from_uri(
            self.artifacts_uri,
            endpoint_url=self.s3["endpoint_url"],
            access_key=self.s3["access_key"],
            secret_key=self.s3["secret_key"],
            region=self.s3["region"],
        )

    def resources(self, **scrubber: Any) -> dict[str, Any]:
        """The Dagster resources of this backend (the real ones the definitions use)."""
        from dagster_aws.s3 import S3Resource

        from aion_assets.core.resources import ArtifactStoreResource
        from aion_assets.memory.resources import MemoryStoreResource, ScrubberResource
        from aion_assets.registry.resources import RegistryResource

        s3 = None
        if self.s3 is not None:
            s3 = S3Resource(
                endpoint_url=self.s3["endpoint_url"],
                region_name=self.s3["region"],
                aws_access_key_id=self.s3["access_key"],
                aws_secret_access_key=self.s3["secret_key"],
            )
        return {
            "memory": MemoryStoreResource(database_url=self.database.url, pool_size=2),
            "artifacts": ArtifactStoreResource(uri=self.artifacts_uri, s3=s3),
            "scrubber": ScrubberResource(**scrubber),
            "registry": RegistryResource(database_url=self.database.url, pool_size=1),
        }


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """SQLite + local folder, or PostgreSQL + SeaweedFS S3 (a bucket of this test's own)."""
    if request.param == "sqlite":
        yield Backend("sqlite", request.getfixturevalue("sqlite_database"), (tmp_path / "artifacts").as_uri(), None)
        return
    database = request.getfixturevalue("pg_database")
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    yield Backend(
        "postgres",
        database,
        f"s3://{bucket}/{uuid.uuid4().hex[:12]}",
        {
            "endpoint_url": endpoint.endpoint_url,
            "access_key": endpoint.access_key,
            "secret_key": endpoint.secret_key,
            "region": endpoint.region,
        },
    )


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One SeaweedFS S3 server for the session (the same helper tests/core uses)."""
    from tests.support.seaweedfs import seaweedfs_server

    with seaweedfs_server(tmp_path_factory.mktemp("seaweedfs")) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def s3_bucket(s3_endpoint: Any) -> str:
    """One bucket for the session; tests isolate themselves by prefix.

    (SeaweedFS gives every bucket its own volumes, and the test server has few of them.)
    """
    bucket = f"aion-pipeline-{uuid.uuid4().hex[:8]}"
    s3_endpoint.client().create_bucket(Bucket=bucket)
    return bucket


def seed(
    store: MemoryStore,
    tenant: str,
    n: int,
    *,
    agent_id: str = "support-bot",
    domain: str | None = "support",
    reward: float = 0.9,
    approve: bool = True,
    prompts: list[str] | None = None,
    timestamp: datetime | None = None,
) -> list[uuid.UUID]:
    """Store N interactions of TENANT with one edit each (approved unless APPROVE is false).

    Returns the interaction ids.
    """
    prompts = prompts or PII_PROMPTS
    items = [
        InteractionIn(
            agent_id=agent_id,
            user_id=f"user-{k}",
            input_text=f"{prompts[k % len(prompts)]} (ticket {k})",
            output_text="Let me check.",
            metadata={"domain": domain} if domain else {},
            timestamp=timestamp,
        )
        for k in range(n)
    ]
    stored, _ = store.add_interactions(tenant, items)
    for inter in stored:
        edit, _ = store.add_self_edit(
            tenant,
            SelfEditIn(
                interaction_id=inter.id,
                editor_type=EditorType.human,
                edited_output=f"Thanks for reaching out. Your ticket is tracked under {str(inter.id)[:8]}.",
                reward_score=reward,
            ),
        )
        if approve:
            store.review_self_edit(tenant, edit.id, EditStatus.approved, "reviewer@test")
    return [i.id for i in stored]


def set_tenant(engine: sa.Engine, tenant: str, **values: Any) -> None:
    """Update TENANT's settings row (retention_days, adaptation_opt_out, config) as an operator would.

    On PostgreSQL that is the schema owner (the application role of ENGINE has no UPDATE on
    ``tenants``, migration 0003), in a transaction scoped to TENANT (``tenants`` is under RLS).
    """
    from aion_assets.core.db import tenant_transaction

    owner = engine
    if engine.dialect.name == "postgresql":
        # tests/conftest.py names the pair aion_app_<suffix> / aion_owner_<suffix>.
        app_user = engine.url.username or ""
        owner_url = engine.url.set(username=app_user.replace("aion_app_", "aion_owner_", 1))
        owner = make_engine(owner_url.render_as_string(hide_password=False), pool_size=1)
    try:
        with tenant_transaction(owner, tenant) as conn:
            conn.execute(sa.update(t.tenants).where(t.tenants.c.tenant_id == tenant).values(**values))
    finally:
        if owner is not engine:
            owner.dispose()


def days_ago(days: float) -> datetime:
    """An aware UTC time DAYS ago."""
    return datetime.now(UTC) - timedelta(days=days)

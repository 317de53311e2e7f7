"""Retention: archive, verify, delete, restore, on both backends; a crash between archive and delete.

Protects: only interactions older than the tenant's retention_days leave the hot tables, with
their edits; the archive holds exactly them (verified row count and checksum); a crash after the
archive was written loses nothing and the next run neither duplicates the archive nor leaves the
rows behind; restore brings rows and edits back and is idempotent; the schedule's asset and the
`aion archive` commands do the same work.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from aion_assets.core.errors import ArtifactError, NotFoundError
from aion_assets.memory import tables as t
from aion_assets.memory.assets import interaction_archive
from aion_assets.memory.retention import ArchiveManifest, archive_tenant, day_prefix, restore_day, run_retention
from aion_assets.memory.store import MemoryStore
from tests.pipeline.conftest import Backend, days_ago, seed, set_tenant


class Crash(Exception):
    """Stands for the process dying between archive and delete."""


def _count(engine: sa.Engine, tenant: str) -> tuple[int, int]:
    # The test connects as the application role: counting through the tenant's own transaction.
    from aion_assets.core.db import tenant_transaction

    with tenant_transaction(engine, tenant) as conn:
        n_i = conn.execute(sa.select(sa.func.count()).where(t.interactions.c.tenant_id == tenant)).scalar()
        n_e = conn.execute(sa.select(sa.func.count()).where(t.self_edits.c.tenant_id == tenant)).scalar()
    return int(n_i or 0), int(n_e or 0)


def _tenant(store: MemoryStore, tenant: str):
    return next(x for x in store.list_tenants() if x.tenant_id == tenant)


def test_archive_crash_rerun_and_restore(backend: Backend, tenant: str) -> None:
    engine = backend.engine()
    store = MemoryStore(engine)
    artifacts = backend.artifact_store()
    old_day = (days_ago(40)).replace(hour=12, minute=0, second=0, microsecond=0)
    seed(store, tenant, 7, timestamp=old_day)
    seed(store, tenant, 3, timestamp=old_day + timedelta(days=1))
    seed(store, tenant, 4, timestamp=days_ago(1))  # recent: stays
    set_tenant(engine, tenant, retention_days=30)
    assert _count(engine, tenant) == (14, 14)

    def crash(_manifest: ArchiveManifest) -> None:
        raise Crash

    with pytest.raises(Crash):
        archive_tenant(engine, artifacts, _tenant(store, tenant), before_delete=crash)
    assert _count(engine, tenant) == (14, 14)  # nothing deleted
    written = sorted(artifacts.list(f"archives/{tenant}/"))
    assert len([k for k in written if k.endswith(".jsonl.gz")]) == 1

    # The next run completes the first day's delete, then archives the second day.
    results = archive_tenant(engine, artifacts, _tenant(store, tenant))
    assert [(r.manifest.rows, r.manifest.edits) for r in results] == [(7, 7), (3, 3)]
    assert results[0].reused  # the first day's archive was not written a second time
    assert _count(engine, tenant) == (4, 4)
    archives = sorted(k for k in artifacts.list(f"archives/{tenant}/") if k.endswith(".jsonl.gz"))
    assert len(archives) == 2
    lines = gzip.decompress(artifacts.get_bytes(archives[0])).splitlines()
    assert len(lines) == 7 and all(len(json.loads(line)["self_edits"]) == 1 for line in lines)

    # A third run finds nothing more to do.
    assert archive_tenant(engine, artifacts, _tenant(store, tenant)) == []

    restored = restore_day(engine, artifacts, tenant, old_day.date())
    assert (restored.interactions, restored.edits, restored.skipped) == (7, 7, 0)
    assert _count(engine, tenant) == (11, 11)
    again = restore_day(engine, artifacts, tenant, old_day.date())
    assert (again.interactions, again.skipped) == (0, 7)
    assert _count(engine, tenant) == (11, 11)
    # Restored rows keep their content: curation sees the approved edits again.
    assert sum(1 for _ in store.iter_approved_edits(tenant)) == 11

    with pytest.raises(NotFoundError):
        restore_day(engine, artifacts, tenant, old_day.date() - timedelta(days=3))
    engine.dispose()


def test_corrupt_archive_is_never_trusted(backend: Backend, tenant: str) -> None:
    engine = backend.engine()
    store = MemoryStore(engine)
    artifacts = backend.artifact_store()
    seed(store, tenant, 2, timestamp=days_ago(10))
    set_tenant(engine, tenant, retention_days=5)

    def corrupt(manifest: ArchiveManifest) -> None:
        artifacts.put_bytes(manifest.key, gzip.compress(b'{"interaction": {}}\n'))
        raise Crash

    with pytest.raises(Crash):
        archive_tenant(engine, artifacts, _tenant(store, tenant), before_delete=corrupt)
    # The pending archive fails verification: the run stops and nothing is deleted.
    with pytest.raises(ArtifactError):
        archive_tenant(engine, artifacts, _tenant(store, tenant))
    assert _count(engine, tenant) == (2, 2)
    engine.dispose()


def test_tenants_without_retention_keep_everything(backend: Backend, tenant: str) -> None:
    engine = backend.engine()
    store = MemoryStore(engine)
    seed(store, tenant, 2, timestamp=days_ago(4000))
    run = run_retention(engine, backend.artifact_store(), [_tenant(store, tenant)])
    assert run.results == {} and run.ok
    assert _count(engine, tenant) == (2, 2)
    engine.dispose()


def test_schedule_asset_and_cli(backend: Backend, tenant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = backend.engine()
    store = MemoryStore(engine)
    day = days_ago(20).replace(hour=3)
    seed(store, tenant, 3, timestamp=day)
    set_tenant(engine, tenant, retention_days=10)

    result = dg.materialize(
        [interaction_archive], resources=backend.resources(), instance=dg.DagsterInstance.ephemeral()
    )
    (mat,) = result.asset_materializations_for_node(interaction_archive.op.name)
    per_tenant = mat.metadata["per_tenant"].value
    assert per_tenant[tenant]["rows"] == 3 and per_tenant[tenant]["deleted"] == 3
    assert _count(engine, tenant) == (0, 0)
    assert any(k.endswith(".manifest.json") for k in backend.artifact_store().list(day_prefix(tenant, day.date())))

    from aion_assets.cli import pipeline as cli_pipeline
    from aion_assets.core.settings import get_settings

    monkeypatch.setenv("AION_DATABASE_URL", backend.database.url)
    monkeypatch.setenv("AION_ARTIFACTS_URI", backend.artifacts_uri)
    if backend.s3:
        monkeypatch.setenv("AION_S3_ENDPOINT_URL", backend.s3["endpoint_url"])
        monkeypatch.setenv("AION_S3_REGION", backend.s3["region"])
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", backend.s3["access_key"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", backend.s3["secret_key"])
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(
            cli_pipeline.archive, ["restore", "--tenant", tenant, "--date", day.date().isoformat()]
        )
        assert out.exit_code == 0, out.output
        assert "restored 3 interaction(s) and 3 edit(s)" in out.output
        assert _count(engine, tenant) == (3, 3)
        now = (datetime.now(UTC)).isoformat()
        out = CliRunner().invoke(cli_pipeline.archive, ["run", "--now", now])
        assert out.exit_code == 0, out.output
        assert f"{tenant}: 1 archive(s), 3 interaction(s)" in out.output
        assert _count(engine, tenant) == (0, 0)
    finally:
        get_settings.cache_clear()
    engine.dispose()

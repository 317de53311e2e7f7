"""Retention under concurrency and a hostile object store (security findings 2, 3, 15 and 19).

Protects: an edit added to or changed on an interaction between the archive snapshot and the
delete is neither lost nor half-archived (the interaction stays whole, the next run archives it,
restore brings back the newest version); a manifest planted in the store (another tenant's, an
archive outside the tenant's folder, rows after the cutoff, unsigned while a key is configured)
deletes nothing; one failing tenant (an invalid id, a failing archive) is reported in the run,
the asset's failure metadata and the CLI's output while the other tenants still run, and the run
fails at the end; with a key, archives are encrypted and their manifests signed, restore decrypts,
and a plaintext or tampered archive, a wrong key or no key fails with a clear error.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from aion_assets.core import crypto
from aion_assets.core.db import make_engine, tenant_transaction
from aion_assets.core.errors import ArtifactError
from aion_assets.memory import tables as t
from aion_assets.memory.archive_files import encode_item, row_dict
from aion_assets.memory.archive_format import ArchiveManifest, archive_keys
from aion_assets.memory.assets import interaction_archive
from aion_assets.memory.models import EditorType, EditStatus, SelfEditIn, Tenant
from aion_assets.memory.resources import MemoryStoreResource
from aion_assets.memory.retention import ArchiveResult, archive_tenant, day_prefix, restore_day, run_retention
from aion_assets.memory.store import MemoryStore
from tests.pipeline.conftest import Backend, days_ago, seed, set_tenant


class Crash(Exception):
    """Stands for the process dying between archive and delete."""


def _count(engine: sa.Engine, tenant: str) -> tuple[int, int]:
    with tenant_transaction(engine, tenant) as conn:
        n_i = conn.execute(sa.select(sa.func.count()).where(t.interactions.c.tenant_id == tenant)).scalar()
        n_e = conn.execute(sa.select(sa.func.count()).where(t.self_edits.c.tenant_id == tenant)).scalar()
    return int(n_i or 0), int(n_e or 0)


def _edits(engine: sa.Engine, tenant: str, interaction_id: uuid.UUID) -> list[dict[str, Any]]:
    with tenant_transaction(engine, tenant) as conn:
        rows = conn.execute(
            sa.select(t.self_edits).where(t.self_edits.c.interaction_id == interaction_id).order_by(t.self_edits.c.id)
        )
        return [dict(r._mapping) for r in rows]


def _tenant(store: MemoryStore, tenant: str) -> Tenant:
    return next(x for x in store.list_tenants() if x.tenant_id == tenant)


def _late_edit(store: MemoryStore, tenant: str, interaction_id: uuid.UUID) -> uuid.UUID:
    edit, _ = store.add_self_edit(
        tenant,
        SelfEditIn(
            interaction_id=interaction_id, editor_type=EditorType.human, edited_output="A late fix.", reward_score=1.0
        ),
    )
    return edit.id


def test_edits_made_between_snapshot_and_delete_are_kept(backend: Backend, tenant: str) -> None:
    engine = backend.engine()
    store = MemoryStore(engine)
    artifacts = backend.artifact_store()
    old = days_ago(40).replace(hour=12, minute=0, second=0, microsecond=0)
    a, b, c = seed(store, tenant, 3, timestamp=old, approve=False)
    set_tenant(engine, tenant, retention_days=30)
    b_edit = _edits(engine, tenant, b)[0]["id"]
    late: list[uuid.UUID] = []

    def concurrent_api(_manifest: Any) -> None:
        # What POST /self-edits and POST /self-edits/{id}/review do if they land during upload and verify.
        late.append(_late_edit(store, tenant, a))
        store.review_self_edit(tenant, b_edit, EditStatus.approved, "reviewer@test")

    (first,) = archive_tenant(engine, artifacts, _tenant(store, tenant), before_delete=concurrent_api)
    assert (first.manifest.rows, first.deleted, first.kept) == (3, 1, 2)
    # The changed interactions stay whole, with every edit as it is now; only the unchanged one left.
    assert _count(engine, tenant) == (2, 3)
    assert {e["id"] for e in _edits(engine, tenant, a)} >= set(late)
    assert _edits(engine, tenant, b)[0]["status"] == "approved"
    assert _edits(engine, tenant, c) == []
    snapshot = [json.loads(x) for x in gzip.decompress(artifacts.get_bytes(first.manifest.key)).splitlines()]
    assert len(snapshot) == 3  # the archive holds the snapshot, untouched

    # The next run archives the two changed interactions as they are now, and deletes them.
    (second,) = archive_tenant(engine, artifacts, _tenant(store, tenant))
    assert (second.manifest.rows, second.manifest.edits, second.deleted, second.kept) == (2, 3, 2, 0)
    assert second.manifest.key != first.manifest.key
    assert _count(engine, tenant) == (0, 0)

    # Restore brings back the newest version of each: A with its late edit, B approved.
    restored = restore_day(engine, artifacts, tenant, old.date())
    assert (restored.archives, restored.interactions, restored.edits) == (2, 3, 4)
    assert late[0] in {e["id"] for e in _edits(engine, tenant, a)}
    assert _edits(engine, tenant, b)[0]["status"] == "approved"
    engine.dispose()


def _plant(artifacts: Any, folder: str, name: str, items: list[dict[str, Any]], **fields: Any) -> None:
    data = gzip.compress(b"".join(encode_item(item) for item in items), mtime=0)
    sha = hashlib.sha256(data).hexdigest()
    archive_key = fields.pop("key", f"{folder}{name}.jsonl.gz")
    artifacts.put_bytes(archive_key, data)
    manifest = {
        "tenant_id": "?", "day": "2020-01-01", "key": archive_key, "rows": len(items), "edits": 0, "sha256": sha,
        "ids_sha256": "x", "cutoff": datetime.now(UTC).isoformat(), "created_at": datetime.now(UTC).isoformat(),
    }
    manifest.update(fields)
    artifacts.put_bytes(f"{folder}{name}.manifest.json", json.dumps(manifest).encode())


def _item(engine: sa.Engine, tenant: str, interaction_id: uuid.UUID) -> dict[str, Any]:
    with tenant_transaction(engine, tenant) as conn:
        row = conn.execute(sa.select(t.interactions).where(t.interactions.c.id == interaction_id)).one()
    return {"interaction": row_dict(row._mapping, t.interactions), "self_edits": []}


@pytest.mark.parametrize("case", ["other-tenant", "fresh-row", "key-elsewhere", "unsigned-with-key", "later-cutoff"])
def test_planted_manifest_deletes_nothing(backend: Backend, case: str) -> None:
    engine = backend.engine()
    store = MemoryStore(engine)
    artifacts = backend.artifact_store()
    acme, globex = f"acme-{uuid.uuid4().hex[:8]}", f"globex-{uuid.uuid4().hex[:8]}"
    (fresh_globex,) = seed(store, globex, 1, timestamp=datetime.now(UTC))
    (fresh_acme,) = seed(store, acme, 1, timestamp=datetime.now(UTC))
    set_tenant(engine, acme, retention_days=1)
    cutoff = datetime.now(UTC) - timedelta(days=1)
    yesterday, today = cutoff.date(), datetime.now(UTC).date()
    keys = None
    if case == "other-tenant":  # the finding's repro: globex's manifest and row, under acme's prefix
        _plant(artifacts, day_prefix(acme, date(2020, 1, 1)), "planted", [_item(engine, globex, fresh_globex)],
               tenant_id=globex)
    elif case == "fresh-row":  # acme's own manifest, but the row is newer than the cutoff
        _plant(artifacts, day_prefix(acme, yesterday), "planted", [_item(engine, acme, fresh_acme)],
               tenant_id=acme, day=yesterday.isoformat(), cutoff=cutoff.isoformat())
    elif case == "later-cutoff":  # a manifest claiming a cutoff after the job's
        _plant(artifacts, day_prefix(acme, today), "planted", [_item(engine, acme, fresh_acme)],
               tenant_id=acme, day=today.isoformat(), cutoff=(datetime.now(UTC) + timedelta(days=1)).isoformat())
    elif case == "key-elsewhere":  # the archive it points to lies outside acme's day folder
        _plant(artifacts, day_prefix(acme, yesterday), "planted", [_item(engine, acme, fresh_acme)],
               tenant_id=acme, day=yesterday.isoformat(), cutoff=cutoff.isoformat(), key="elsewhere/x.jsonl.gz")
    else:  # a well-formed but unsigned manifest while an archive key is configured
        keys = archive_keys(crypto.generate_key())
        _plant(artifacts, day_prefix(acme, yesterday), "planted", [_item(engine, acme, fresh_acme)],
               tenant_id=acme, day=yesterday.isoformat(), cutoff=cutoff.isoformat())

    run = run_retention(engine, artifacts, [_tenant(store, acme)], keys=keys)
    # Refused by the manifest check, or (a manifest that checks out) by the row check of the cutoff.
    assert ("after the cutoff" if case == "fresh-row" else "not trusted") in run.failures[acme]
    assert _count(engine, globex) == (1, 1)
    assert _count(engine, acme) == (1, 1)
    engine.dispose()


def _cli_env(monkeypatch: pytest.MonkeyPatch, backend: Backend) -> None:
    monkeypatch.setenv("AION_DATABASE_URL", backend.database.url)
    monkeypatch.setenv("AION_ARTIFACTS_URI", backend.artifacts_uri)
    if backend.s3:
        monkeypatch.setenv("AION_S3_ENDPOINT_URL", backend.s3["endpoint_url"])
        monkeypatch.setenv("AION_S3_REGION", backend.s3["region"])
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", backend.s3["access_key"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", backend.s3["secret_key"])


def test_one_bad_tenant_is_reported_and_the_others_run(
    backend: Backend, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aion_assets.cli import pipeline as cli_pipeline
    from aion_assets.core.settings import get_settings

    engine = backend.engine()
    store = MemoryStore(engine)
    artifacts = backend.artifact_store()
    broken, good = f"{tenant}-broken", f"{tenant}-good"
    seed(store, broken, 2, timestamp=days_ago(10))
    set_tenant(engine, broken, retention_days=5)

    def corrupt(manifest: Any) -> None:
        artifacts.put_bytes(manifest.key, gzip.compress(b'{"interaction": {}}\n'))
        raise Crash

    with pytest.raises(Crash):
        archive_tenant(engine, artifacts, _tenant(store, broken), before_delete=corrupt)
    # An id that cannot be a key segment ("aion tenant" did not validate), inserted by the schema owner.
    owner = make_engine(backend.database.admin_url, pool_size=1)
    with tenant_transaction(owner, "..") as conn:
        conn.execute(sa.insert(t.tenants).values(tenant_id="..", retention_days=1, config={},
                                                 created_at=datetime.now(UTC)))
    try:
        dotdot = next(x for x in store.list_tenants() if x.tenant_id == "..")
        seed(store, good, 3, timestamp=days_ago(10))
        set_tenant(engine, good, retention_days=5)
        run = run_retention(engine, artifacts, [dotdot, _tenant(store, broken), _tenant(store, good)])
        assert not run.ok
        assert "'..' segment" in run.failures[".."]
        assert "failed verification" in run.failures[broken]
        assert good not in run.failures and sum(r.deleted for r in run.results[good]) == 3
        assert _count(engine, broken) == (2, 2) and _count(engine, good) == (0, 0)

        # The asset: the good tenant runs, the failures are in the failure's metadata, the run fails.
        seed(store, good, 2, timestamp=days_ago(9))
        resources = backend.resources()
        resources["memory"] = MemoryStoreResource(
            database_url=backend.database.url, pool_size=2, archive_key=crypto.generate_key().hex()
        )
        result = dg.materialize(
            [interaction_archive], resources=resources, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
        )
        assert not result.success
        (failure,) = result.get_step_failure_events()
        metadata = failure.step_failure_data.user_failure_data.metadata
        assert {"..", broken} <= set(metadata["failures"].value)
        assert metadata["per_tenant"].value[good]["deleted"] == 2 and metadata["encrypted"].value is True
        assert _count(engine, good) == (0, 0)

        # The CLI: the good tenant's line, each failure on stderr, exit status 1; encrypted with a key set.
        seed(store, good, 1, timestamp=days_ago(8))
        _cli_env(monkeypatch, backend)
        monkeypatch.setenv("AION_ARCHIVE_KEY", crypto.generate_key().hex())
        get_settings.cache_clear()
        out = CliRunner().invoke(cli_pipeline.archive, ["run"])
        assert out.exit_code == 1, out.output
        assert f"{good}: 1 archive(s), 1 interaction(s) archived and removed" in out.output
        assert "..: FAILED:" in out.output and f"{broken}: FAILED:" in out.output
        assert _count(engine, good) == (0, 0)
        enc = [k for k in artifacts.list(f"archives/{good}/") if k.endswith(".jsonl.gz.enc")]
        assert len(enc) == 2 and all(crypto.is_encrypted(artifacts.get_bytes(k)) for k in enc)  # asset's, CLI's
    finally:
        get_settings.cache_clear()
        with tenant_transaction(owner, "..") as conn:  # the session's other tests list every tenant
            conn.execute(sa.delete(t.tenants).where(t.tenants.c.tenant_id == ".."))
        set_tenant(engine, broken, retention_days=None)
        owner.dispose()
        engine.dispose()


def test_archives_are_encrypted_and_signed_with_a_key(backend: Backend, tenant: str) -> None:
    engine = backend.engine()
    store = MemoryStore(engine)
    artifacts = backend.artifact_store()
    keys = archive_keys(crypto.generate_key())
    day = days_ago(20).replace(hour=3)
    seed(store, tenant, 3, timestamp=day)
    set_tenant(engine, tenant, retention_days=10)

    def crash(_manifest: Any) -> None:
        raise Crash

    # A crash after the encrypted archive and its signed manifest were written: the next run completes it.
    with pytest.raises(Crash):
        archive_tenant(engine, artifacts, _tenant(store, tenant), keys=keys, before_delete=crash)
    results: list[ArchiveResult] = archive_tenant(engine, artifacts, _tenant(store, tenant), keys=keys)
    assert [(r.deleted, r.reused) for r in results] == [(3, True)]
    manifest = results[0].manifest
    assert manifest.encrypted and manifest.key.endswith(".jsonl.gz.enc") and manifest.mac
    stored = artifacts.get_bytes(manifest.key)
    assert crypto.is_encrypted(stored) and b"ticket" not in stored
    manifest_key = manifest.key.removesuffix(".jsonl.gz.enc") + ".manifest.json"
    assert ArchiveManifest.loads(artifacts.get_bytes(manifest_key)).signature_ok(keys)  # type: ignore[arg-type]

    with pytest.raises(ArtifactError, match="no archive key is configured"):
        restore_day(engine, artifacts, tenant, day.date())
    with pytest.raises(ArtifactError, match="HMAC"):
        restore_day(engine, artifacts, tenant, day.date(), keys=archive_keys(crypto.generate_key()))
    restored = restore_day(engine, artifacts, tenant, day.date(), keys=keys)
    assert (restored.interactions, restored.edits) == (3, 3)
    with tenant_transaction(engine, tenant) as conn:
        conn.execute(sa.delete(t.interactions).where(t.interactions.c.tenant_id == tenant))

    # Tampering: a manifest edited in place, then a plaintext archive where the encrypted one was.
    original = artifacts.get_bytes(manifest_key)
    artifacts.put_bytes(manifest_key, original.replace(b'"rows": 3', b'"rows": 2'))
    with pytest.raises(ArtifactError, match="HMAC"):
        restore_day(engine, artifacts, tenant, day.date(), keys=keys)
    artifacts.put_bytes(manifest_key, original)
    plain = crypto.decrypt_bytes(stored, keys.encryption, associated_data=manifest.key.encode())  # type: ignore[union-attr]
    artifacts.put_bytes(manifest.key, plain)
    with pytest.raises(ArtifactError, match="plaintext where an encrypted archive is expected"):
        restore_day(engine, artifacts, tenant, day.date(), keys=keys)
    assert _count(engine, tenant) == (0, 0)
    engine.dispose()


def test_restore_checks_the_tenant_of_edits(backend: Backend, tenant: str) -> None:
    engine = backend.engine()
    store = MemoryStore(engine)
    artifacts = backend.artifact_store()
    day = days_ago(20).replace(hour=3)
    seed(store, tenant, 1, timestamp=day)
    set_tenant(engine, tenant, retention_days=10)
    (result,) = archive_tenant(engine, artifacts, _tenant(store, tenant))
    assert _count(engine, tenant) == (0, 0)

    # Without a key nothing is signed: whoever writes to the store can rewrite an archive and its
    # manifest consistently. An edit relabelled as another tenant's must still not be restored.
    (item,) = [json.loads(x) for x in gzip.decompress(artifacts.get_bytes(result.manifest.key)).splitlines()]
    item["self_edits"][0]["tenant_id"] = f"{tenant}-other"
    data = gzip.compress(encode_item(item), mtime=0)
    sha = hashlib.sha256(data).hexdigest()
    artifacts.put_bytes(result.manifest.key, data)
    manifest_key = result.manifest.key.removesuffix(".jsonl.gz") + ".manifest.json"
    forged = json.loads(artifacts.get_bytes(manifest_key))
    forged.update(sha256=sha, content_sha256=sha)
    artifacts.put_bytes(manifest_key, json.dumps(forged).encode())
    with pytest.raises(ArtifactError, match="another tenant"):
        restore_day(engine, artifacts, tenant, day.date())
    assert _count(engine, tenant) == (0, 0)
    assert _count(engine, f"{tenant}-other") == (0, 0)
    engine.dispose()


def test_delete_waits_for_an_edit_in_flight_postgres(pg_database: Any, tenant: str, tmp_path: Any) -> None:
    """An edit inserted but not yet committed when the delete starts: the delete waits for it, then keeps the row.

    Without the row lock the delete would not see the uncommitted edit, delete the interaction once
    the insert commits, and the foreign key's cascade would take the new edit with it.
    """
    import threading
    import time

    from aion_assets.core.artifacts import LocalArtifactStore

    engine = make_engine(pg_database.url, pool_size=3)
    store = MemoryStore(engine)
    artifacts = LocalArtifactStore(tmp_path / "artifacts")
    (a,) = seed(store, tenant, 1, timestamp=days_ago(40))
    set_tenant(engine, tenant, retention_days=30)
    late_id = uuid.uuid4()
    outcome: list[Any] = []

    def retention() -> None:
        try:
            outcome.extend(archive_tenant(engine, artifacts, _tenant(store, tenant)))
        except Exception as exc:  # surfaced by the assertion below
            outcome.append(exc)

    with tenant_transaction(engine, tenant) as conn:  # the API's POST /self-edits, in flight
        conn.execute(sa.insert(t.self_edits).values(
            id=late_id, tenant_id=tenant, interaction_id=a, agent_id="support-bot", editor_type="human",
            original_output="Let me check.", edited_output="A late fix.", reward_score=1.0, status="pending",
            timestamp=datetime.now(UTC), metadata={},
        ))
        worker = threading.Thread(target=retention)
        worker.start()
        # Wait (not a timing assertion: the bound only keeps a broken build from hanging) until the
        # retention's delete is blocked on a row lock held by this uncommitted insert.
        deadline = time.monotonic() + 60
        with engine.connect() as probe:
            while True:
                waiting = probe.execute(sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )).scalar()
                probe.rollback()
                if waiting or not worker.is_alive() or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        assert waiting, f"the retention run never waited for the in-flight edit: {outcome}"
    worker.join(60)
    (result,) = outcome
    assert isinstance(result, ArchiveResult) and (result.deleted, result.kept) == (0, 1)
    assert late_id in {e["id"] for e in _edits(engine, tenant, a)}
    assert _count(engine, tenant) == (1, 2)
    engine.dispose()


def test_the_definitions_pass_the_archive_key_to_the_asset() -> None:
    from aion_assets.core.settings import Settings
    from aion_assets.definitions import resources_from_settings

    adapter, archive = crypto.generate_key().hex(), crypto.generate_key().hex()
    plain = resources_from_settings(Settings(database_url="sqlite:///x.db"))["memory"]
    assert isinstance(plain, MemoryStoreResource) and plain.archive_keys() is None
    fallback = resources_from_settings(Settings(database_url="sqlite:///x.db", adapter_key=adapter))["memory"]
    own = resources_from_settings(Settings(database_url="sqlite:///x.db", adapter_key=adapter, archive_key=archive))
    assert isinstance(fallback, MemoryStoreResource) and fallback.archive_key == adapter
    assert own["memory"].archive_key == archive  # type: ignore[attr-defined]

"""Protects: the runbook's way of purging a user from a retention archive (docs/operations.md, "Purging"),
on both backends with encrypted, signed archives: restore the day, purge the user, archive the day
again (a new archive, since its rows changed), delete the day's older archive objects; a later restore
of that day brings back every other user's rows and none of the purged user's."""

from __future__ import annotations

import os

import sqlalchemy as sa

from aion_assets.core.db import tenant_transaction
from aion_assets.memory import tables as t
from aion_assets.memory.archive_format import ArchiveManifest, archive_keys, is_manifest, marker_key
from aion_assets.memory.purge import purge
from aion_assets.memory.retention import archive_tenant, day_prefix, restore_day
from aion_assets.memory.store import MemoryStore
from tests.pipeline.conftest import Backend, days_ago, seed, set_tenant


def _users(engine: sa.Engine, tenant: str) -> list[str]:
    i = t.interactions.c
    with tenant_transaction(engine, tenant, read_only=True) as conn:
        return sorted(r[0] for r in conn.execute(sa.select(i.user_id).where(i.tenant_id == tenant)))


def test_rewriting_a_day_archive_without_a_purged_user(backend: Backend, tenant: str) -> None:
    engine = backend.engine()
    store = MemoryStore(engine)
    artifacts = backend.artifact_store()
    keys = archive_keys(os.urandom(32))
    old = days_ago(40).replace(hour=12, minute=0, second=0, microsecond=0)
    seed(store, tenant, 5, timestamp=old)  # users user-0 .. user-4
    set_tenant(engine, tenant, retention_days=30)
    tenant_row = store.get_tenant(tenant)
    assert tenant_row is not None
    (first,) = archive_tenant(engine, artifacts, tenant_row, keys=keys)
    assert _users(engine, tenant) == []

    restore_day(engine, artifacts, tenant, old.date(), keys=keys)
    assert purge(engine, tenant, user_id="user-2").to_dict()["interactions"] == 1
    (second,) = archive_tenant(engine, artifacts, tenant_row, keys=keys)
    assert second.manifest.key != first.manifest.key and second.manifest.rows == 4
    # The runbook's last step: delete every archive object of the day older than the newest manifest.
    found = {k: ArchiveManifest.loads(artifacts.get_bytes(k))
             for k in artifacts.list(day_prefix(tenant, old.date())) if is_manifest(k)}
    newest = max(m.created_at for m in found.values())
    older = [(k, m) for k, m in found.items() if m.created_at < newest]
    assert [m.key for _, m in older] == [first.manifest.key]
    for manifest_key, manifest in older:
        for key in (manifest_key, manifest.key, marker_key(manifest_key)):
            artifacts.delete(key)

    back = restore_day(engine, artifacts, tenant, old.date(), keys=keys)
    assert (back.archives, back.interactions) == (1, 4)
    assert _users(engine, tenant) == ["user-0", "user-1", "user-3", "user-4"]
    engine.dispose()

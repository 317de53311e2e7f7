"""Retention: archive old interactions (with their self-edits) to the artifact store, then delete them.

Per tenant with ``retention_days`` set, interactions older than the cutoff ``now - retention_days``
are archived one calendar day (UTC) at a time; the format (gzip JSONL, optionally encrypted, with
a signed manifest) is described in ``memory.archive_format``. Layout, per tenant and day::

    archives/{tenant}/interactions/{YYYY-MM-DD}/{digest}.jsonl.gz[.enc]   the rows
    archives/{tenant}/interactions/{YYYY-MM-DD}/{digest}.manifest.json    tenant, day, cutoff, sums, HMAC
    archives/{tenant}/interactions/{YYYY-MM-DD}/{digest}.deleted.json     written after the delete

Retention is decided by the interaction's ``timestamp``, the event time the client sent: a row
dated in the past is archived by the next run, one dated far in the future stays hot until its
time comes. The API's timestamp bounds are what limit both.

Crash and concurrency safety, step by step:

1. The day's rows are read in pages, each in its own short read-only transaction, and written
   to a local gzip file with deterministic bytes only after that transaction has ended
   (``memory.retention_snapshot``): no transaction is open while the archive is written, uploaded
   and verified, so ingestion never waits for retention. The archive's key is a digest of its
   bytes, so archiving the same rows again gives the same key and the same content, never a
   second archive of them; changed rows give a new key.
2. The object is uploaded (encrypted when a key is configured), read back, decrypted, and its
   checksums and row count checked. Only then is the manifest written (signed when a key is
   configured). A crash up to here leaves every row in place; the next run repeats 1-2.
3. The delete (``memory.retention_delete``) runs in ONE short write transaction, driven by the
   verified local copy of the archive, not by the manifest's word: for each archived interaction
   it locks the current row (``FOR UPDATE`` on PostgreSQL, which also blocks a concurrent insert
   of a new edit, since the foreign-key check needs a share lock on that row; SQLite's
   ``BEGIN IMMEDIATE`` serialises all writers), reads its current edits, and deletes the
   interaction and its edits only if they are exactly the archived ones and its timestamp is
   before both the manifest's and this run's cutoff. An interaction with an edit added or
   changed since it was read is left in place, whole, with all its edits; the
   next run archives it again (new content, new key). So nothing is lost, and nothing is half
   archived: a row leaves the hot tables only together with an archive that holds it as it was.
4. The ``deleted`` marker is written after the commit. A crash between 2 and 4 leaves a manifest
   without marker: the next run first checks that manifest (step 5), verifies its archive and
   repeats step 3, which is idempotent (rows already gone are simply absent).
5. A manifest read back from the store is trusted only if its HMAC verifies (when a key is
   configured), it names this tenant, its archive lies beside it in this tenant's day folder, and
   its cutoff is not later than this run's. A manifest planted under a tenant's prefix therefore
   deletes nothing; and even a trusted one only ever deletes this tenant's rows that are unchanged
   copies of its archive and older than the cutoff.

One tenant's failure (an invalid id, a failing archive, a store error) is recorded and the other
tenants still run; callers fail the run at the end (`RetentionRun.failures`).

Restore (``aion archive restore --tenant T --date D``) inserts a day's archived rows back, skipping
ids that are already present; the newest archive of an interaction wins. Restored rows older than
the retention window are archived again by the next run; raise the tenant's ``retention_days`` to
keep them.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from aion_assets.core.artifacts import ArtifactStore
from aion_assets.core.errors import ArtifactError
from aion_assets.memory.archive_files import canonical, fetch_verified, file_sha256, seal
from aion_assets.memory.archive_format import (
    FORMAT_VERSION,
    ArchiveKeys,
    ArchiveManifest,
    day_bounds,
    day_prefix,
    is_manifest,
    load_trusted,
    manifest_key_for,
    marker_key,
    object_key,
    tenant_prefix,
)
from aion_assets.memory.models import Tenant, utc
from aion_assets.memory.restore import RestoreResult, restore_day  # re-exported: the CLI's import path
from aion_assets.memory.retention_delete import delete_archived
from aion_assets.memory.retention_snapshot import next_day_with_data, write_day

log = logging.getLogger(__name__)
BeforeDelete = Callable[[ArchiveManifest], None]


@dataclass(frozen=True)
class ArchiveResult:
    """The outcome of archiving one tenant/day (or completing a crashed run's delete).

    ``kept`` counts archived interactions left in place because they changed since the snapshot.
    """

    manifest: ArchiveManifest
    deleted: int
    reused: bool
    kept: int = 0


@dataclass
class RetentionRun:
    """The outcome of one retention run: results of the tenants that ran, errors of those that failed."""

    results: dict[str, list[ArchiveResult]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every tenant ran to the end."""
        return not self.failures


# -- delete -----------------------------------------------------------------------------------


def _finish(
    engine: Engine,
    artifacts: ArtifactStore,
    tenant_id: str,
    manifest: ArchiveManifest,
    manifest_key: str,
    plain: Path,
    cutoff: datetime,
    before_delete: BeforeDelete | None,
) -> tuple[int, int]:
    if before_delete is not None:
        before_delete(manifest)
    deleted, kept = delete_archived(engine, tenant_id, manifest, plain, cutoff, artifacts.uri(manifest.key))
    marker = {"deleted": deleted, "kept": kept, "at": datetime.now(UTC).isoformat()}
    artifacts.put_bytes(marker_key(manifest_key), canonical(marker).encode())
    if kept:
        log.warning(
            "%d archived interaction(s) of %s on %s changed since the snapshot and stay for the next run",
            kept, manifest.tenant_id, manifest.day,
        )
    return deleted, kept


# -- archiving --------------------------------------------------------------------------------


def _pending_manifests(artifacts: ArtifactStore, tenant_id: str) -> list[str]:
    keys = list(artifacts.list(tenant_prefix(tenant_id)))
    present = set(keys)
    return [k for k in keys if is_manifest(k) and marker_key(k) not in present]


def archive_tenant(
    engine: Engine,
    artifacts: ArtifactStore,
    tenant: Tenant,
    *,
    now: datetime | None = None,
    keys: ArchiveKeys | None = None,
    before_delete: BeforeDelete | None = None,
) -> list[ArchiveResult]:
    """Archive and delete TENANT's interactions older than its retention window.

    Args:
        now: the reference time (default: now, UTC); the cutoff is ``now - retention_days``.
        keys: archive keys (`archive_format.archive_keys_from_settings`); None stores plaintext.
        before_delete: called with each verified manifest just before its rows are deleted
            (operators' audit hook; tests inject a crash or a concurrent edit there).

    Returns:
        One result per archive completed (including deletes left over by a crashed run).

    Raises:
        ArtifactError: a manifest is not trusted or an archive failed verification (nothing of it deleted).
        InvalidKeyError: the tenant id cannot be an artifact-key segment.
    """
    results: list[ArchiveResult] = []
    _archive_tenant(engine, artifacts, tenant, now, keys, before_delete, results)
    return results


def _archive_tenant(
    engine: Engine,
    artifacts: ArtifactStore,
    tenant: Tenant,
    now: datetime | None,
    keys: ArchiveKeys | None,
    before_delete: BeforeDelete | None,
    results: list[ArchiveResult],
) -> None:
    if tenant.retention_days is None:
        return
    cutoff = utc(now or datetime.now(UTC)) - timedelta(days=tenant.retention_days)
    tenant_id = tenant.tenant_id
    with tempfile.TemporaryDirectory(prefix="aion-archive-") as tmp:
        # First finish what a crashed run archived and verified but did not delete.
        for manifest_key in _pending_manifests(artifacts, tenant_id):
            manifest = load_trusted(artifacts, manifest_key, tenant_id, keys, cutoff)
            plain = fetch_verified(artifacts, manifest, keys, Path(tempfile.mkdtemp(dir=tmp)))
            deleted, kept = _finish(engine, artifacts, tenant_id, manifest, manifest_key, plain, cutoff, before_delete)
            results.append(ArchiveResult(manifest, deleted, True, kept))
        start: datetime | None = None
        while (day := next_day_with_data(engine, tenant_id, start, cutoff)) is not None:
            day_start, day_end = day_bounds(day, cutoff)
            path = Path(tempfile.mkdtemp(dir=tmp)) / f"{day.isoformat()}.jsonl.gz"
            # Read in pages, each transaction ended before its rows are written; the delete re-checks.
            rows, edits, ids_sha = write_day(engine, tenant_id, day_start, day_end, path)
            start = day_start + timedelta(days=1)
            if rows:
                results.append(
                    _archive_file(engine, artifacts, tenant_id, day, path, (rows, edits, ids_sha), cutoff, keys,
                                  before_delete)
                )


def _reusable(
    artifacts: ArtifactStore, manifest_key: str, tenant_id: str, keys: ArchiveKeys | None, content_sha: str,
    folder: Path,
) -> ArchiveManifest | None:
    """A trusted manifest already stored for these very bytes (a crashed run, or rows restored and due again)."""
    if not artifacts.exists(manifest_key):
        return None
    try:
        manifest = load_trusted(artifacts, manifest_key, tenant_id, keys, None)
        if manifest.content_sha256 != content_sha:
            return None
        fetch_verified(artifacts, manifest, keys, folder)
    except ArtifactError:
        return None  # rewritten below from the rows, which are still in place
    return manifest


def _archive_file(
    engine: Engine,
    artifacts: ArtifactStore,
    tenant_id: str,
    day: date,
    path: Path,
    counts: tuple[int, int, str],
    cutoff: datetime,
    keys: ArchiveKeys | None,
    before_delete: BeforeDelete | None,
) -> ArchiveResult:
    rows, edits, ids_sha = counts
    content_sha = file_sha256(path)
    manifest_key = manifest_key_for(day_prefix(tenant_id, day) + content_sha[:24])
    key = object_key(manifest_key, keys is not None)
    previous = _reusable(artifacts, manifest_key, tenant_id, keys, content_sha, Path(tempfile.mkdtemp(dir=path.parent)))
    if previous is not None:
        stored_sha = previous.sha256
    else:
        upload = seal(path, key, keys, path.parent / "sealed")
        stored_sha = file_sha256(upload)
        artifacts.put_file(key, upload)
    manifest = ArchiveManifest(
        tenant_id=tenant_id,
        day=day.isoformat(),
        key=key,
        rows=rows,
        edits=edits,
        sha256=stored_sha,
        ids_sha256=ids_sha,
        cutoff=cutoff.isoformat(),
        created_at=datetime.now(UTC).isoformat(),
        content_sha256=content_sha,
        encrypted=keys is not None,
        format=FORMAT_VERSION,
    ).signed(keys)
    # Read back what the store holds: the delete is driven by this verified copy.
    plain = fetch_verified(artifacts, manifest, keys, Path(tempfile.mkdtemp(dir=path.parent)))
    artifacts.put_bytes(manifest_key, manifest.dumps())
    deleted, kept = _finish(engine, artifacts, tenant_id, manifest, manifest_key, plain, cutoff, before_delete)
    log.info("archived %d interactions of %s on %s to %s", rows, tenant_id, day, artifacts.uri(key))
    return ArchiveResult(manifest, deleted, previous is not None, kept)


def _describe(exc: Exception) -> str:
    # SQLAlchemy's message carries the statement's parameters (interaction text): keep the driver's line only.
    if isinstance(exc, sa.exc.StatementError) and exc.orig is not None:
        first = (str(exc.orig).strip().splitlines() or [""])[0]
        return f"{type(exc.orig).__name__}: {first}"
    return f"{type(exc).__name__}: {exc}"


def run_retention(
    engine: Engine,
    artifacts: ArtifactStore,
    tenants: Sequence[Tenant],
    *,
    now: datetime | None = None,
    keys: ArchiveKeys | None = None,
    before_delete: BeforeDelete | None = None,
) -> RetentionRun:
    """Apply retention to every tenant of TENANTS that has ``retention_days``.

    A tenant that fails (invalid id, untrusted manifest, failing archive, store error) is recorded
    in ``failures`` and skipped; the others still run. Callers fail the run when ``failures`` is
    not empty. Results of a failed tenant list what it completed before the failure.
    """
    run = RetentionRun()
    for tenant in tenants:
        if tenant.retention_days is None:
            continue
        results = run.results.setdefault(tenant.tenant_id, [])
        try:
            _archive_tenant(engine, artifacts, tenant, now, keys, before_delete, results)
        except Exception as exc:  # one tenant must not stop the others; reported and failed at the end
            run.failures[tenant.tenant_id] = _describe(exc)
            log.error("retention of tenant %r failed: %s", tenant.tenant_id, run.failures[tenant.tenant_id])
    return run


__all__ = [
    "ArchiveManifest",
    "ArchiveResult",
    "RestoreResult",
    "RetentionRun",
    "archive_tenant",
    "day_prefix",
    "restore_day",
    "run_retention",
]

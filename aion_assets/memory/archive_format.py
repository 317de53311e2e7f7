"""The retention archive's format: keys, layout, signed manifests and their trust.

An archive is gzip-compressed JSONL (deterministic bytes: no gzip timestamp), one line per
interaction with its self-edits; when an archive key is configured the gzip bytes are encrypted
with ``core.crypto`` (AES-256-GCM, associated data = the archive's artifact key, so a ciphertext
copied to another key or tenant does not decrypt). Beside it, a manifest records the tenant, the
day, the cutoff, row counts and checksums, and an HMAC-SHA256 over all of that.

Trust: a manifest read from the store is used only after `check_manifest` (its HMAC when a key is
configured; in every case its tenant, its key under that tenant's day folder, and its cutoff no
later than the job's). The object store is not trusted: whoever can write to it can plant files,
and a checksum stored next to the data proves nothing on its own.

Keys: ``AION_ARCHIVE_KEY``, else ``AION_ADAPTER_KEY`` (32 bytes, base64 or hex). Two subkeys are
derived from it with HKDF (one encrypts, one signs), so the adapter key is never used as is here.

The archive files themselves (rows, checksums, encryption, the verified fetch) are in
``memory.archive_files``; the day snapshot and the delete in ``memory.retention_snapshot`` and
``memory.retention_delete``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from aion_assets.core import crypto
from aion_assets.core.artifacts import ArtifactStore, key_segment
from aion_assets.core.errors import ArtifactError
from aion_assets.memory.models import utc

FORMAT_VERSION = 2
_MANIFEST = ".manifest.json"


# -- keys -------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class ArchiveKeys:
    """The two subkeys of the configured archive key: encryption and manifest signing."""

    encryption: bytes
    signing: bytes

    def __repr__(self) -> str:  # never print key material
        return "ArchiveKeys(<hidden>)"


def archive_keys(master: bytes | None) -> ArchiveKeys | None:
    """Derive the archive subkeys from a 32-byte MASTER key; None (no encryption) when MASTER is None."""
    if master is None:
        return None

    def derive(info: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)

    return ArchiveKeys(encryption=derive(b"aion-archive-encrypt-v1"), signing=derive(b"aion-archive-sign-v1"))


def archive_keys_from_settings(settings: Any) -> ArchiveKeys | None:
    """The subkeys of ``AION_ARCHIVE_KEY`` (or ``AION_ADAPTER_KEY``); None when neither is set.

    Raises:
        ConfigError: the configured key is not 32 bytes of base64 or hex.
    """
    secret = getattr(settings, "archive_key", None) or getattr(settings, "adapter_key", None)
    if secret is None:
        return None
    return archive_keys(crypto.load_key(secret.get_secret_value()))


# -- layout -----------------------------------------------------------------------------------


def tenant_prefix(tenant_id: str) -> str:
    """The folder of all of a tenant's archives (with trailing ``/``)."""
    return f"archives/{key_segment(tenant_id)}/interactions/"


def day_prefix(tenant_id: str, day: date) -> str:
    """The artifact-store folder of one tenant's archives of one day (with trailing ``/``)."""
    return f"{tenant_prefix(tenant_id)}{day.isoformat()}/"


def object_key(manifest_key: str, encrypted: bool) -> str:
    """The archive object that belongs beside MANIFEST_KEY."""
    return manifest_key.removesuffix(_MANIFEST) + (".jsonl.gz.enc" if encrypted else ".jsonl.gz")


def manifest_key_for(base: str) -> str:
    """The manifest key of the archive whose keys start with BASE."""
    return base + _MANIFEST


def marker_key(manifest_key: str) -> str:
    """The ``deleted`` marker written once an archive's rows left the hot tables."""
    return manifest_key.removesuffix(_MANIFEST) + ".deleted.json"


def is_manifest(key: str) -> bool:
    """Whether KEY names a manifest."""
    return key.endswith(_MANIFEST)


def day_bounds(day: date, cutoff: datetime) -> tuple[datetime, datetime]:
    """[start, end) of DAY (UTC), the end capped at CUTOFF."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, min(start + timedelta(days=1), cutoff)


# -- manifest ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArchiveManifest:
    """What one archive object holds; stored beside it as ``{digest}.manifest.json``.

    ``sha256`` is the stored object's checksum (ciphertext when encrypted), ``content_sha256`` the
    gzip bytes' (equal when not encrypted); ``mac`` is ``hmac-sha256:<hex>`` over every other field.
    """

    tenant_id: str
    day: str
    key: str
    rows: int
    edits: int
    sha256: str
    ids_sha256: str
    cutoff: str
    created_at: str
    content_sha256: str = ""
    encrypted: bool = False
    format: int = 1
    mac: str | None = None

    def _payload(self) -> bytes:
        body = {k: v for k, v in asdict(self).items() if k != "mac"}
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    def signed(self, keys: ArchiveKeys | None) -> ArchiveManifest:
        """This manifest with its HMAC set (unchanged when KEYS is None)."""
        if keys is None:
            return replace(self, mac=None)
        return replace(self, mac="hmac-sha256:" + hmac.new(keys.signing, self._payload(), hashlib.sha256).hexdigest())

    def signature_ok(self, keys: ArchiveKeys) -> bool:
        """Whether ``mac`` is this manifest's HMAC under KEYS."""
        return self.mac is not None and hmac.compare_digest(self.mac, self.signed(keys).mac or "")

    def dumps(self) -> bytes:
        """The manifest as JSON bytes."""
        return json.dumps(asdict(self), sort_keys=True, indent=1).encode()

    @classmethod
    def loads(cls, data: bytes) -> ArchiveManifest:
        """Parse a manifest written by :meth:`dumps` (or by the unsigned format 1).

        Raises:
            ArtifactError: not a JSON object with the manifest's fields.
        """
        try:
            raw = json.loads(data)
            known = {f.name for f in fields(cls)}
            manifest = cls(**{k: v for k, v in raw.items() if k in known})
        except (ValueError, TypeError, AttributeError) as exc:
            raise ArtifactError(f"not a retention manifest: {exc}") from None
        if not manifest.content_sha256 and not manifest.encrypted:
            manifest = replace(manifest, content_sha256=manifest.sha256)  # format 1: gzip bytes stored as is
        return manifest


def check_manifest(
    manifest: ArchiveManifest,
    manifest_key: str,
    *,
    tenant_id: str,
    keys: ArchiveKeys | None,
    cutoff: datetime | None,
    uri: str,
) -> None:
    """Refuse a manifest that this job did not (or could not have) written for TENANT_ID.

    Args:
        manifest_key: where the manifest was read; its archive must lie beside it.
        cutoff: the job's cutoff; a manifest recording a later one is refused (None: restore).
        uri: the manifest's URI, for messages.

    Raises:
        ArtifactError: the HMAC is missing or wrong (a key is configured), the manifest is signed
            but no key is configured, or its tenant, day folder, archive key or cutoff do not match.
    """
    def refuse(why: str) -> ArtifactError:
        return ArtifactError(f"retention manifest {uri} is not trusted: {why}; nothing was deleted or restored")

    if keys is not None and not manifest.signature_ok(keys):
        raise refuse(
            "its HMAC is missing or wrong under the configured archive key (AION_ARCHIVE_KEY or AION_ADAPTER_KEY); "
            "it was altered, planted, or written under another key"
        )
    if keys is None and manifest.mac is not None:
        raise refuse("it is signed but no archive key is configured; set AION_ARCHIVE_KEY (or AION_ADAPTER_KEY)")
    if keys is not None and not manifest.encrypted:
        raise refuse("it describes a plaintext archive, but an archive key is configured")
    if manifest.tenant_id != tenant_id:
        raise refuse(f"it names tenant {manifest.tenant_id!r}, the job runs for {tenant_id!r}")
    try:
        day = date.fromisoformat(manifest.day)
        recorded_cutoff = utc(datetime.fromisoformat(manifest.cutoff))
    except (TypeError, ValueError):
        raise refuse("its day or cutoff is not an ISO 8601 date") from None
    if not manifest_key.startswith(day_prefix(tenant_id, day)) or manifest.key != object_key(
        manifest_key, manifest.encrypted
    ):
        raise refuse(f"its archive key {manifest.key!r} is not beside it in {day_prefix(tenant_id, day)!r}")
    if cutoff is not None and recorded_cutoff > cutoff:
        raise refuse(f"its cutoff {manifest.cutoff} is later than this run's {cutoff.isoformat()}")
    if day_bounds(day, recorded_cutoff)[0] >= recorded_cutoff:
        raise refuse(f"its day {manifest.day} is not before its cutoff {manifest.cutoff}")



def load_trusted(
    artifacts: ArtifactStore, manifest_key: str, tenant_id: str, keys: ArchiveKeys | None, cutoff: datetime | None
) -> ArchiveManifest:
    """Read the manifest at MANIFEST_KEY and `check_manifest` it (ArtifactError when not trusted)."""
    uri = artifacts.uri(manifest_key)
    try:
        manifest = ArchiveManifest.loads(artifacts.get_bytes(manifest_key))
    except ArtifactError as exc:
        raise ArtifactError(f"retention manifest {uri} is not trusted: {exc}") from None
    check_manifest(manifest, manifest_key, tenant_id=tenant_id, keys=keys, cutoff=cutoff, uri=uri)
    return manifest


__all__ = [
    "FORMAT_VERSION",
    "ArchiveKeys",
    "ArchiveManifest",
    "archive_keys",
    "archive_keys_from_settings",
    "check_manifest",
    "day_bounds",
    "day_prefix",
    "is_manifest",
    "load_trusted",
    "manifest_key_for",
    "marker_key",
    "object_key",
    "tenant_prefix",
]

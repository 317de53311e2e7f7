"""Protects: a version's lineage on GET /models/{id}, through HTTP on SQLite and PostgreSQL: the parent (id, name,
status), dataset version, evaluation run id, source edit count, and the source self-edit ids read from the dataset's
manifest in the artifact store, at the key the dataset asset writes (seal.datasets.versions.dataset_prefix, tenant
ids with separators included); the app `aion api` builds from its settings reads AION_ARTIFACTS_URI. When the ids
cannot be read (no store, no manifest, an older manifest without them, a manifest of another tenant, a version that
is not a folder name) they are null and the reason is given, while the rest of the answer stands; the list is cut
at edit_ids_limit (the total still given); another tenant gets 404."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from aion_assets.core.artifacts import LocalArtifactStore
from aion_assets.registry.lineage import manifest_key
from aion_assets.seal.datasets.versions import dataset_prefix
from tests.registry.conftest import build_app, manifest_hash, settings_client

Headers = Callable[..., dict[str, str]]
EDITS = [str(uuid.uuid4()) for _ in range(3)]


def write_manifest(store: LocalArtifactStore, tenant: str, version: str, **overrides: Any) -> None:
    """A manifest shaped as seal/sft_dataset writes it, where it writes it."""
    doc = {"tenant_id": tenant, "domain": "support", "version": version, "content_hash": version * 4,
           "rows": {"train": 2, "eval": 1}, "source_edit_ids": sorted(EDITS)} | overrides
    store.put_bytes(f"{dataset_prefix(tenant, 'support', version)}/manifest.json", json.dumps(doc).encode())


def register(client: TestClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    body = {"manifest_sha256": manifest_hash(), "adapter_uri": "file:///a/v1", "base_model": "aion-base",
            "domain": "support", "dataset_version": "0123456789abcdef", "evaluation_run_id": "run-42",
            "source_edit_count": 3} | overrides
    r = client.post("/models", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("tenant_id", ["acme", "acme/eu@x"], ids=["plain", "quoted"])
def test_manifest_key_is_where_the_dataset_asset_writes(tenant_id: str) -> None:
    assert manifest_key(tenant_id, "support", "0123456789abcdef") == (
        f"{dataset_prefix(tenant_id, 'support', '0123456789abcdef')}/manifest.json"
    )
    for bad in ("..", "../other", "a/b", ""):
        with pytest.raises(ValueError, match="dataset_version"):
            manifest_key(tenant_id, "support", bad)


def test_lineage_with_parent_and_source_edits(database, headers: Headers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tenant = "acme/" + uuid.uuid4().hex[:6]  # a tenant id whose key segment is percent-quoted
    store = LocalArtifactStore(tmp_path)
    write_manifest(store, tenant, "0123456789abcdef")
    with TestClient(build_app(database.url, artifact_store=store)) as client:
        admin = headers(tenant, "admin")
        parent = register(client, admin, dataset_version=None, evaluation_run_id=None, source_edit_count=None)
        child = register(client, admin, parent_id=parent["id"])
        got = client.get(f"/models/{child['id']}", headers=headers(tenant, "writer")).json()
        assert got["lineage"] == {
            "parent": {"id": parent["id"], "name": parent["name"], "status": "candidate"},
            "dataset_version": "0123456789abcdef",
            "evaluation_run_id": "run-42",
            "source_edit_count": 3,
            "dataset_manifest_uri": store.uri(manifest_key(tenant, "support", "0123456789abcdef")),
            "source_edit_ids": sorted(EDITS),
            "source_edit_ids_total": 3,
            "source_edit_ids_error": None,
        }
        assert {k: v for k, v in got.items() if k != "lineage"} == child
        cut = client.get(f"/models/{child['id']}", params={"edit_ids_limit": 2}, headers=admin).json()["lineage"]
        assert cut["source_edit_ids"] == sorted(EDITS)[:2] and cut["source_edit_ids_total"] == 3
        r = client.get(f"/models/{child['id']}", params={"edit_ids_limit": -1}, headers=admin)
        assert r.status_code == 422 and r.json()["field"] == "edit_ids_limit"
        root = client.get(f"/models/{parent['id']}", headers=admin).json()["lineage"]
        assert root["parent"] is None and root["source_edit_ids"] is None
        assert "no dataset_version" in root["source_edit_ids_error"]
        assert client.get(f"/models/{child['id']}", headers=headers("other-" + uuid.uuid4().hex[:6], "admin")
                          ).status_code == 404


def test_unreadable_edit_ids_are_null_with_the_reason(database, headers: Headers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tenant = "t-" + uuid.uuid4().hex[:8]
    store = LocalArtifactStore(tmp_path)
    write_manifest(store, tenant, "00000000000000aa", source_edit_ids=None)
    write_manifest(store, tenant, "00000000000000bb", tenant_id="someone-else")
    (tmp_path / dataset_prefix(tenant, "support", "00000000000000cc")).mkdir(parents=True)
    (tmp_path / dataset_prefix(tenant, "support", "00000000000000cc") / "manifest.json").write_text("{torn")
    cases = {
        "00000000000000aa": "predates source_edit_ids",
        "00000000000000bb": "another tenant",
        "00000000000000cc": "not JSON",
        "00000000000000dd": "not readable",
        "../../etc": "not a dataset folder name",
    }
    with TestClient(build_app(database.url, artifact_store=store)) as client:
        admin = headers(tenant, "admin")
        models = {version: register(client, admin, dataset_version=version) for version in cases}
        for version, reason in cases.items():
            r = client.get(f"/models/{models[version]['id']}", headers=admin)
            assert r.status_code == 200, r.text
            lineage = r.json()["lineage"]
            assert lineage["source_edit_ids"] is None and lineage["source_edit_ids_total"] is None
            assert reason in lineage["source_edit_ids_error"], (version, lineage)
            assert lineage["dataset_version"] == version and lineage["source_edit_count"] == 3
    with TestClient(build_app(database.url)) as client:  # no artifact store configured
        lineage = client.get(f"/models/{models['00000000000000aa']['id']}", headers=admin).json()["lineage"]
        assert lineage["source_edit_ids"] is None and "AION_ARTIFACTS_URI" in lineage["source_edit_ids_error"]


def test_app_from_settings_reads_the_configured_artifact_store(
    database, headers: Headers, monkeypatch: pytest.MonkeyPatch, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    tenant = "t-" + uuid.uuid4().hex[:8]
    store = LocalArtifactStore(tmp_path / "artifacts")
    write_manifest(store, tenant, "0123456789abcdef")
    client = settings_client(database, monkeypatch, tmp_path / "home", AION_ARTIFACTS_URI=(tmp_path / "artifacts"
                                                                                         ).as_uri())
    with client:
        model = register(client, headers(tenant, "admin", subject="alice"))
        lineage = client.get(f"/models/{model['id']}", headers=headers(tenant, "admin")).json()["lineage"]
        assert lineage["source_edit_ids"] == sorted(EDITS) and lineage["source_edit_ids_error"] is None

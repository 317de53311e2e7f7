"""Protects: ``aion purge`` as an operator runs it (a real process), on SQLite + a local folder and on
PostgreSQL (the application role) + SeaweedFS S3, against a dataset version the real ``seal/sft_dataset``
asset wrote and model versions registered on it.

A dry run deletes nothing and names what a purge affects: the user's interactions and edits, the
dataset version whose manifest lists the user's edit (lineage), the scrubbed_edits file holding it,
and the model versions trained on that dataset with their status and routes (a version trained on
another dataset is not named), plus the tenant's retention archive days. The purge then deletes the
user's rows only (other users and another tenant with the same user id keep theirs); with
``--delete-datasets`` the dataset version's files and the scrubbed file go; with ``--retire`` the
affected versions that serve no route are retired or rejected while the routed one is left for the
operator. A second purge deletes nothing; bad flags exit 2 with a one-line message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from aion_assets.core.artifacts import key_segment
from aion_assets.core.db import tenant_transaction
from aion_assets.memory import tables as t
from aion_assets.memory.assets import interactions
from aion_assets.memory.store import MemoryStore
from aion_assets.registry.models import ModelStatus, RouteIn
from aion_assets.registry.sql_store import SqlRegistryStore
from aion_assets.seal.datasets.assets import scrubbed_edits, sft_dataset, tenant_vocabulary
from aion_assets.seal.partitions import TENANT_DOMAINS
from tests.pipeline.conftest import Backend, seed
from tests.registry.conftest import version_in

pytestmark = pytest.mark.filterwarnings("ignore::dagster.PreviewWarning")
ROOT = Path(__file__).resolve().parents[2]


def _aion(backend: Backend, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AION_", "DAGSTER_", "AWS_"))}
    env |= {"AION_HOME": str(tmp_path / "aion"), "AION_DATABASE_URL": backend.database.url,
            "AION_ARTIFACTS_URI": backend.artifacts_uri, "PYTHONPATH": str(ROOT)}
    if backend.s3 is not None:
        env |= {"AION_S3_ENDPOINT_URL": backend.s3["endpoint_url"], "AION_S3_REGION": backend.s3["region"],
                "AWS_ACCESS_KEY_ID": backend.s3["access_key"], "AWS_SECRET_ACCESS_KEY": backend.s3["secret_key"]}
    return subprocess.run(
        [sys.executable, "-m", "aion_assets.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )


def _build_dataset(backend: Backend, partition: str) -> None:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(TENANT_DOMAINS, [partition])
    dg.materialize([interactions], resources=backend.resources(), instance=instance)
    result = dg.materialize([tenant_vocabulary, scrubbed_edits, sft_dataset], partition_key=partition,
                            resources=backend.resources(), instance=instance, raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure]


def _by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in items}


def test_purge_names_what_was_built_from_a_users_edits_and_deletes_only_that(
    backend: Backend, tenant: str, tmp_path: Path
) -> None:
    engine = backend.engine()
    memory = MemoryStore(engine)
    registry = SqlRegistryStore(engine)
    artifacts = backend.artifact_store()
    other = f"{tenant}-b"
    seed(memory, tenant, 12, domain="support")  # users user-0 .. user-11, one approved edit each
    seed(memory, other, 5, domain="support")  # another tenant with the same user ids
    _build_dataset(backend, f"{tenant}/support")
    listed = artifacts.list(f"datasets/{key_segment(tenant)}/support/")
    (manifest_key,) = [k for k in listed if k.endswith("manifest.json")]
    manifest = json.loads(artifacts.get_bytes(manifest_key))
    dataset = manifest["version"]
    scrubbed = list(artifacts.list(f"scrubbed/{key_segment(tenant)}/"))
    assert scrubbed

    def register(status: ModelStatus, dataset_version: str) -> Any:
        return registry.register_version(tenant, version_in(status=status, dataset_version=dataset_version),
                                         "pipeline")[0]

    routed = register(ModelStatus.promoted, dataset)
    idle = register(ModelStatus.promoted, dataset)
    undecided = register(ModelStatus.candidate, dataset)
    clean = register(ModelStatus.promoted, "ffff000011112222")  # trained on another dataset
    registry.set_route(tenant, RouteIn(agent_id="support-bot", default_model_id=routed.id,
                                       fallback_model_id=clean.id, expected_version=0), "pipeline")
    artifacts.put_bytes(f"archives/{key_segment(tenant)}/interactions/2026-01-02/abc.manifest.json", b"{}")
    user = "user-3"
    ((edit_id, interaction_id),) = _edits_of(engine, tenant, user)
    assert edit_id in manifest["source_edit_ids"]

    dry = _aion(backend, tmp_path, "purge", "--tenant", tenant, "--user", user, "--dry-run", "--delete-datasets",
                "--retire")
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    assert plan["memory"]["dry_run"] and plan["memory"]["edit_ids"] == [edit_id]
    assert plan["memory"]["interaction_ids"] == [interaction_id]
    assert [(d["domain"], d["version"], d["purged_edits"]) for d in plan["datasets"]] == [("support", dataset, 1)]
    versions = _by_name(plan["model_versions"])
    assert set(versions) == {routed.name, idle.name, undecided.name}  # not the clean one
    assert versions[routed.name]["routed"] and versions[routed.name]["default_of"] == ["support-bot"]
    assert "aion rollback" in versions[routed.name]["recommendation"]
    assert not versions[idle.name]["routed"] and versions[idle.name]["status"] == "promoted"
    assert {(r["name"], r["to"]) for r in plan["versions_to_retire"]} == {(idle.name, "retired"),
                                                                          (undecided.name, "rejected")}
    assert [f["rows"] for f in plan["scrubbed_files"]] == [1]
    assert plan["archive_days"] == ["2026-01-02"]
    assert any("retrain" in s for s in plan["next_steps"])
    assert memory.get_interaction(tenant, uuid.UUID(interaction_id)).user_id == user  # nothing deleted
    assert artifacts.exists(manifest_key)
    assert registry.get_version(tenant, idle.id).status is ModelStatus.promoted

    whole = json.loads(_aion(backend, tmp_path, "purge", "--tenant", tenant, "--all", "--dry-run").stdout)
    assert whole["memory"]["scope"] == "tenant" and whole["memory"]["interactions"] == 12
    assert [d["purged_edits"] for d in whole["datasets"]] == [12]
    assert set(_by_name(whole["model_versions"])) == {routed.name, idle.name, undecided.name}

    done = _aion(backend, tmp_path, "purge", "--tenant", tenant, "--user", user, "--delete-datasets", "--retire",
                 "--actor", "ops:dpo")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["memory"]["edit_ids"] == [edit_id] and not out["memory"]["dry_run"]
    assert _edits_of(engine, tenant, user) == []
    assert len(_edits_of(engine, tenant)) == 11
    assert len(_edits_of(engine, other)) == 5 and len(_edits_of(engine, other, user)) == 1
    assert not list(artifacts.list(manifest_key.removesuffix("manifest.json")))  # train, eval, manifest gone
    assert not any(artifacts.exists(k) for k in scrubbed)
    assert set(out["artifacts_deleted"]) >= {artifacts.uri(manifest_key), *(artifacts.uri(k) for k in scrubbed)}
    assert registry.get_version(tenant, idle.id).status is ModelStatus.retired
    assert registry.get_version(tenant, undecided.id).status is ModelStatus.rejected
    assert registry.get_version(tenant, routed.id).status is ModelStatus.promoted  # routes are the operator's
    assert registry.get_route(tenant, "support-bot").default_model_id == routed.id
    assert registry.get_version(tenant, idle.id).status_changed_by == "ops:dpo"

    again = _aion(backend, tmp_path, "purge", "--tenant", tenant, "--user", user)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["memory"]["interactions"] == 0
    engine.dispose()


def _edits_of(engine: sa.Engine, tenant: str, user: str | None = None) -> list[tuple[str, str]]:
    """(edit id, interaction id) of TENANT's edits (of USER's interactions only, when given)."""
    i, e = t.interactions.c, t.self_edits.c
    query = sa.select(e.id, i.id).join_from(t.self_edits, t.interactions, e.interaction_id == i.id)
    query = query.where(i.tenant_id == tenant)
    if user is not None:
        query = query.where(i.user_id == user)
    with tenant_transaction(engine, tenant, read_only=True) as conn:
        return [(str(a), str(b)) for a, b in conn.execute(query)]


def test_purge_needs_exactly_one_scope(backend: Backend, tmp_path: Path) -> None:
    both = _aion(backend, tmp_path, "purge", "--tenant", "acme", "--user", "u", "--all")
    neither = _aion(backend, tmp_path, "purge", "--tenant", "acme")
    for out in (both, neither):
        assert out.returncode == 2 and "exactly one of --user U and --all" in out.stderr
        assert "Traceback" not in out.stderr
    long = _aion(backend, tmp_path, "purge", "--tenant", "acme", "--user", "x" * 129)
    assert long.returncode == 2 and "--user" in long.stderr

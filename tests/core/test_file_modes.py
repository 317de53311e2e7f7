"""Modes of what the embedded default creates under AION_HOME (security finding 19).

Protects: AION_HOME and every folder the process creates in it are 0700, the SQLite database with
its -wal and -shm files and every artifact are 0600, whatever the umask (a permissive 000 and the
usual 022); folders that already exist keep the mode their owner gave them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from aion_assets.core.artifacts import LocalArtifactStore, artifact_store_from_uri
from aion_assets.core.db import make_engine
from aion_assets.core.files import make_private_dir
from aion_assets.core.settings import Settings


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o000, 0o022])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def test_embedded_default_state_is_private(tmp_path: Path, umask: int) -> None:
    settings = Settings(home=tmp_path / "home" / "aion")
    home = settings.resolved_home
    engine = make_engine(settings.db_url)
    try:
        with engine.begin() as conn:  # WAL mode: the first write creates -wal and -shm
            conn.execute(sa.text("CREATE TABLE probe (x INTEGER)"))
            conn.execute(sa.text("INSERT INTO probe VALUES (1)"))
        db = home / "aion.db"
        files = [db, db.with_name("aion.db-wal"), db.with_name("aion.db-shm")]
        assert all(f.exists() for f in files)
        assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        engine.dispose()
    assert _mode(home) == 0o700 and _mode(home.parent) == 0o700  # missing parents too

    store = artifact_store_from_uri(settings.artifacts)
    assert isinstance(store, LocalArtifactStore)
    store.put_bytes("archives/acme/interactions/2026-01-01/a.jsonl.gz", b"pii")
    folder = home / "artifacts"
    leaf = folder / "archives" / "acme" / "interactions" / "2026-01-01"
    created = [leaf, leaf.parent, leaf.parent.parent, leaf.parent.parent.parent, folder]
    assert {str(p): _mode(p) for p in created} == {str(p): 0o700 for p in created}
    assert _mode(folder / "archives/acme/interactions/2026-01-01/a.jsonl.gz") == 0o600


def test_jwt_secret_creates_a_private_home(tmp_path: Path, umask: int) -> None:
    settings = Settings(home=tmp_path / "fresh", jwt_algorithms=["HS256"])
    settings.jwt_signing_secret()
    assert _mode(settings.resolved_home) == 0o700
    assert _mode(settings.resolved_home / "jwt_secret") == 0o600


def test_existing_folders_keep_their_mode(tmp_path: Path, umask: int) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o755)
    make_private_dir(shared / "a" / "b")
    assert _mode(shared) == 0o755
    assert _mode(shared / "a") == 0o700 and _mode(shared / "a" / "b") == 0o700

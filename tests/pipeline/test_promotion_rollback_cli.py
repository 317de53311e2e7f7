"""Protects: ``aion rollback --tenant T --agent A`` as an operator runs it (a real process, SQLite and PostgreSQL).

The route's fallback becomes its default, the version it leaves is retired, the audit log names the
operator and the reason; a second rollback (no fallback left) and an unknown agent fail with a
one-line error and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from aion_assets.core.db import make_engine
from aion_assets.registry.models import ModelStatus, RouteIn
from aion_assets.registry.sql_store import SqlRegistryStore
from tests.conftest import Database
from tests.registry.conftest import version_in

ROOT = Path(__file__).resolve().parents[2]


def _aion(database: Database, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AION_", "DAGSTER_"))}
    env |= {"AION_HOME": str(tmp_path / "aion"), "AION_DATABASE_URL": database.url, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "aion_assets.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_rollback_puts_the_fallback_back_and_retires_the_left_version(
    database: Database, tenant: str, tmp_path: Path
) -> None:
    engine = make_engine(database.url, pool_size=1)
    store = SqlRegistryStore(engine)
    old, _ = store.register_version(tenant, version_in(status=ModelStatus.promoted), "pipeline")
    new, _ = store.register_version(tenant, version_in(status=ModelStatus.promoted), "pipeline")
    store.set_route(
        tenant,
        RouteIn(agent_id="support", default_model_id=new.id, fallback_model_id=old.id, expected_version=0),
        "pipeline",
    )

    done = _aion(database, tmp_path, "rollback", "--tenant", tenant, "--agent", "support", "--reason", "bad answers",
                 "--actor", "ops:alice")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["route"]["default_model_id"] == str(old.id) and out["route"]["fallback_model_id"] is None
    assert out["left"]["id"] == str(new.id)
    route = store.get_route(tenant, "support")
    assert (route.default_model_id, route.version) == (old.id, 2)
    assert store.get_version(tenant, new.id).status is ModelStatus.retired
    (entry,) = store.list_audit(tenant, action="route.rollback")
    assert entry.actor == "ops:alice" and entry.after is not None and entry.after["reason"] == "bad answers"

    again = _aion(database, tmp_path, "rollback", "--tenant", tenant, "--agent", "support")
    assert again.returncode == 2 and "no fallback" in again.stderr and "Traceback" not in again.stderr
    unknown = _aion(database, tmp_path, "rollback", "--tenant", tenant, "--agent", "nobody")
    assert unknown.returncode == 2 and "no route for agent nobody" in unknown.stderr
    assert store.get_route(tenant, "support").version == 2
    engine.dispose()

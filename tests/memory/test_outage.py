"""A database stopped mid-run: /healthz and writes answer 503, and once the database is back
the client's retries (same ids) store everything exactly once. Runs on a private PostgreSQL
cluster, never the machine's server."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from aion_assets.app import create_app
from aion_assets.core.auth import TokenVerifier, mint_token
from aion_assets.core.db import make_engine
from aion_assets.core.migrate import upgrade
from aion_assets.core.serve import serve_in_thread
from aion_assets.memory.client import MemoryApiError, MemoryClient
from tests.support.private_pg import private_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
SECRET = "outage-secret-" + "z" * 20


def test_database_outage_gives_503_and_loses_nothing(tmp_path: Path) -> None:
    with private_postgres(tmp_path) as pg:
        import psycopg

        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE aion")
        app_url = pg.url_for("aion", user="aion_app")
        upgrade(pg.url_for("aion"), app_url)
        engine = make_engine(app_url, pool_size=4)
        token = mint_token(SECRET, tenant_id="acme", roles=["writer"])
        with serve_in_thread(create_app(engine, TokenVerifier(SECRET))) as base:
            with MemoryClient(base, token, max_retries=0) as impatient:
                first = impatient.add_interactions(
                    [{"agent_id": "bot", "input_text": f"q{i}", "output_text": "a"} for i in range(10)]
                )
                pg.stop()
                assert httpx.get(f"{base}/healthz").status_code == 503
                with pytest.raises(MemoryApiError) as err:
                    impatient.add_interaction({"agent_id": "bot", "input_text": "q", "output_text": "a"})
                assert err.value.status == 503

            batch = [{"id": str(uuid.uuid4()), "agent_id": "bot", "input_text": f"late {i}", "output_text": "a"}
                     for i in range(50)]
            outcome: dict[str, object] = {}

            def send() -> None:
                with MemoryClient(base, token, max_retries=30, backoff=0.1) as patient:
                    try:
                        outcome["rows"] = patient.add_interactions(batch)
                    except MemoryApiError as exc:  # pragma: no cover - reported below
                        outcome["error"] = exc

            sender = threading.Thread(target=send)
            sender.start()
            time.sleep(1.0)  # the client is retrying against a stopped database now
            pg.start()
            sender.join(timeout=120)
            assert "error" not in outcome, outcome.get("error")
            assert [r.input_text for r in outcome["rows"]] == [b["input_text"] for b in batch]  # type: ignore[attr-defined]
            assert httpx.get(f"{base}/healthz").status_code == 200

            with MemoryClient(base, token) as client:
                again = client.add_interactions(batch)  # a late duplicate retry
                assert [str(r.id) for r in again] == [b["id"] for b in batch]
                for row in first:
                    assert client.get_interaction(row.id).input_text == row.input_text
        with psycopg.connect(pg.url_for("aion"), autocommit=True) as conn:
            total = conn.execute("SELECT count(*) FROM aion_memory.interactions").fetchone()
        assert total is not None and total[0] == 60
        engine.dispose()

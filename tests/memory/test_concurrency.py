"""Protects: a slow export never stalls other tenants' writes, on both backends, over real HTTP.

- SQLite (the embedded default): WAL, read-only transactions begin DEFERRED and the export reads
  in short keyset pages, so while ``GET /datasets/sft`` is held mid-stream another tenant's
  ``POST /interactions`` is answered in under 100 ms (before: it waited for the export's write
  lock, 9.6 s and then 503 "database is locked", finding 7).
- PostgreSQL: with a pool of one connection (pool_size 1, max_overflow 0) the held export owns
  no connection, so the other request gets one (before: it waited for the pool and got 503,
  finding 16).
- The keyset pages return exactly the rows, in exactly the order, of one big read, ties included.
- PostgreSQL pool without a ping per checkout: a connection the server cut while it sat idle is
  replaced unseen; one cut within the no-ping window fails one request with StoreUnavailableError
  (503, the client retries), never a raw driver error, and the next request gets a new connection.

The export is held mid-stream by a scrubber whose second batch waits until the test lets it go:
the same as a slow Presidio batch or a slow client, without burning the shared CPUs. The app,
the store, the database and HTTP are the real ones.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
import sqlalchemy as sa

from aion_assets.app import create_app
from aion_assets.core import db
from aion_assets.core.auth import TokenVerifier, mint_token
from aion_assets.core.db import make_engine, normalize_url, tenant_transaction
from aion_assets.core.errors import StoreUnavailableError
from aion_assets.core.serve import serve_in_thread
from aion_assets.memory.models import EditorType, EditStatus, InteractionIn, SelfEditIn
from aion_assets.memory.scrub import engine as scrub_engine
from aion_assets.memory.scrub.engine import ScrubResult
from aion_assets.memory.store import MemoryStore
from aion_assets.seal.datasets.api import SCRUB_BATCH
from tests.conftest import PG_HOST, PG_PORT, PG_SUPERUSER, Database

SECRET = "concurrency-secret-" + "c" * 24
#: Enough approved edits for three scrub batches: the stream stops inside the second one.
EXPORT_ROWS = 2 * SCRUB_BATCH + 10


class HeldScrubber:
    """Scrubs nothing (the texts here hold no PII); its second batch waits for ``release()``."""

    def __init__(self) -> None:
        self.calls = 0
        self.holding = threading.Event()
        self._go = threading.Event()

    version = "held-scrubber-1"  # the key of its (empty) stored detections
    score_threshold = 0.5  # part of the stored results' policy key (memory/scrub_results.py)

    def _hold_on_second_call(self) -> None:
        self.calls += 1
        if self.calls == 2:
            self.holding.set()
            self._go.wait(timeout=60)

    def scrub_many(self, texts: list[str], policy: Any = None) -> list[ScrubResult]:
        self._hold_on_second_call()
        return [ScrubResult(text) for text in texts]

    def detect_many(self, texts: list[str]) -> list[list[Any]]:
        """The analysis step of the export (memory/detections.py): nothing found."""
        return [[] for _ in texts]

    def apply_many(self, texts: list[str], policy: Any = None, source: Any = None, *,
                   group: bool = False) -> list[ScrubResult]:
        """The policy step of interaction groups (pseudonyms): the second call waits."""
        self._hold_on_second_call()
        return [ScrubResult(text) for text in texts]

    def analyze_many(self, texts: list[str], policy: Any = None, source: Any = None) -> list[list[Any]]:
        """The policy step of the export (spans to replace, stored in scrub_results), called once per
        batch of texts not stored yet: the second one waits. Nothing to replace."""
        self._hold_on_second_call()
        return [[] for _ in texts]

    def release(self) -> None:
        self._go.set()


def _seed(store: MemoryStore, tenant: str, n: int) -> None:
    stored, _ = store.add_interactions(
        tenant, [InteractionIn(agent_id="bot", input_text=f"question {k}", output_text="answer") for k in range(n)]
    )
    for inter in stored:
        edit, _ = store.add_self_edit(
            tenant,
            SelfEditIn(interaction_id=inter.id, editor_type=EditorType.human, edited_output="better", reward_score=0.9),
        )
        store.review_self_edit(tenant, edit.id, EditStatus.approved, "reviewer@test")


def _headers(tenant: str, *roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(SECRET, tenant_id=tenant, roles=list(roles))}"}


@pytest.fixture
def small_pool_engine(database: Database) -> Iterator[sa.Engine]:
    """The app's engine: SQLite as the embedded default makes it; PostgreSQL with ONE connection."""
    if database.backend == "sqlite":
        engine = make_engine(database.url)
    else:
        # pool_timeout 3 s: if the export held the only connection, the POST would get 503 after 3 s.
        engine = sa.create_engine(normalize_url(database.url), pool_size=1, max_overflow=0, pool_timeout=3)
    yield engine
    engine.dispose()


def test_a_held_export_does_not_block_another_tenants_post(
    small_pool_engine: sa.Engine, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    scrubber = HeldScrubber()
    monkeypatch.setattr(scrub_engine, "get_scrubber", lambda: scrubber)
    _seed(MemoryStore(small_pool_engine), tenant, EXPORT_ROWS)
    other = f"other-{uuid.uuid4().hex[:8]}"
    row = {"agent_id": "bot", "input_text": "is my order late?", "output_text": "no"}
    app = create_app(small_pool_engine, TokenVerifier(SECRET))
    with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=10) as client:
        writer = _headers(other, "writer")
        assert client.post("/interactions", json=row, headers=writer).status_code == 201  # tenant row, warm-up
        try:
            # A generous timeout for the headers: the first export in a process imports Presidio.
            reviewer = _headers(tenant, "reviewer")
            with client.stream("GET", "/datasets/sft", headers=reviewer, timeout=120) as export:
                assert export.status_code == 200
                lines = export.iter_lines()
                first = [next(lines) for _ in range(SCRUB_BATCH)]
                assert scrubber.holding.wait(timeout=10), "the export never reached its second batch"
                # The export is now mid-stream: its first rows are out, the rest wait on the scrubber.
                elapsed = []
                for _ in range(3):
                    started = time.perf_counter()
                    response = client.post("/interactions", json=row, headers=writer, timeout=5)
                    elapsed.append(time.perf_counter() - started)
                    assert response.status_code == 201, response.text
                # The median: one scheduler hiccup on the shared cores is not a blocked writer
                # (a blocked writer waits seconds, every time).
                assert statistics.median(elapsed) < 0.100, f"POST took {elapsed} s while an export was streaming"
                scrubber.release()
                rest = [line for line in lines if line]
        finally:
            scrubber.release()
    assert len(first) + len(rest) == EXPORT_ROWS


def test_keyset_pages_return_the_rows_of_one_read(database: Database, tenant: str) -> None:
    engine = make_engine(database.url, pool_size=1)
    store = MemoryStore(engine)
    stored, _ = store.add_interactions(
        tenant, [InteractionIn(agent_id="bot", input_text=f"q{k}", output_text="a") for k in range(4)]
    )
    # Several approved edits per interaction with equal rewards and equal timestamps: the
    # page boundaries fall inside ties that only the edit id orders.
    same_time = stored[0].timestamp
    for k, inter in enumerate(stored):
        for reward in (0.5, 0.9, 0.9, 0.9 if k % 2 else 0.7):
            edit, _ = store.add_self_edit(
                tenant,
                SelfEditIn(
                    interaction_id=inter.id,
                    editor_type=EditorType.human,
                    edited_output=f"e{reward}",
                    reward_score=reward,
                    timestamp=same_time,
                ),
            )
            store.review_self_edit(tenant, edit.id, EditStatus.approved, "reviewer@test")
    whole = [edit.id for edit, _ in store.iter_approved_edits(tenant, batch_size=1000)]
    assert len(whole) == 16
    for size in (1, 2, 3, 5, 16):
        assert [edit.id for edit, _ in store.iter_approved_edits(tenant, batch_size=size)] == whole, size
    assert [e.id for e, _ in store.iter_approved_edits(tenant, min_reward=0.8, batch_size=2)] == [
        e.id for e, _ in store.iter_approved_edits(tenant, min_reward=0.8)
    ]
    engine.dispose()


@pytest.mark.postgres
def test_a_connection_cut_by_the_server_costs_at_most_one_request(
    pg_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(pg_database.url, pool_size=1, max_overflow=0)

    def backend_pid() -> int:
        with tenant_transaction(engine, "t-cut") as conn:
            return int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())

    def cut(pid: int) -> None:
        with psycopg.connect(f"postgresql://{PG_SUPERUSER}@{PG_HOST}:{PG_PORT}/postgres", autocommit=True) as su:
            su.execute("SELECT pg_terminate_backend(%s)", (pid,))
            for _ in range(200):
                if su.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone() is None:
                    return
                time.sleep(0.01)
        raise AssertionError(f"backend {pid} did not end")

    try:
        monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)  # every checkout counts as "idle": pinged
        pid = backend_pid()
        cut(pid)
        assert backend_pid() != pid
        monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 3600.0)  # never pinged
        pid = backend_pid()
        cut(pid)
        with pytest.raises(StoreUnavailableError):
            backend_pid()
        assert backend_pid() != pid
    finally:
        engine.dispose()

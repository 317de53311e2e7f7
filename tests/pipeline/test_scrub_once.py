"""Protects: scrub once, not on every run (issue 11), through the real asset graph and the real HTTP export.

The real engine runs; a counting wrapper around ``Scrubber.detect_many`` (the NER and recognizers)
notes every text analysed in this process:
- a second ``scrubbed_edits`` + ``sft_dataset`` build (its blocking PII check included) on
  unchanged history analyses no text, and gives the same dataset version;
- a second ``GET /datasets/sft`` on unchanged history analyses no text and returns the same rows;
  after 1,000 new approvals the next export analyses their texts and none of the earlier ones.
Both backends (SQLite and PostgreSQL).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import dagster as dg
import pytest
from fastapi.testclient import TestClient

from aion_assets.app import create_app
from aion_assets.core.auth import TokenVerifier, mint_token
from aion_assets.core.db import make_engine
from aion_assets.memory.detections import DetectionStore
from aion_assets.memory.scrub.engine import Scrubber, get_scrubber
from aion_assets.memory.store import MemoryStore
from aion_assets.seal.datasets.api import router
from aion_assets.seal.datasets.assets import scrubbed_edits, sft_dataset
from tests.conftest import Database
from tests.pipeline.conftest import PII_PROMPTS, Backend, seed
from tests.pipeline.test_assets import _materialize, _meta

pytestmark = pytest.mark.filterwarnings("ignore::dagster.PreviewWarning")
SECRET = "scrub-once-test-secret-" + "z" * 20


@pytest.fixture
def analysed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text the real engine's analysis runs on from now on."""
    seen: list[str] = []
    real = Scrubber.detect_many

    def counting(self: Scrubber, texts: Sequence[str]) -> Any:
        seen.extend(texts)
        return real(self, texts)

    monkeypatch.setattr(Scrubber, "detect_many", counting)
    return seen


def _texts(store: MemoryStore, tenant: str) -> set[str]:
    return {x for e, i in store.iter_approved_edits(tenant, min_reward=0.0) for x in (i.input_text, e.edited_output)}


def test_second_dataset_build_runs_no_ner(backend: Backend, tenant: str, analysed: list[str]) -> None:
    engine = backend.engine()
    store = MemoryStore(engine)
    seed(store, tenant, 25, domain="support")
    instance = dg.DagsterInstance.ephemeral()
    partition = f"{tenant}/support"
    first = _materialize(backend, instance, partition)
    assert first.success, [e.message for e in first.all_events if e.is_failure]
    meta = _meta(first, scrubbed_edits)
    assert meta["texts_analysed"] > 0 and meta["scrubber_version"] == get_scrubber().version
    assert _texts(store, tenant) <= set(analysed)

    analysed.clear()
    again = _materialize(backend, instance, partition)
    assert again.success
    assert analysed == []  # the scrub, the re-scan and the blocking check read stored detections
    assert _meta(again, scrubbed_edits)["texts_analysed"] == 0
    assert _meta(again, sft_dataset)["version"] == _meta(first, sft_dataset)["version"]
    assert all(e.passed for e in again.get_asset_check_evaluations())

    old = _texts(store, tenant)
    seed(store, tenant, 3, domain="support", prompts=["Hi, I'm Ada Lovelace, my email is ada.l@example.org."])
    third = _materialize(backend, instance, partition)
    assert third.success
    assert analysed and not set(analysed) & old
    assert _texts(store, tenant) - old <= set(analysed)
    assert DetectionStore(engine).count(tenant, get_scrubber().version) >= len(_texts(store, tenant))
    engine.dispose()


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    app = create_app(make_engine(database.url, pool_size=2), TokenVerifier(SECRET))
    if not any(getattr(r, "path", None) == "/datasets/sft" for r in app.routes):
        app.include_router(router, tags=["datasets"])
    with TestClient(app) as c:
        yield c


def _export(client: TestClient, tenant: str) -> list[dict[str, Any]]:
    token = mint_token(SECRET, tenant_id=tenant, roles=["reviewer"])
    response = client.get("/datasets/sft", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines() if line]


def test_export_analyses_only_new_approvals(
    client: TestClient, database: Database, tenant: str, analysed: list[str]
) -> None:
    store = MemoryStore(make_engine(database.url, pool_size=2))
    seed(store, tenant, 40, domain="support")
    first = _export(client, tenant)
    assert len(first) == 40 and _texts(store, tenant) <= set(analysed)

    analysed.clear()
    assert _export(client, tenant) == first
    assert analysed == []

    old = _texts(store, tenant)
    seed(store, tenant, 1000, domain="support", prompts=[f"{p} Second batch." for p in PII_PROMPTS])
    new = _texts(store, tenant) - old
    assert len(new) == 2000  # every prompt and answer of the 1,000 is a new text
    rows = _export(client, tenant)
    assert len(rows) == 1040
    assert new <= set(analysed) and not set(analysed) & old
    # Beyond the new texts only re-scans of their outputs ran (texts with placeholders).
    assert all("<" in x for x in set(analysed) - new)
    text = json.dumps(rows)
    assert "maria.gonzalez+orders@example.com" not in text and "4111 1111 1111 1111" not in text

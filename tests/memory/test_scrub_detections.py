"""Protects: the scrubber's analysis is stored once per text and the policy is applied at assembly (issue 11).

- ``Scrubber.apply_many`` on stored detections (JSON round trip, as the table keeps them) gives
  exactly what the one-call ``scrub_many`` / ``scrub_group`` give, for every text of the scrub
  tests and several policies (allow/deny lists, learned vocabulary, skipped type, own pattern);
- the stored detections hold offsets, types, scores and recognizer names, never a value;
- ``DetectionStore`` on SQLite and PostgreSQL: round trip, idempotent writes, scrubber versions
  apart, and on PostgreSQL row-level security per tenant for the application role;
- ``StoredScrubber`` over the real engine, counting the texts the NER runs on: a second scrub of
  unchanged texts analyses none; new texts analyse only themselves; a learned-vocabulary change
  analyses none of the stored texts (only the re-scan of outputs the change altered); a scrubber
  version change analyses everything again (backfill).

Runs the real Presidio engine with the installed spaCy model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
import sqlalchemy as sa

from aion_assets.core.db import make_engine, tenant_transaction
from aion_assets.memory import tables as t
from aion_assets.memory.detections import DetectionStore, StoredScrubber
from aion_assets.memory.scrub.analysis import Detection, dump_detections, load_detections, text_sha256
from aion_assets.memory.scrub.engine import Scrubber, ScrubPolicy, get_scrubber
from tests.conftest import Database
from tests.memory import (
    test_scrub,
    test_scrub_idempotent,
    test_scrub_precision,
    test_scrub_pseudonyms,
    test_scrub_recall,
    test_scrub_stock,
)
from tests.memory.scrub_texts import COMPANY, VOCABULARY, corpus
from tests.pipeline.conftest import PII_PROMPTS

POLICIES = [
    ScrubPolicy(),
    ScrubPolicy(allow_list=COMPANY, vocabulary=VOCABULARY),
    ScrubPolicy(allow_list=("Nimbus Pro", "Acme"), deny_list=("Lumio", "Zenith")),
    ScrubPolicy(
        extra_patterns=[{"name": "ticket", "entity_type": "TICKET_ID", "regex": r"\bTCK-\d{5}\b", "score": 0.9}],
        skip_entities={"LOCATION"},
    ),
]


def _strings(value: Any) -> list[str]:
    """Every text in a test's parameters: plain strings, and templates filled with their value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, tuple | list):
        if len(value) >= 2 and isinstance(value[0], str) and "{v}" in value[0] and isinstance(value[1], str):
            return [value[0].format(v=value[1]), value[1]]
        return [s for v in value for s in _strings(v)]
    return []


def scrub_test_texts() -> list[str]:
    """The texts of the scrub test modules (module-level lists and parametrize cases) and a generated corpus."""
    texts: list[str] = []
    modules = (test_scrub, test_scrub_precision, test_scrub_recall, test_scrub_pseudonyms, test_scrub_stock,
               test_scrub_idempotent)
    for module in modules:
        for name, obj in vars(module).items():
            if name.isupper() and isinstance(obj, list | tuple):
                texts += _strings(obj)
            for mark in getattr(obj, "pytestmark", []):
                if mark.name == "parametrize" and len(mark.args) >= 2:
                    texts += _strings(list(mark.args[1]))
    texts += PII_PROMPTS + corpus(150, seed=23)
    return list(dict.fromkeys(texts))


class JsonStore:
    """Detections kept as the table keeps them (JSON rows by text sha), filled by the real engine."""

    def __init__(self, engine: Scrubber) -> None:
        self.engine = engine
        self.rows: dict[str, str] = {}

    def __call__(self, texts: Sequence[str]) -> list[list[Detection]]:
        missing = list(dict.fromkeys(x for x in texts if text_sha256(x) not in self.rows))
        if missing:
            for x, dets in zip(missing, self.engine.detect_many(missing), strict=True):
                self.rows[text_sha256(x)] = json.dumps(dump_detections(dets))
        return [load_detections(self.rows[text_sha256(x)]) for x in texts]


class CountingEngine:
    """The real engine, noting every text its analysis (the NER) runs on."""

    def __init__(self, engine: Scrubber, version: str | None = None) -> None:
        self.engine = engine
        self.version = version or engine.version
        self.score_threshold = engine.score_threshold
        self.analysed: list[str] = []

    def detect_many(self, texts: Sequence[str]) -> list[list[Detection]]:
        self.analysed += list(texts)
        return self.engine.detect_many(texts)

    def apply_many(self, *args: Any, **kwargs: Any) -> Any:
        return self.engine.apply_many(*args, **kwargs)

    def analyze_many(self, *args: Any, **kwargs: Any) -> Any:
        return self.engine.analyze_many(*args, **kwargs)


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    return get_scrubber()


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return scrub_test_texts()


def test_the_test_texts_are_many_and_varied(texts: list[str]) -> None:
    assert len(texts) > 300
    assert "Rose will call you back tomorrow about the refund." in texts
    assert "Please write to jane.doe@example.com about it." in texts


@pytest.mark.parametrize("which", range(len(POLICIES)))
def test_apply_on_stored_detections_equals_the_one_pass_scrub(
    scrubber: Scrubber, texts: list[str], which: int
) -> None:
    policy = POLICIES[which]
    store = JsonStore(scrubber)
    expected = scrubber.scrub_many(texts, policy)
    assert scrubber.apply_many(texts, policy, store) == expected
    # Everything is stored now (originals and re-scans): a second application reads it back.
    store.engine = None  # type: ignore[assignment]
    assert scrubber.apply_many(texts, policy, store) == expected
    changed = [r.text for r, x in zip(expected, texts, strict=True) if r.text != x]
    assert changed, "the test texts must hold PII that the policy scrubs"


def test_group_apply_equals_scrub_group(scrubber: Scrubber, texts: list[str]) -> None:
    store = JsonStore(scrubber)
    for i in range(0, 60, 3):
        group = texts[i : i + 3]
        assert scrubber.apply_many(group, POLICIES[1], store, group=True) == scrubber.scrub_group(group, POLICIES[1])


def test_stored_detections_hold_no_values(scrubber: Scrubber) -> None:
    text = "Hi, I'm Laura Schmidt (laura.schmidt@example.de), call +49 30 1234567."
    dets = scrubber.detect(text)
    assert {d.entity_type for d in dets} >= {"PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER"}
    assert {d.layer for d in dets} == {"stock", "own"} and all(d.recognizer for d in dets)
    raw = json.dumps(dump_detections(dets))
    for value in ("Laura", "Schmidt", "laura.schmidt", "1234567"):
        assert value not in raw
    assert load_detections(raw) == dets


@pytest.mark.parametrize(
    "bad", ["{}", "[[0, 1]]", '[[5, 1, "PERSON", 0.9, "r", "stock"]]', '[[0, 1, "X", 1, "r", "?"]]']
)
def test_malformed_rows_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        load_detections(bad)


def _dets(n: int) -> list[Detection]:
    return [Detection(n, n + 5, "PERSON", 0.85, "SpacyRecognizer", "stock"),
            Detection(0, 3, "IP_ADDRESS", 0.6, "x", "own")]


def test_store_round_trip_idempotence_and_versions(database: Database, tenant: str) -> None:
    store = DetectionStore(make_engine(database.url, pool_size=2))
    items = {text_sha256(f"text {k}"): _dets(k) for k in range(1500)}  # more than one chunk
    assert store.put_many(tenant, "v1", items) == 1500
    assert store.put_many(tenant, "v1", items) == 0  # idempotent: rows already there are kept
    got = store.get_many(tenant, "v1", [*items, text_sha256("never stored")])
    assert got == items
    assert store.get_many(tenant, "v2", list(items)) == {}  # another scrubber version sees nothing
    assert store.count(tenant, "v1") == 1500 and store.count(tenant) == 1500
    store.put_many(tenant, "v2", dict(list(items.items())[:10]))
    assert store.delete_other_versions(tenant, keep="v2") == 1500
    assert store.count(tenant) == 10
    assert store.get_many(f"{tenant}-other", "v2", list(items)) == {}


def test_rls_keeps_tenants_apart(database: Database, tenant: str) -> None:
    if database.backend != "postgres":
        pytest.skip("row-level security is PostgreSQL's")
    engine = make_engine(database.url, pool_size=1)
    DetectionStore(engine).put_many(tenant, "v1", {text_sha256("a"): _dets(1)})
    other = f"{tenant}-b"
    with tenant_transaction(engine, other) as conn:  # the application role, scoped to another tenant
        assert conn.execute(sa.select(sa.func.count()).select_from(t.scrub_detections)).scalar_one() == 0
    with pytest.raises(sa.exc.DBAPIError), tenant_transaction(engine, other) as conn:
        conn.execute(sa.insert(t.scrub_detections).values(
            tenant_id=tenant, scrubber_version="v1", text_sha256="0" * 64, detections=[],
            analysed_at=sa.func.now()))


def test_unchanged_texts_run_no_ner_new_ones_only_themselves(
    database: Database, tenant: str, scrubber: Scrubber
) -> None:
    store = DetectionStore(make_engine(database.url, pool_size=2))
    history, new = corpus(120, seed=31), [f"{x} (ticket {k})" for k, x in enumerate(corpus(40, seed=32))]
    policy = POLICIES[1]
    expected = scrubber.scrub_many(history + new, policy)

    first = CountingEngine(scrubber)
    assert StoredScrubber(first, store, tenant).scrub_many(history, policy) == expected[:120]  # type: ignore[arg-type]
    assert set(history) <= set(first.analysed)

    again = CountingEngine(scrubber)  # a new build: nothing in memory, everything in the table
    stored = StoredScrubber(again, store, tenant)  # type: ignore[arg-type]
    assert stored.scrub_many(history, policy) == expected[:120]
    assert again.analysed == [] and stored.reused > 0

    more = CountingEngine(scrubber)
    assert StoredScrubber(more, store, tenant).scrub_many(history + new, policy) == expected  # type: ignore[arg-type]
    assert more.analysed and not set(more.analysed) & set(history)
    assert set(new) <= set(more.analysed)


def test_vocabulary_change_runs_no_ner_on_stored_texts(database: Database, tenant: str, scrubber: Scrubber) -> None:
    store = DetectionStore(make_engine(database.url, pool_size=2))
    history = corpus(120, seed=41)
    StoredScrubber(CountingEngine(scrubber), store, tenant).scrub_many(history, ScrubPolicy())  # type: ignore[arg-type]

    learned = ScrubPolicy(vocabulary=VOCABULARY + COMPANY)
    counting = CountingEngine(scrubber)
    out = StoredScrubber(counting, store, tenant).scrub_many(history, learned)  # type: ignore[arg-type]
    assert out == scrubber.scrub_many(history, learned)
    assert not set(counting.analysed) & set(history)  # no stored text is analysed again
    # What runs is the re-scan of each output the new vocabulary changed (texts never seen before).
    before = {r.text for r in scrubber.scrub_many(history, ScrubPolicy())}
    assert counting.analysed and all("<" in x and x not in before for x in counting.analysed)


def test_scrubber_version_change_analyses_everything_again(
    database: Database, tenant: str, scrubber: Scrubber
) -> None:
    store = DetectionStore(make_engine(database.url, pool_size=2))
    texts = corpus(30, seed=51)
    StoredScrubber(CountingEngine(scrubber), store, tenant).scrub_many(texts)  # type: ignore[arg-type]
    bumped = CountingEngine(scrubber, version=scrubber.version + "-next")
    assert StoredScrubber(bumped, store, tenant).scrub_many(texts) == scrubber.scrub_many(texts)  # type: ignore[arg-type]
    assert set(texts) <= set(bumped.analysed)
    assert store.count(tenant, scrubber.version + "-next") >= len(set(texts))

"""Protects: a text's scrub result is stored once per (scrubber version, policy) and read back unchanged (issue 11).

- ``StoredScrubber.scrub_many`` gives exactly what ``Scrubber.scrub_many`` gives, when it computes
  the results and when it reads them back from ``scrub_results`` (a warm export), for several
  policies; the read-back runs no policy step and reads no detection;
- a changed policy (learned vocabulary) or scrubber version never reuses a stored result;
- ``engine.result_of`` rebuilds a result from its spans; stored spans hold no value; malformed
  rows are refused; ``policy_fingerprint`` is equal for equal policies and differs otherwise;
- ``ResultStore`` on SQLite and PostgreSQL: round trip, idempotent writes, keys apart, and on
  PostgreSQL row-level security per tenant.

Runs the real Presidio engine with the installed spaCy model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
import sqlalchemy as sa

from aion_assets.core.db import make_engine, tenant_transaction
from aion_assets.memory import tables as t
from aion_assets.memory.detections import DetectionStore, StoredScrubber
from aion_assets.memory.scrub.analysis import Detection, text_sha256
from aion_assets.memory.scrub.engine import Scrubber, ScrubPolicy, Span, get_scrubber, result_of
from aion_assets.memory.scrub.policy import policy_fingerprint
from aion_assets.memory.scrub_results import ResultStore, dump_spans, load_spans
from tests.conftest import Database
from tests.memory.scrub_texts import COMPANY, VOCABULARY, corpus

POLICIES = [
    ScrubPolicy(),
    ScrubPolicy(allow_list=COMPANY, vocabulary=VOCABULARY),
    ScrubPolicy(allow_list=("Nimbus Pro", "Acme"), deny_list=("Lumio", "Zenith"), skip_entities={"LOCATION"}),
]


class CountingEngine:
    """The real engine, noting the texts its analysis (NER) and its policy step run on."""

    def __init__(self, engine: Scrubber, version: str | None = None) -> None:
        self.engine = engine
        self.version = version or engine.version
        self.score_threshold = engine.score_threshold
        self.analysed: list[str] = []
        self.applied: list[str] = []

    def detect_many(self, texts: Sequence[str]) -> list[list[Detection]]:
        self.analysed += list(texts)
        return self.engine.detect_many(texts)

    def analyze_many(self, texts: Sequence[str], *args: Any, **kwargs: Any) -> Any:
        self.applied += list(texts)
        return self.engine.analyze_many(texts, *args, **kwargs)


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    return get_scrubber()


@pytest.fixture(scope="module")
def texts() -> list[str]:
    # Repeats and an empty text: a batch of a real export holds both (agent ids, empty reason codes).
    base = corpus(80, seed=61)
    return [*base, base[0], "", base[3], "Hi Laura Schmidt, mail laura@example.com or call +1 415-555-0101."]


def test_result_of_rebuilds_every_result_from_its_spans(scrubber: Scrubber, texts: list[str]) -> None:
    for policy in POLICIES:
        spans = scrubber.analyze_many(texts, policy)
        expected = scrubber.scrub_many(texts, policy)
        assert [result_of(x, load_spans(dump_spans(ss))) for x, ss in zip(texts, spans, strict=True)] == expected
        assert any(ss for ss in spans)


@pytest.mark.parametrize("which", range(len(POLICIES)))
def test_stored_results_equal_the_one_call_scrub_and_skip_the_policy_step(
    database: Database, tenant: str, scrubber: Scrubber, texts: list[str], which: int
) -> None:
    policy = POLICIES[which]
    store = DetectionStore(make_engine(database.url, pool_size=2))
    expected = scrubber.scrub_many(texts, policy)

    first = CountingEngine(scrubber)
    assert StoredScrubber(first, store, tenant).scrub_many(texts, policy) == expected  # type: ignore[arg-type]
    assert set(first.applied) == set(texts)

    warm = CountingEngine(scrubber)  # a new export: nothing in memory, everything in the tables
    stored = StoredScrubber(warm, store, tenant)  # type: ignore[arg-type]
    got = stored.scrub_many(texts, policy)
    assert got == expected
    assert [r.text for r in got] == [r.text for r in expected]
    assert warm.applied == [] and warm.analysed == []
    assert stored.results_reused == len(set(texts)) and stored.reused == len(set(texts))


def test_a_changed_policy_or_version_never_reuses_a_result(database: Database, tenant: str, scrubber: Scrubber) -> None:
    store = DetectionStore(make_engine(database.url, pool_size=2))
    texts = corpus(40, seed=62)
    StoredScrubber(CountingEngine(scrubber), store, tenant).scrub_many(texts, POLICIES[0])  # type: ignore[arg-type]

    learned = CountingEngine(scrubber)
    out = StoredScrubber(learned, store, tenant).scrub_many(texts, POLICIES[1])  # type: ignore[arg-type]
    assert out == scrubber.scrub_many(texts, POLICIES[1])
    assert set(learned.applied) == set(texts)  # the policy step ran again, on stored detections
    assert not set(learned.analysed) & set(texts)

    bumped = CountingEngine(scrubber, version=scrubber.version + "-next")
    assert StoredScrubber(bumped, store, tenant).scrub_many(texts, POLICIES[0]) == scrubber.scrub_many(texts)  # type: ignore[arg-type]
    assert set(bumped.applied) == set(texts) and set(texts) <= set(bumped.analysed)


def test_stored_spans_hold_no_values(scrubber: Scrubber) -> None:
    text = "Hi, I'm Laura Schmidt (laura.schmidt@example.de), call +49 30 1234567."
    spans = scrubber.analyze(text)
    raw = dump_spans(spans)
    assert {s.entity_type for s in spans} >= {"PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER"}
    for value in ("Laura", "Schmidt", "laura.schmidt", "1234567"):
        assert value not in raw


@pytest.mark.parametrize("bad", ["{}", "[[0, 1]]", '[[5, 1, "PERSON", 0.9]]', '[[0, 1, "", 1]]', '[["0", 1, "X", 1]]'])
def test_malformed_spans_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        load_spans(bad)


def test_policy_fingerprint_names_the_whole_policy() -> None:
    a = ScrubPolicy(allow_list=("Acme",), skip_entities={"LOCATION", "PERSON", "IP_ADDRESS"})
    b = ScrubPolicy(allow_list=("Acme",), skip_entities={"IP_ADDRESS", "PERSON", "LOCATION"})
    assert policy_fingerprint(a, 0.5) == policy_fingerprint(b, 0.5)
    others = [
        policy_fingerprint(a, 0.6),
        policy_fingerprint(ScrubPolicy(allow_list=("Acme",), skip_entities={"LOCATION"}), 0.5),
        policy_fingerprint(a.model_copy(update={"vocabulary": ("Eco Mode",)}), 0.5),
        policy_fingerprint(ScrubPolicy(), 0.5),
        policy_fingerprint(ScrubPolicy(deny_list=("Acme",)), 0.5),
    ]
    assert len({policy_fingerprint(a, 0.5), *others}) == 1 + len(others)


def _spans(k: int) -> tuple[Span, ...]:
    return (Span(0, 3, "IP_ADDRESS", 0.6), Span(k + 4, k + 9, "PERSON", 0.85))


def test_store_round_trip_idempotence_and_keys(database: Database, tenant: str) -> None:
    store = ResultStore(make_engine(database.url, pool_size=2))
    items = {text_sha256(f"text {k}"): _spans(k) for k in range(1200)}  # more than one chunk
    assert store.put_many(tenant, "v1", "p1", items) == 1200
    assert store.put_many(tenant, "v1", "p1", items) == 0  # rows already there are kept
    assert store.get_many(tenant, "v1", "p1", [*items, text_sha256("never stored")]) == items
    assert store.get_many(tenant, "v1", "p2", list(items)) == {}
    assert store.get_many(tenant, "v2", "p1", list(items)) == {}
    store.put_many(tenant, "v1", "p2", dict(list(items.items())[:10]))
    assert store.count(tenant) == 1210 and store.count(tenant, "v1", "p2") == 10
    assert store.delete_other_keys(tenant, "v1", "p2") == 1200
    assert store.count(tenant) == 10
    assert store.get_many(f"{tenant}-other", "v1", "p2", list(items)) == {}


def test_rls_keeps_tenants_apart(database: Database, tenant: str) -> None:
    if database.backend != "postgres":
        pytest.skip("row-level security is PostgreSQL's")
    engine = make_engine(database.url, pool_size=1)
    ResultStore(engine).put_many(tenant, "v1", "p1", {text_sha256("a"): _spans(1)})
    other = f"{tenant}-b"
    with tenant_transaction(engine, other) as conn:  # the application role, scoped to another tenant
        assert conn.execute(sa.select(sa.func.count()).select_from(t.scrub_results)).scalar_one() == 0
    with pytest.raises(sa.exc.DBAPIError), tenant_transaction(engine, other) as conn:
        conn.execute(sa.insert(t.scrub_results).values(
            tenant_id=tenant, scrubber_version="v1", policy_sha256="p1", text_sha256="0" * 64, spans="[]",
            stored_at=sa.func.now()))


def test_a_tenant_purge_drops_its_results_only(database: Database, tenant: str) -> None:
    from aion_assets.memory.purge import purge

    engine = make_engine(database.url, pool_size=2)
    store = ResultStore(engine)
    store.put_many(tenant, "v1", "p1", {text_sha256("a"): _spans(1), text_sha256("b"): ()})
    store.put_many(f"{tenant}-b", "v1", "p1", {text_sha256("a"): _spans(1)})
    purge(engine, tenant, user_id=None)
    assert store.count(tenant) == 0 and store.count(f"{tenant}-b") == 1

"""Curation's plain functions: selection, dedup, domains, split, rows, content hash.

Protects the dataset contract shared by the assets and the API: one edit per interaction (highest
reward, then latest), approved and above threshold only; domain from agent config, then metadata,
then "general", never containing '/'; a split that depends on the interaction id alone and keeps
its share; identical input -> identical bytes and hash; the chat form next to prompt/response.
"""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from aion_assets.core.errors import ConfigError
from aion_assets.memory.models import EditorType, EditStatus, Interaction, SelfEdit
from aion_assets.seal.datasets.curate import curate
from aion_assets.seal.datasets.rows import split_of
from aion_assets.seal.datasets.tenant_config import curation_settings, normalize_domain
from aion_assets.seal.datasets.versions import histogram_bin, write_splits

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _pair(iid: uuid.UUID, reward: float, *, minutes: int = 0, status: str = "approved", agent: str = "bot",
          meta: dict | None = None, text: str = "fixed") -> tuple[SelfEdit, Interaction]:
    inter = Interaction(id=iid, tenant_id="acme", agent_id=agent, user_id="u", input_text="question?",
                        output_text="a", model_version="m1", channel=None, timestamp=T0, metadata=meta or {})
    edit = SelfEdit(id=uuid.uuid4(), tenant_id="acme", interaction_id=iid, agent_id=agent,
                    editor_type=EditorType.human, original_output="a", edited_output=text, reason_code=None,
                    reward_score=reward, status=EditStatus(status), reviewer="r", reviewed_at=T0,
                    timestamp=T0 + timedelta(minutes=minutes), metadata={})
    return edit, inter


def test_best_edit_per_interaction_wins() -> None:
    a, b = sorted([uuid.uuid4(), uuid.uuid4()])
    pairs = [
        _pair(a, 0.9, minutes=1, text="older best"),
        _pair(a, 0.9, minutes=5, text="latest best"),
        _pair(a, 0.6, minutes=9, text="worse"),
        _pair(b, 0.95, status="rejected", text="rejected"),
        _pair(b, 0.4, text="below threshold"),
        _pair(b, 0.7, text="b ok"),
    ]
    out = list(curate(pairs, tenant_config={}, min_reward=0.5))
    assert [(e.interaction_id, e.response) for e in out] == [(str(a), "latest best"), (str(b), "b ok")]


@pytest.mark.parametrize(
    ("config", "meta", "expected"),
    [
        ({"agents": {"bot": {"domain": "Sales/EMEA"}}}, {"domain": "support"}, "sales-emea"),
        ({}, {"domain": "Support"}, "support"),
        ({}, {}, "general"),
        ({"agents": {"other": {"domain": "x"}}}, {"domain": " "}, "general"),
    ],
)
def test_domain_resolution(config: dict, meta: dict, expected: str) -> None:
    (ex,) = curate([_pair(uuid.uuid4(), 0.9, meta=meta)], tenant_config=config, min_reward=0.0)
    assert ex.domain == expected and "/" not in ex.domain


def test_domain_filter_and_normalization() -> None:
    pairs = [_pair(uuid.UUID(int=k), 0.9, meta={"domain": d}) for k, d in enumerate(["a", "b", "a"])]
    assert len(list(curate(pairs, tenant_config={}, min_reward=0.0, domain="A"))) == 2
    assert normalize_domain("../../etc") == "etc" and normalize_domain(None) == "general"


def test_split_is_stable_and_keeps_its_share() -> None:
    ids = [uuid.UUID(int=k * 7919) for k in range(4000)]
    splits = [split_of(i, 0.2) for i in ids]
    assert splits == [split_of(str(i).upper(), 0.2) for i in ids]
    assert 0.17 < splits.count("eval") / len(ids) < 0.23
    assert all(split_of(i, 0.0) == "train" for i in ids[:50])


def test_identical_input_gives_identical_hash_and_rows() -> None:
    pairs = [_pair(uuid.UUID(int=k), 0.5 + k / 100) for k in range(40)]

    def build():  # type: ignore[no-untyped-def]
        outs = {"train": io.BytesIO(), "eval": io.BytesIO()}
        summary = write_splits(curate(pairs, tenant_config={}, min_reward=0.0), outs, eval_share=0.25)
        return summary, outs["train"].getvalue(), outs["eval"].getvalue()

    s1, train1, eval1 = build()
    s2, train2, eval2 = build()
    assert (s1.content_hash, train1, eval1) == (s2.content_hash, train2, eval2)
    assert s1.version == s1.content_hash[:16] and s1.total == 40
    assert sum(s1.reward_histogram.values()) == 40
    more = [*pairs, _pair(uuid.UUID(int=999), 0.9)]
    outs = {"train": io.BytesIO(), "eval": io.BytesIO()}
    assert write_splits(curate(more, tenant_config={}, min_reward=0.0), outs, eval_share=0.25).version != s1.version


def test_histogram_bins_and_settings() -> None:
    assert histogram_bin(1.0) == "0.9-1.0" and histogram_bin(0.0) == "0.0-0.1" and histogram_bin(0.55) == "0.5-0.6"
    assert curation_settings(None).min_reward == 0.5
    with pytest.raises(ConfigError, match="eval_share"):
        curation_settings(None, eval_share=1.5)

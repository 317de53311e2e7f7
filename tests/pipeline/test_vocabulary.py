"""Protects: a tenant's learned vocabulary keeps the company's voice and never a customer's data (issue 11).

- a term the tenant's answers give at least K distinct users (default 5, ``scrub.vocabulary_min_users``)
  and at least a share of its answers is vocabulary; K-1 users, or too small a share, is not;
- common first names spread over many users never qualify, and the scrubber, given the learned
  vocabulary, still removes them (real scrubber);
- a customer's own name (their message, their user id), an addressed name ("Dear X"), a structured
  identifier (e-mail, card, SSN, IBAN, IP) never qualify; a support line given to K users does, a
  customer's number repeated to one user does not; the deny-list wins;
- the vocabulary is a content-versioned artifact; ``seal/tenant_vocabulary`` stores it (metadata:
  counts, never a term), ``scrubbed_edits`` scrubs with it and records its version, on both backends;
- its settings are validated where the tenant config is (a bad value names the key).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import pytest

from aion_assets.core.errors import ConfigError
from aion_assets.memory.models import EditStatus, InteractionIn, SelfEditIn, Tenant
from aion_assets.memory.scrub.policy import VocabularySettings, scrub_policy, vocabulary_settings
from aion_assets.memory.store import MemoryStore
from aion_assets.seal.datasets.tenant_config import validate_tenant_config
from aion_assets.seal.datasets.vocabulary import Answer, learn_vocabulary, read_vocabulary
from aion_assets.seal.datasets.vocabulary_terms import candidate_terms
from tests.pipeline.conftest import Backend, set_tenant

pytestmark = pytest.mark.filterwarnings("ignore::dagster.PreviewWarning")

DEFAULT = VocabularySettings()
# Common first names (all in the scrubber's first-name dictionary).
FIRST_NAMES = ["Emma", "John", "Laura", "Oliver", "Sophie", "James", "Maria", "David", "Anna", "Thomas"]


def _answers(texts_by_user: dict[str, list[str]], message: str = "How do I pair it?") -> list[Answer]:
    return [Answer(user, message, (text,)) for user, texts in texts_by_user.items() for text in texts]


def _tenant(config: dict[str, Any]) -> Tenant:
    return Tenant(tenant_id="t", retention_days=None, adaptation_opt_out=False, config=config,
                  created_at=datetime.now(UTC))


def test_a_term_given_to_k_users_is_vocabulary_and_k_minus_one_is_not() -> None:
    five = _answers({f"u{i}": ["Open Lumio Hub and tap Brightwater Sync."] for i in range(5)})
    four = _answers({f"u{i}": ["Ask Zentrova about it."] for i in range(4)})
    vocab = learn_vocabulary("t", five + four, DEFAULT)
    assert {"Lumio Hub", "Lumio", "Brightwater Sync", "Brightwater"} <= set(vocab.terms)
    assert "Zentrova" not in vocab.terms and vocab.refused["too_few_users"] >= 1
    # The same user answered five times is one user.
    same = _answers({"u1": ["Open Lumio Hub."] * 5})
    assert "Lumio" not in learn_vocabulary("t", same, DEFAULT).terms
    # K is the tenant's: with 3, four users suffice.
    assert "Zentrova" in learn_vocabulary("t", four, VocabularySettings(min_users=3)).terms


def test_the_share_of_answers_guards_large_tenants() -> None:
    # "Okonkwo" (no first name, no word) in answers to 6 different users:
    rare = _answers({f"c{i}": [f"Your parcel for Okonkwo ships today, order {i}."] for i in range(6)})
    filler = _answers({f"f{i}": ["Open the Lumio Hub app."] for i in range(10_000)})
    among_many = learn_vocabulary("t", rare + filler, DEFAULT)  # 6 of 10,006 answers: 0.06% < 0.1%
    assert "Okonkwo" not in among_many.terms and among_many.refused["too_rare"] >= 1
    among_few = learn_vocabulary("t", rare + filler[:100], DEFAULT)  # 6 of 106 answers
    assert "Okonkwo" in among_few.terms
    assert "Okonkwo" not in learn_vocabulary("t", rare + filler[:100], VocabularySettings(min_share=0.1)).terms


def test_common_first_names_over_many_users_never_qualify_and_are_still_scrubbed() -> None:
    from aion_assets.memory.scrub.engine import get_scrubber

    # Each name greets, thanks or mentions five different customers of that name (50 users), and
    # the product name goes to all of them.
    answers = [
        Answer(f"{name.lower()}-{k}", "Where is my Lumio Hub?", (text,))
        for name in FIRST_NAMES
        for k, text in enumerate(
            [
                f"Hi {name}, your Lumio Hub ships today.",
                f"Thanks {name}! The Lumio Hub is on its way.",
                f"{name}, the Lumio Hub ships today.",
                f"I have updated the order of {name} for the Lumio Hub.",
                f"Dear {name}, your Lumio Hub ships today.",
            ]
        )
    ]
    vocab = learn_vocabulary("t", answers, DEFAULT)
    kept = {t.casefold() for t in vocab.terms}
    assert "lumio hub" in kept
    assert not any(name.casefold() in kept or any(name in t for t in vocab.terms) for name in FIRST_NAMES)
    policy = scrub_policy(_tenant({}), vocab.terms)
    texts = [t for a in answers for t in a.texts]
    scrubber = get_scrubber()
    with_vocab = scrubber.scrub_many(texts, policy)
    without = scrubber.scrub_many(texts, scrub_policy(_tenant({})))
    for text, kept_by_vocab, plain in zip(texts, with_vocab, without, strict=True):
        assert "Lumio Hub" in kept_by_vocab.text
        # The vocabulary shields no name: whatever the scrubber removes without it, it removes with it.
        left = {n for n in FIRST_NAMES if n in kept_by_vocab.text}
        assert left <= {n for n in FIRST_NAMES if n in plain.text}, (text, kept_by_vocab.text)
        if text.startswith(("Hi ", "Dear ", "Thanks ")):
            assert not left, (text, kept_by_vocab.text)


def test_a_customers_own_name_and_addressed_names_never_qualify() -> None:
    # The customer calls themselves "Zorvath" (no dictionary name) and the agent repeats it to six users.
    intro = [Answer(f"u{i}", "Hi, my name is Zorvath Quell and my Lumio Hub is broken.",
                    ("Zorvath Quell, please restart the Lumio Hub.",)) for i in range(6)]
    signed = [Answer(f"s{i}", "My Lumio Hub is offline.\nThanks,\nBrannoc", ("Brannoc, restart the Lumio Hub.",))
              for i in range(6)]
    ids = [Answer(f"tessaly.{i}@mail", "Lumio Hub?", ("Tessaly, restart the Lumio Hub.",)) for i in range(6)]
    addressed = [Answer(f"d{i}", "help", ("Dear Mr Farrowby, restart the Lumio Hub.",)) for i in range(6)]
    vocab = learn_vocabulary("t", intro + signed + ids + addressed, DEFAULT)
    for name in ("Zorvath", "Zorvath Quell", "Quell", "Brannoc", "Tessaly", "Farrowby", "Mr Farrowby"):
        assert name not in vocab.terms, name
    assert "Lumio Hub" in vocab.terms
    assert vocab.refused["customer_name"] >= 3 and vocab.refused["addressed"] >= 1


def test_structured_identifiers_never_qualify_and_a_support_line_does() -> None:
    line = "+44 20 7946 0123"
    per_user = [
        f"Call our support line on {line} or write to help@lumio-support.com. "
        "Card 4111 1111 1111 1111, SSN 078-05-1120, IBAN DE89 3704 0044 0532 0130 00, IP 192.168.10.20."
        for _ in range(1)
    ]
    answers = _answers({f"u{i}": per_user for i in range(8)})
    # A customer's own number, repeated back to that customer only.
    answers += [Answer("solo", "Call me on +1 415 555 0199", ("We will call you on +1 415 555 0199.",))]
    vocab = learn_vocabulary("t", answers, DEFAULT)
    assert line in vocab.terms
    assert "+1 415 555 0199" not in vocab.terms
    joined = " | ".join(vocab.terms)
    for value in ("@", "4111", "078-05-1120", "DE89", "192.168"):
        assert value not in joined, value


def test_the_deny_list_wins_and_configured_vocabulary_is_refused() -> None:
    answers = _answers({f"u{i}": ["Open Lumio Hub and tap Brightwater Sync."] for i in range(6)})
    vocab = learn_vocabulary("t", answers, DEFAULT, deny_list=["brightwater"])
    assert "Lumio Hub" in vocab.terms
    assert not any("Brightwater" in t for t in vocab.terms) and vocab.refused["deny_list"] >= 1
    with pytest.raises(ConfigError, match=r"scrub\.vocabulary"):
        scrub_policy(_tenant({"scrub": {"vocabulary": ["Lumio"]}}))


def test_vocabulary_settings_are_validated_with_the_tenant_config() -> None:
    assert vocabulary_settings(_tenant({"scrub": {"vocabulary_min_users": 8, "vocabulary_min_share": 0.01}})) == (
        VocabularySettings(min_users=8, min_share=0.01)
    )
    assert vocabulary_settings(None) == DEFAULT == VocabularySettings(min_users=5, min_share=0.001)
    validate_tenant_config("t", {"scrub": {"vocabulary_min_users": 8, "allow_list": ["Lumio"]}})
    with pytest.raises(ConfigError, match=r"scrub\.vocabulary_min_users"):
        validate_tenant_config("t", {"scrub": {"vocabulary_min_users": 1}})
    with pytest.raises(ConfigError, match=r"scrub\.vocabulary_min_share"):
        validate_tenant_config("t", {"scrub": {"vocabulary_min_share": "lots"}})


def test_candidates_and_version_are_deterministic() -> None:
    found, addressed = candidate_terms("The Velocia Marlow 5 Trail pairs with Garmin Connect. Hi Anna, tap Settings.")
    assert {"Velocia Marlow 5 Trail", "Garmin Connect", "Velocia", "Marlow"} <= found
    assert "The Velocia Marlow 5" not in found and "Marlow 5 Trail" not in found  # no overlapping pieces
    assert addressed == {"anna"}
    answers = _answers({f"u{i}": ["Open Lumio Hub."] for i in range(6)})
    a, b = learn_vocabulary("t", answers, DEFAULT), learn_vocabulary("t", list(reversed(answers)), DEFAULT)
    assert a.version == b.version and a.to_json() == b.to_json()
    assert read_vocabulary(a.to_json()) == a.terms
    assert learn_vocabulary("t", answers, VocabularySettings(min_users=6)).version != a.version
    with pytest.raises(ValueError, match="terms"):
        read_vocabulary(b'{"terms": "Lumio"}')


def test_vocabulary_asset_feeds_scrubbed_edits(backend: Backend, tenant: str) -> None:
    from aion_assets.memory.assets import interactions
    from aion_assets.seal.datasets.assets import scrubbed_edits, tenant_vocabulary
    from aion_assets.seal.partitions import TENANT_DOMAINS

    engine = backend.engine()
    store = MemoryStore(engine)
    # "Quorvex" is a product name only; answered to 8 users, it must survive scrubbing.
    for i in range(8):
        (inter,), _ = store.add_interactions(
            tenant,
            [InteractionIn(agent_id="bot", user_id=f"user-{i}", input_text=f"My Quorvex Dock {i} is offline.",
                           output_text="Restart it.", metadata={"domain": "support"})],
        )
        edit, _ = store.add_self_edit(
            tenant,
            SelfEditIn(
                interaction_id=inter.id, editor_type="human", reward_score=0.9,
                edited_output="Hold the reset button of the Quorvex Dock for 5 seconds, then ask Quorvex Cloud.",
            ),
        )
        store.review_self_edit(tenant, edit.id, EditStatus.approved, "reviewer@test")
    set_tenant(engine, tenant, config={"scrub": {"vocabulary_min_users": 6}})
    instance = dg.DagsterInstance.ephemeral()
    partition = f"{tenant}/support"
    instance.add_dynamic_partitions(TENANT_DOMAINS, [partition])
    dg.materialize([interactions], resources=backend.resources(), instance=instance)
    result = dg.materialize(
        [tenant_vocabulary, scrubbed_edits], partition_key=partition, resources=backend.resources(), instance=instance
    )
    assert result.success
    (vmat,) = result.asset_materializations_for_node(tenant_vocabulary.op.name)
    meta = {k: v.value for k, v in vmat.metadata.items()}
    assert meta["min_users"] == 6 and meta["answers"] == 8 and meta["users"] == 8
    assert "Quorvex" not in json.dumps(meta, default=str)  # counts only, never a term
    doc = json.loads(backend.artifact_store().get_bytes(meta["key"]))
    assert {"Quorvex Dock", "Quorvex Cloud"} <= set(doc["terms"])
    assert meta["key"] == f"vocabulary/{tenant}/{meta['version']}.json"
    (smat,) = result.asset_materializations_for_node(scrubbed_edits.op.name)
    assert smat.metadata["vocabulary_version"].value == meta["version"]
    rows = [json.loads(line) for line in backend.artifact_store().get_bytes(smat.metadata["key"].value).splitlines()]
    assert len(rows) == 8 and all("Quorvex Dock" in r["response"] and "Quorvex Cloud" in r["response"] for r in rows)
    assert uuid.UUID(rows[0]["id"])
    engine.dispose()


def test_a_kept_term_never_unmasks_a_name_beside_it() -> None:
    from aion_assets.memory.scrub.engine import get_scrubber

    text = "Good news Maria: your Lumio Hub ships today."
    assert "Maria" not in get_scrubber().scrub(text, scrub_policy(_tenant({}))).text
    assert "Maria" not in get_scrubber().scrub(text, scrub_policy(_tenant({}), ("Lumio Hub", "Lumio"))).text

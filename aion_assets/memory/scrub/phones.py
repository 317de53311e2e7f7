"""libphonenumber's matcher with each candidate's verdict remembered: the same matches, found faster.

``phonenumbers.PhoneNumberMatcher`` finds candidate substrings with a regex and then parses and
verifies each one for the matcher's region (``_parse_and_verify``). That step was a third of the
scrubber's time on short support texts: stock Presidio runs the matcher for eight regions, the
project's phone recognizer for six more, and the same candidates come back again and again: in
every region, in the re-scan of a scrubbed output (order numbers, dates and amounts survive
scrubbing), and across a tenant's texts.

The verdict on a candidate depends only on the candidate, the region, the leniency, and the
character just before and just after it in the text (the matcher rejects a candidate glued to a
Latin letter or to some punctuation; it reads nothing else of the text). ``verdict`` is a bounded
per-process cache keyed by exactly those five values, and ``MemoPhoneNumberMatcher`` asks it
instead of parsing again, so its matches are those of ``PhoneNumberMatcher`` by construction
(``tests/memory/test_scrub_phones.py`` compares them on generated texts, and
``test_scrub_stock.py`` compares the stock layer with Presidio as it comes). The cached number is
a ``FrozenPhoneNumber``: nobody can change what another caller gets.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from phonenumbers import FrozenPhoneNumber, PhoneNumberMatch, PhoneNumberMatcher

#: Distinct (candidate, region, leniency, neighbours) verdicts kept per process (about 0.5 KB each).
CACHE_SIZE = 1 << 16


@lru_cache(maxsize=CACHE_SIZE)
def verdict(candidate: str, region: str | None, leniency: int, before: str, after: str) -> FrozenPhoneNumber | None:
    """The number ``PhoneNumberMatcher`` accepts CANDIDATE as, or None (rejected).

    BEFORE and AFTER are the characters around the candidate in its text ("" at either end): the
    only part of the text the verification reads. Parsing a text made of them and the candidate
    gives the verdict the candidate gets in any text with the same neighbours.
    """
    matcher = PhoneNumberMatcher(before + candidate + after, region, leniency=leniency)
    match = matcher._parse_and_verify(candidate, len(before))
    return None if match is None else FrozenPhoneNumber(match.number)


class MemoPhoneNumberMatcher(PhoneNumberMatcher):  # type: ignore[misc]
    """``PhoneNumberMatcher`` (same arguments, same matches) that parses each distinct candidate once."""

    def _parse_and_verify(self, candidate: str, offset: int) -> Any:
        end = offset + len(candidate)
        before = self.text[offset - 1] if offset > 0 else ""
        after = self.text[end] if end < len(self.text) else ""
        number = verdict(candidate, self.preferred_region, int(self.leniency), before, after)
        return None if number is None else PhoneNumberMatch(offset, candidate, number)


def memo_phone_recognizer(stock: Any) -> Any:
    """Presidio's ``PhoneRecognizer`` STOCK again (same name, regions, leniency, context, entity and
    results), on the memo matcher."""
    import phonenumbers
    from presidio_analyzer import EntityRecognizer
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    class MemoPhoneRecognizer(PhoneRecognizer):  # type: ignore[misc]
        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
            results = []
            leniency: Any = self.leniency  # Optional in Presidio's signature; None fails in the matcher, as in stock
            for region in self.supported_regions:
                for match in MemoPhoneNumberMatcher(text, region, leniency=leniency):
                    # Presidio's explanation names the number's own region when it parses without one.
                    try:
                        named = phonenumbers.region_code_for_number(phonenumbers.parse(text[match.start : match.end]))
                    except phonenumbers.NumberParseException:
                        named = region
                    results.append(self._get_recognizer_result(match, text, named, nlp_artifacts))
            return list(EntityRecognizer.remove_duplicates(results))

    return MemoPhoneRecognizer(context=list(stock.context), supported_language=stock.supported_language,
                               supported_entity=stock.supported_entities[0], supported_regions=stock.supported_regions,
                               leniency=stock.leniency, name=stock.name)

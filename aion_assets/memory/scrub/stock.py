"""Presidio as it comes, run on the scrubber's own NLP artifacts: the floor the scrubber never goes below.

``StockLayer`` is Presidio's default recognizer registry (``RecognizerRegistryProvider`` with the
default configuration, plus the spaCy NER recognizer that ``AnalyzerEngine`` adds itself) and its
default score threshold (0, with each recognizer's own thresholds), asked only for the types the
project scrubs (``STOCK_TYPES``). It shares the scrubber's spaCy pipeline: the text is parsed once
and both the stock recognizers and the project's read the same ``NlpArtifacts``.

Three differences from ``AnalyzerEngine()`` as it comes, each neutral or wider:
- the e-mail recognizer validates the domain with tldextract's bundled public-suffix snapshot
  (stock fetches the list over HTTP on first use, which production hosts must never do); the
  rule is the same (``fqdn != ""``);
- the scrubber's spaCy entity mapping also maps ``FAC`` (buildings, airports, streets) to
  LOCATION, which stock leaves unmapped: stock's LOCATION spans are a subset of what it sees;
- the phone recognizer is stock's on a matcher that parses each distinct candidate once per
  process (``phones``): the same matches; candidates that come back (a support line, order
  numbers in the re-scan of a scrubbed output) are not parsed again.
``tests/memory/test_scrub_stock.py`` compares this layer with a real stock ``AnalyzerEngine``.

Types stock detects that the project does not scrub, and why:
- URL: the links in support answers are the company's own help pages and are the facts the
  dataset must teach; a personal e-mail or IP inside a URL is still caught by its own recognizer;
- DATE_TIME, NRP, ORGANIZATION and the country-specific ids (US driver licence, passport, ITIN,
  bank number, UK NHS, medical licence, crypto wallets): not among the SPEC's scrubbed types.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine, RecognizerResult
    from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine

STOCK_TYPES: tuple[str, ...] = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "US_SSN",
    "IBAN_CODE",
    "IP_ADDRESS",
    "LOCATION",
)

_DIGITS_ONLY = frozenset({"PHONE_NUMBER", "CREDIT_CARD", "US_SSN"})


def offline_email_recognizer() -> Any:
    """Presidio's ``EmailRecognizer`` with its own validation rule, on the bundled suffix list."""
    import tldextract
    from presidio_analyzer.predefined_recognizers import EmailRecognizer

    extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)

    class OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return extract(pattern_text).fqdn != ""

    return OfflineEmailRecognizer()


class StockLayer:
    """Stock Presidio's detections of ``STOCK_TYPES`` on given NLP artifacts (module docstring).

    Args:
        nlp_engine: the scrubber's loaded spaCy engine (shared, not loaded again).
    """

    def __init__(self, nlp_engine: NlpEngine) -> None:
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.predefined_recognizers import EmailRecognizer, PhoneRecognizer
        from presidio_analyzer.recognizer_registry import RecognizerRegistryProvider

        from aion_assets.memory.scrub.phones import memo_phone_recognizer

        registry = RecognizerRegistryProvider(
            registry_configuration={"supported_languages": ["en"]}
        ).create_recognizer_registry()
        registry.add_nlp_recognizer(nlp_engine=nlp_engine)
        registry.recognizers = [r for r in registry.recognizers if not isinstance(r, EmailRecognizer)]
        registry.add_recognizer(offline_email_recognizer())
        registry.recognizers = [memo_phone_recognizer(r) if type(r) is PhoneRecognizer else r
                                for r in registry.recognizers]
        self._engine: AnalyzerEngine = AnalyzerEngine(registry=registry, nlp_engine=nlp_engine,
                                                      supported_languages=["en"])
        self.entities = [e for e in STOCK_TYPES if e in set(self._engine.get_supported_entities("en"))]
        self._digitless = [e for e in self.entities if e not in _DIGITS_ONLY]
        for recognizer in self._engine.registry.get_recognizers("en", entities=self.entities):
            recognizer.load()  # e.g. the phone recognizer's metadata, now rather than on the first text

    def analyze(self, text: str, nlp_artifacts: NlpArtifacts) -> list[RecognizerResult]:
        """What ``AnalyzerEngine().analyze(text, "en")`` returns for ``STOCK_TYPES``, without parsing again."""
        # Phone numbers, cards and SSNs are made of digits: without one (any script, as str.isdigit
        # sees them) their recognizers find nothing, and the phone matcher is stock's costly part.
        entities = self.entities if any(c.isdigit() for c in text) else self._digitless
        return self._engine.analyze(text, "en", entities=entities, nlp_artifacts=nlp_artifacts)

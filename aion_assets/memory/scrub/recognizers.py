"""Presidio recognizers and gazetteers that the scrubber adds to Presidio's own.

Plain Python; used by ``aion_assets.memory.scrub.engine``. Everything heavy (gazetteers) is built lazily
on first use and cached for the process. Data sources, all installed packages, nothing fetched:

- places: libphonenumber's geocoding data (``phonenumbers.geodata``: towns and regions that phone
  prefixes serve, ~40 countries in depth), its country names in Latin-script languages, and ISO
  3166-2 subdivisions from ``pycountry``;
- first names: the name dictionary that ships with ``gender-guesser`` (Jörg Michael's list, ~45k
  names from many countries).

Why each recognizer exists (stock Presidio + the small spaCy model miss these):
``StreetAddressRecognizer`` (Presidio has none), ``PlaceRecognizer`` (spaCy-sm labels many towns
ORG/PERSON or nothing), ``LocationCueRecognizer`` (unknown towns after "in"/"from"),
``PersonNameRecognizer`` (lower-case names, names spaCy labels ORG, upper-case names in form
fields, "Name: JOHN SMITH", initials, "J. Smith", unknown names after a greeting or alone on a
sign-off's line, "Hey Iwo," / "Best,\nIwo", a first name alone before what
people do, "Rose will call you back", or addressed at a sentence start, "Maria, your hub ...";
titles, degrees, capitals on labels, lower-case names after thanks or "this is"/"its", and
greetings and sign-offs in ten languages come from ``name_forms``; a
lower-case name never starts
with a frequent English word, ``scrub_words``, unless a verb that follows names or a cue before a
surname that is no word says so, and never follows an article, possessive, adjective or noun:
"door switch", "line open", "my bill due" are not names), ``PhoneRecognizer`` (more
regions, ``001-`` prefixes, extensions), ``CardRecognizer`` (12-19 digits, any grouping),
``IbanRecognizer`` (any country, grouped, checksum-validated), ``OfflineEmailRecognizer``.
"""

from __future__ import annotations

import re

from presidio_analyzer import AnalysisExplanation, EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import SpacyRecognizer

from aion_assets.memory.scrub.gazetteers import COMMON_WORDS, first_names, fold, place_gazetteer
from aion_assets.memory.scrub.name_forms import GREETINGS, SIGNOFFS, name_forms
from aion_assets.memory.scrub.words import is_common_word

# Upper-case letters of Latin scripts (Python's re has no \p{Lu}).
_UP = "A-ZÀ-ÖØ-ÞĀĂĄĆĈĊČĎĐĒĔĖĘĚĜĞĠĢĤĦĨĪĬĮİĴĶĹĻĽĿŁŃŅŇŌŎŐŒŔŖŘŚŜŞŠŢŤŦŨŪŬŮŰŲŴŶŸŹŻŽ"
_CAPW = rf"[{_UP}][\w'’.]*(?:-[\w'’.]+)*"  # a capitalised word, hyphenated parts allowed
def make_result(recognizer: EntityRecognizer, entity: str, start: int, end: int, score: float) -> RecognizerResult:
    """A RecognizerResult with the explanation Presidio's context enhancer expects."""
    name = str(getattr(recognizer, "name", type(recognizer).__name__))
    return RecognizerResult(
        entity, start, end, score,
        analysis_explanation=AnalysisExplanation(recognizer=name, original_score=score),
        recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: name,
                              RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: recognizer.id},
    )


_WORD = re.compile(r"[^\W\d_][\w'’]*(?:[-.][^\W\d_][\w'’]*)*")
_PARTICLES = frozenset(
    [
        "de", "del", "della", "der", "di", "da", "das", "do", "dos", "du", "la", "le", "les", "van", "von",
        "ten", "ter", "den", "zu", "bin", "ibn", "al", "el", "y", "e", "und", "sur", "sous", "am", "an",
        "im", "upon", "on", "en", "lès",
    ]
)
# Labels of a form's place fields: "Town/City:", "State / Province:", "Country/Region:", "Post Town:".
_PLACE_LABEL = (
    r"(?:city|town|post[ \t]+town|ort|ville|ciudad|città|citta|stad|plaats|woonplaats|miasto|cidade|localidad|"
    r"località|county|province|country|pays|país|paese|kraj|state|region|suburb|district|area|prefecture|canton|"
    r"kanton|bundesland|land|provincia|regione|estado|departement|département|voivodeship|województwo)"
)
# A form's place field up to its colon, at a line's start: "Town/City:", "State / Province *:".
_PLACE_FIELD = rf"(?m:^)[ \t]*{_PLACE_LABEL}(?:[ \t]*/[ \t]*{_PLACE_LABEL})*[ \t]*\*?[ \t]*:"
LOCATION_CUES = re.compile(
    r"(?:\b(?:in|from|near|around|outside|inside|visiting|visit|towards?|"
    r"(?:moved|moving|move|relocat\w+|travel+ing|travel+ed|fly\w*|flew|going|shipp\w+|ship|sent|send\w*|"
    r"headed|heading|drive|driving|based|located|lives?|living|stays?|staying|born)\s+(?:to|in|at|from|into))"
    rf"|{_PLACE_FIELD}"
    r")\s+$",
    re.IGNORECASE,
)
# Words of an app's screens and menus: "moved from Preferences to Account Centre" names no place.
_UI_WORDS = frozenset({
    "setting", "preference", "option", "menu", "account", "profile", "notification", "privacy", "security",
    "advanced", "general", "dashboard", "report", "device", "room", "zone", "schedule", "automation",
    "integration", "help", "support", "billing", "subscription", "plan", "centre", "center", "tab", "screen",
    "page", "panel", "sidebar", "toolbar", "library", "store", "app", "folder", "inbox", "outbox", "archive",
})
# Where a person lives, moved or travels, or a form's place field: a place follows, whatever its words.
_PERSONAL_PLACE_CUE = re.compile(
    r"(?:\b(?:moved|moving|relocat\w+|lives?|living|based|located|born|stay(?:s|ed|ing)?|visiting|travel+(?:ed|ing)|"
    r"flew|flying|headed|heading|driving)\s+(?:to|in|at|from|into|near)"
    rf"|{_PLACE_FIELD})\s+$",
    re.IGNORECASE,
)
# Where a person lives, or a form's place field: an unknown lower-case word after it is a town too
# ("i'm based in chandlerbury", "City: kassel"); after a move or a trip only a known place counts.
_HOME_CUE = re.compile(rf"(?:\b(?:lives?|living|based|located|born|grew\s+up)\s+(?:in|at|near)|{_PLACE_FIELD})\s+$",
                       re.IGNORECASE)
_FORM_LABEL = re.compile(r"[ \t]*:[ \t]*$")
_TITLES = re.compile(
    r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Herr|Frau|Hr|Fr|Sr|Sra|Srta|Sig|Sig\.ra|Dott|Dott\.ssa|Ing|M|Mme|Mlle|"
    r"Mevr|Dhr|Shri|Smt|Sri)\.?\s+$"
)
_NAME_CUES = re.compile(
    r"(?:\b(?:i'?m|i am|name is|name's|this is|dear|hi|hello|hey|thanks|thank you|regards|cheers|cc|"
    r"contact|call|ask|asked|ask for|talked to|talk to|spoke (?:to|with)|speak (?:to|with)|by|holder|"
    r"cardholder|customer|technician|agent|belongs to|manual to|from|with|and|for|good news|great news|"
    r"good (?:morning|afternoon|evening)|morning|welcome back|welcome|sorry|congrats|congratulations|"
    r"okay|ok|yes|well)[,:]?|[,:;(])\s+$",
    re.IGNORECASE,
)
_CLOSED_POS = frozenset({"AUX", "DET", "PRON", "ADP", "CCONJ", "SCONJ", "PART", "NUM", "PUNCT", "SYM"})
_MODIFIER_POS = frozenset({"DET", "ADJ", "NOUN", "NUM"})
_DETERMINERS = frozenset(
    ["the", "a", "an", "my", "your", "his", "her", "our", "their", "its", "this", "that", "these", "those",
     "some", "any", "no", "every", "each"]
)
_AFTER_NAME = re.compile(
    r"^\s+(?:said|says|wrote|writes|asked|asks|called|reported|mentioned|told|replied|confirmed|"
    r"complained|here)\b",
    re.IGNORECASE,
)
# What people, not things, do next: "Rose will call you back", "Mark has called twice". A bill
# "will be sent", a mark "will appear": neither follows.
PERSON_ACTION_AFTER = re.compile(
    r"^[ \t]+(?:(?:will|would|can|could|shall|should|may|might)[ \t]+(?:be[ \t]+)?"
    r"(?:call|ring|phone|text|e-?mail|contact|reach|get[ \t]+back|follow|help|assist|visit|check|look|handle|"
    r"review|reply|respond|in[ \t]+touch|with[ \t]+you|back)\w*"
    r"|(?:has|had)[ \t]+(?:called|rung|phoned|emailed|written|asked|said|confirmed|complained|replied)"
    r"|(?:called|rang|phoned|emailed|said|says|asked|asks|wrote|told|replied|mentioned|confirmed|reported|"
    r"complained|promised|explained)\b|is[ \t]+(?:calling|on[ \t]+leave|out[ \t]+of[ \t]+office|away)"
    r"|from[ \t]+(?:the[ \t]+|our[ \t]+)?(?:\w+[ \t]+)?"
    r"(?:team|department|dept|office|desk|support|accounts|billing|sales)\b)",
    re.IGNORECASE,
)


def pos_at(nlp_artifacts: NlpArtifacts | None) -> dict[int, str]:
    """Coarse part of speech by token start offset (cached on the artifacts: two recognizers use it)."""
    if nlp_artifacts is None or nlp_artifacts.tokens is None:
        return {}
    cached = getattr(nlp_artifacts, "_aion_pos", None)
    if cached is None:
        from spacy.attrs import IDX, POS

        doc = nlp_artifacts.tokens
        strings = doc.vocab.strings
        arr = doc.to_array([IDX, POS])
        cached = {int(i): strings[int(p)] for i, p in arr}
        nlp_artifacts._aion_pos = cached  # type: ignore[attr-defined]
    return cached


# A menu path's separator: "Settings > Lock", "Account › Billing", "Home → Rooms".
_MENU_BEFORE = re.compile(rf"[>›»→][ \t]*(?:[{_UP}][\w'’-]*[ \t]+){{0,3}}$")  # "> Auto Lock" too
_MENU_AFTER = re.compile(r"[ \t]*[>›»→]")
# A count before an ordinary word: "2 Wall Plates", "4 Door Locks", "3 Bridge units".
_COUNT_BEFORE = re.compile(r"(?<![\w.,:/-])\d{1,3}[ \t]+$")


def in_menu_or_counted(text: str, start: int, end: int) -> bool:
    """True when TEXT[START:END] is a step of a menu path or an ordinary word counted by a number before it:
    a button or goods, not a place or a person ("Settings > Lock", "2 Wall Plates", "4 Door Locks")."""
    if _MENU_BEFORE.search(text, max(0, start - 60), start) or _MENU_AFTER.match(text, end):
        return True
    first = _WORD.match(text, start)
    return (first is not None and is_common_word(first.group())
            and _COUNT_BEFORE.search(text, max(0, start - 6), start) is not None)


def _words(text: str) -> list[re.Match[str]]:
    return list(_WORD.finditer(text))


def _lower_place_end(text: str, words: list[re.Match[str]], i: int, places: frozenset[str] | set[str]) -> int:
    """Where a lower-case place starting at word I ends (exclusive word index), or I if none.

    After a location cue (``LOCATION_CUES``: "in", "from", "near", a move, a place field), a known
    place typed in lower case that is no English word ("moved to valencia", "around madurai", "live
    in kongens lyngby"); after a home or a place field (``_HOME_CUE``) also an unknown word that is
    no English word nor a first name ("i'm based in chandlerbury", "City: hainfeld"). Ordinary words
    ("living in fear", "from home") are none.
    """
    before = text[max(0, words[i].start() - 30) : words[i].start()]
    if not LOCATION_CUES.search(before):
        return i
    last = i
    while (last + 1 < len(words) and last - i < 3 and words[last + 1].group().islower()
           and text[words[last].end() : words[last + 1].start()] == " "):
        last += 1
    for j in range(last, i - 1, -1):  # the longest known place: "kongens lyngby", "san sebastián"
        name = text[words[i].start() : words[j].end()]
        if (name.title() in places or name.capitalize() in places) and not all(
                is_common_word(words[k].group()) for k in range(i, j + 1)):
            return j + 1
    first = words[i].group()
    if (_HOME_CUE.search(before) and first.islower() and not is_common_word(first)
            and first not in COMMON_WORDS and fold(first) not in first_names()):
        return i + 1
    return i


def _ordinary_or_plural(word: str) -> bool:
    """An ordinary English word, also in the plural ("Automations", "Settings")."""
    return is_common_word(word) or (len(word) > 3 and word[-1] in "sS" and is_common_word(word[:-1]))


class AionPlaceRecognizer(EntityRecognizer):
    """Towns, regions and countries from the place gazetteer, plus capitalised words after location cues.

    A gazetteer hit scores higher when spaCy also saw an entity there or a cue ("in", "from",
    "moved to") precedes it; a capitalised phrase after a cue that is not in the gazetteer
    (an unknown town) scores lower but above the threshold; a phrase that starts with a very common
    word counts when a name follows in it ("City: South Caseymouth"). Typed in lower case, a known
    place after a cue, and an unknown word after a home or a place field, count too
    (``_lower_place_end``: "around madurai", "i'm based in chandlerbury", "City: hainfeld").
    """

    def __init__(self) -> None:
        super().__init__(supported_entities=["LOCATION"], name="AionPlaceRecognizer")

    def load(self) -> None:
        place_gazetteer()

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list:
        """LOCATION spans (see class docstring)."""
        places = place_gazetteer()
        words = _words(text)
        doc = nlp_artifacts.tokens if nlp_artifacts is not None else None
        ent_spans = {(e.start_char, e.end_char) for e in (doc.ents if doc is not None else ())}
        place_ents = [(e.start_char, e.end_char) for e in (doc.ents if doc is not None else ())
                      if e.label_ in ("GPE", "LOC", "FAC")]
        propn = {i for i, p in pos_at(nlp_artifacts).items() if p == "PROPN"}
        out: list[RecognizerResult] = []
        i = 0
        while i < len(words):
            w = words[i]
            if not w.group()[0].isupper():
                end = _lower_place_end(text, words, i, places)
                if end > i:
                    out.append(self._result(w.start(), words[end - 1].end(), 0.6))
                i = max(end, i + 1)
                continue
            chained = bool(out) and re.fullmatch(r",\s*", text[out[-1].end : w.start()]) is not None
            cue = chained or bool(LOCATION_CUES.search(text[max(0, w.start() - 30) : w.start()]))
            hit = None
            for j in range(min(len(words), i + 6) - 1, i - 1, -1):
                if j > i and not re.fullmatch(r"[ \-]", text[words[j - 1].end() : words[j].start()] or "x"):
                    continue
                if text[w.start() : words[j].end()] in places:
                    hit = j
                    break
            if hit is not None and in_menu_or_counted(text, w.start(), words[hit].end()):
                i = hit + 1
                continue
            if (hit == i and is_common_word(w.group()) and i > 0 and words[i - 1].group()[0].isupper()
                    and text[words[i - 1].end() : w.start()] == " " and not cue):
                i += 1  # "Help Centre", "Account Centre": the end of a title-case name, not the region
                continue
            if hit is not None:
                if cue:  # the rest of a longer name after a cue: "Guyana Francese", "Estados Unidos de América"
                    while hit + 1 < len(words) and re.fullmatch(r"[ \-]",
                                                                text[words[hit].end() : words[hit + 1].start()]):
                        nxt = words[hit + 1].group()
                        if (nxt in _PARTICLES and hit + 2 < len(words) and words[hit + 2].group()[0].isupper()
                                and text[words[hit + 1].end() : words[hit + 2].start()] == " "
                                and not is_common_word(words[hit + 2].group())):
                            hit += 2
                        elif nxt[0].isupper() and not is_common_word(nxt) and nxt.lower() not in COMMON_WORDS:
                            hit += 1
                        else:
                            break
                start, end = w.start(), words[hit].end()
                if (start, end) in ent_spans or cue:
                    score = 0.86
                elif any(words[k].start() in propn for k in range(i, hit + 1)):
                    score = 0.7
                else:  # a town that is also an English word ("Reading", "Mobile"): not on its own
                    score = 0.45
                out.append(self._result(start, end, score))
                i = hit + 1
                continue
            # "in Zenith 60", "on XR-2000", "in EU": products, models and codes, not unknown towns
            code_like = re.match(r"[-_ ]?\d", text[w.end() : w.end() + 2]) or (
                w.group().isupper() and len(w.group()) <= 3
            )
            j = i
            while (cue and j + 1 < len(words) and re.fullmatch(r"[ \-]", text[words[j].end() : words[j + 1].start()])
                   and (words[j + 1].group()[0].isupper() or words[j + 1].group() in _PARTICLES)):
                j += 1
            while words[j].group() in _PARTICLES:
                j -= 1
            # a run of very common words ("in General", "from South") is no place, unless a name follows
            # in it ("City: South Caseymouth", "New Michaelhaven")
            if cue and not code_like and any(words[k].group().lower() not in COMMON_WORDS for k in range(i, j + 1)):
                if (j == i and is_common_word(w.group()) and w.start() not in propn
                        and _FORM_LABEL.search(text, max(0, w.start() - 30), w.start())):
                    i += 1  # "Country: Unknown", "Town: Pending" are form values, not places ("Bavaria" is)
                    continue
                if (all(_ordinary_or_plural(words[k].group()) for k in range(i, j + 1)
                        if words[k].group() not in _PARTICLES)
                        and not any(a < words[j].end() and w.start() < b for a, b in place_ents)
                        and (not _PERSONAL_PLACE_CUE.search(text, max(0, w.start() - 30), w.start())
                             or any(words[k].group().lower().rstrip("s") in _UI_WORDS for k in range(i, j + 1)))):
                    # "from Basic", "in Automations", "from Control Centre": ordinary words after a bare
                    # preposition, in which the model saw no place, are a plan or a menu (a town the
                    # gazetteer misses carries a name, "Port Jessica", or the model tags it, "from
                    # Bavaria", or a person's move or home names it: "we moved to Normandy")
                    i = j + 1
                    continue
                out.append(self._result(w.start(), words[j].end(), 0.6))
                i = j + 1
                continue
            i += 1
        return out

    def _result(self, start: int, end: int, score: float) -> RecognizerResult:
        return make_result(self, "LOCATION", start, end, score)


_INNER_CAPITAL = re.compile(r"[a-zß-ÿ][A-ZÀ-Þ]")
_SURNAME_PREFIX = re.compile(r"(?:Mc|Mac|De|Di|Da|Du|Le|La|Van|Von|Fitz|St|O')[A-ZÀ-Þ]")


class AionPersonRecognizer(EntityRecognizer):
    """Names spaCy misses: after titles, first-name-led phrases (also lower-case), ORG-labelled names."""

    def __init__(self) -> None:
        super().__init__(supported_entities=["PERSON"], name="AionPersonNameRecognizer")

    def load(self) -> None:
        first_names()

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list:
        """PERSON spans (see class docstring)."""
        names = first_names()
        words = _words(text)
        doc = nlp_artifacts.tokens if nlp_artifacts is not None else None
        pos = pos_at(nlp_artifacts)
        out: list[RecognizerResult] = []

        def joined(a: int, b: int) -> bool:
            return re.fullmatch(r"[ \t]{1,3}", text[words[a].end() : words[b].start()]) is not None

        def surname_like(k: int, upper: bool) -> bool:
            g = words[k].group()
            if g.lower() in COMMON_WORDS or len(g) < 2:
                return False
            if upper:  # Title-case only: acronyms and codes ("IBAN", "DE89") are not surnames, nor
                # inner capitals other than a surname's prefix ("SmartThings", not "McDonald", "DeVito")
                return (g[0].isupper() and not g.isupper() and g.isalpha()
                        and (not _INNER_CAPITAL.search(g) or _SURNAME_PREFIX.match(g) is not None))
            return g.islower() and pos.get(words[k].start(), "X") not in _CLOSED_POS

        def lower_blocked(k: int, before: str) -> bool:
            # A lower-case name does not start with an ordinary word ("line open", "due date", "general
            # fault") unless the context says name: a verb that follows names ("sole rossi here") or a
            # cue before a surname that is no word ("to max harper"). Nor does it follow an article, a
            # possessive, an adjective or a noun ("the door switch", "my bill due").
            g = words[k].group()
            if is_common_word(g) and g not in _PARTICLES:
                nxt = k + 1 if k + 1 < len(words) and joined(k, k + 1) else None
                if nxt is None:
                    return True
                after_cue = _AFTER_NAME.match(text[words[nxt].end() :]) is not None
                if not (after_cue or (_NAME_CUES.search(before) and not is_common_word(words[nxt].group()))):
                    return True
            if k == 0 or not re.fullmatch(r"[ \t]+", text[words[k - 1].end() : words[k].start()]):
                return False
            prev = words[k - 1]
            return (prev.group().lower() in _DETERMINERS or pos.get(prev.start(), "X") in _MODIFIER_POS) and not (
                _NAME_CUES.search(before)
            )

        i = 0
        while i < len(words):
            w = words[i]
            g = w.group()
            before = text[max(0, w.start() - 25) : w.start()]
            upper = g[0].isupper()
            if upper and (g.isupper() or not g.isalpha()) and len(g) > 1:
                i += 1
                continue
            titled = upper and bool(_TITLES.search(before))
            known = fold(g) in names and g.lower() not in COMMON_WORDS
            cue = bool(_NAME_CUES.search(before)) or titled
            if not (titled or known):
                # an unknown first name still makes a name with its surname between a cue and a
                # verb that follows names ("by Ishanvi Naik:", "ok so lizz geerling said")
                if (g.lower() not in COMMON_WORDS and i + 1 < len(words) and joined(i, i + 1)
                        and surname_like(i + 1, upper) and (upper or (g.islower() and not lower_blocked(i, before)))
                        and pos.get(w.start(), "X") not in _CLOSED_POS
                        and ((cue and upper) or _AFTER_NAME.match(text[words[i + 1].end() :]))
                        and text[w.start() : words[i + 1].end()] not in place_gazetteer()):
                    out.append(self._result(w.start(), words[i + 1].end(), 0.6))
                    i += 2
                    continue
                i += 1
                continue
            if not upper and (not g.islower() or pos.get(w.start(), "X") in _CLOSED_POS or lower_blocked(i, before)):
                i += 1
                continue
            j = i
            while j + 1 < len(words) and j - i < 4 and joined(j, j + 1):
                # one to three particles before the surname: "Elize van der Loo", "Ana de la Cruz"
                k = j + 1
                while (k < min(len(words), j + 4) and words[k].group() in _PARTICLES
                       and (k == j + 1 or joined(k - 1, k))):
                    k += 1
                if k > j + 1 and k < len(words) and joined(k - 1, k) and surname_like(k, upper):
                    j = k
                elif surname_like(j + 1, upper):
                    j += 1
                else:
                    break
            if j - i >= 2 and all(is_common_word(words[k].group()) for k in range(i + 1, j + 1)):
                i = j + 1  # "Paris Time Zone", "Jordan River Park": a title-case phrase that starts with a name
                continue
            if j > i:
                score = 0.8 if upper else (0.7 if cue else 0.6)
            elif cue and (upper or titled):
                score = 0.6
            elif upper and known and PERSON_ACTION_AFTER.match(text[w.end() :]):
                score = 0.6  # a first name alone before what people do: "Rose will call you back"
            elif (upper and known and text[w.end() : w.end() + 1] in (",", ":", "!")
                  and text[max(0, w.start() - 8) : w.start()].rstrip(" \t")[-1:] in ("", ".", "!", "?", "\n")):
                score = 0.6  # a first name addressed at a sentence start: "Maria, your hub ships today."
            else:
                i += 1
                continue
            if in_menu_or_counted(text, w.start(), words[j].end()):
                i = j + 1
                continue
            out.append(self._result(w.start(), words[j].end(), score))
            i = j + 1
        out.extend(self._result(a, b, sc) for a, b, sc in _form_and_initial_names(text))
        for ent in doc.ents if doc is not None else ():
            if (ent.label_ in ("ORG", "NORP", "WORK_OF_ART", "PRODUCT", "FAC", "EVENT", "LAW") and len(ent) >= 2
                    and ent[0].text.lower() in names and all(t.is_alpha or t.text == "-" for t in ent)):
                out.append(self._result(ent.start_char, ent.end_char, 0.8))
        return out

    def _result(self, start: int, end: int, score: float) -> RecognizerResult:
        return make_result(self, "PERSON", start, end, score)


# A form's name field: "Name: JOHN SMITH", "Account holder: Megan Bowers" (the value up to the line end).
_FORM_NAME = re.compile(
    rf"(?im)^[ \t]*(?:(?:full[ \t]+|first[ \t]+and[ \t]+last[ \t]+|customer[ \t]+|contact[ \t]+)?name|"
    rf"account[ \t]+(?:holder|owner|name)|card[ \t]*holder|customer|contact(?:[ \t]+person)?|recipient|"
    rf"attn\.?|attention|signed|requested[ \t]+by|submitted[ \t]+by|payee|beneficiary|caller|client|owner|sender|"
    rf"addressee|applicant|guest|technician|engineer|installer|assigned[ \t]+to|from|to|cc)[ \t]*:[ \t]*"
    rf"((?-i:[{_UP}][\w'’.-]*(?:[ \t]+[{_UP}][\w'’.-]*){{1,3}}))[ \t]*(?=$|,)"
)
# "J. Smith", "J.R. Smith", "M. Pölitz": initials before a capitalised surname.
_INITIALS = re.compile(rf"(?<![\w.])((?:[{_UP}]\.[ \t]?){{1,2}})[ \t]*({_CAPW})")
# An initial left before a placeholder by an earlier pass ("M. <PERSON>").
_INITIAL_BEFORE_PLACEHOLDER = re.compile(
    rf"(?<![\w.])(?:[{_UP}]\.[ \t]?){{1,2}}(?=[ \t]*<(?:PERSON|LOCATION)(?:_\d+)?>)"
)


# A name the first-name list does not know, where only a name goes: after a greeting that opens a
# line ("Hey Iwo,"), or alone on the line after a sign-off ("Best,\nIwo"). The precision rules
# (``context``) still drop companies and teams ("Best,\nGlobex Billing Services").
_GREETING_NAME = re.compile(
    rf"(?im)^[ \t]*(?:{GREETINGS})[ \t]+"
    rf"((?-i:[{_UP}][a-zß-öø-ÿā-ſ'’-]+(?:[ \t]+[{_UP}][a-zß-öø-ÿā-ſ'’-]+)?))[ \t]*(?=[,!])"
)
_SIGNOFF_NAME = re.compile(
    rf"(?im)^[ \t]*(?:{SIGNOFFS})[ \t]*[,!.]?[ \t]*\n(?:[ \t]*\n)?"
    rf"[ \t]*((?-i:[{_UP}][a-zß-öø-ÿā-ſ'’-]+(?:[ \t]+[{_UP}][a-zß-öø-ÿā-ſ'’-]+){{0,2}}))[ \t]*$"
)


def _form_and_initial_names(text: str) -> list[tuple[int, int, float]]:
    """(start, end, score) of names in form fields, of initials with a surname, and of unknown names
    after a greeting or on a sign-off's line (module docstring)."""
    out = []
    for rx in (_GREETING_NAME, _SIGNOFF_NAME):
        for m in rx.finditer(text):
            value = m.group(1)
            if not all(is_common_word(w) or w.lower() in COMMON_WORDS for w in value.split()):
                out.append((m.start(1), m.end(1), 0.6))
    for m in _FORM_NAME.finditer(text):
        value = m.group(1)
        if not any(c.isdigit() for c in value) and not all(is_common_word(w) for w in value.split()):
            out.append((m.start(1), m.end(1), 0.85))
    for m in _INITIALS.finditer(text):
        surname = m.group(2).rstrip(".")
        if surname.lower() in COMMON_WORDS or not surname[1:2].islower():
            continue
        cue = _NAME_CUES.search(text, max(0, m.start() - 25), m.start()) is not None
        if cue or not is_common_word(surname) or PERSON_ACTION_AFTER.match(text, m.end()):
            out.append((m.start(), m.start(2) + len(surname), 0.7 if cue else 0.6))
    out.extend((m.start(), m.end(), 0.7) for m in _INITIAL_BEFORE_PLACEHOLDER.finditer(text))
    out.extend(name_forms(text))
    return out


class AionSpacyRecognizer(SpacyRecognizer):
    """spaCy's PERSON/LOCATION entities, without the ones that contain digits.

    The small model labels codes such as ``ORD-80984``, ``E-955`` or ``v10.16.2`` PERSON or GPE;
    names of people and places carry no digits.
    """

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list:
        results = super().analyze(text, entities, nlp_artifacts)
        for r in results:  # an entity never runs over a line break ("Wahab Dhawan\nH.No")
            nl = text.find("\n", r.start, r.end)
            if nl > r.start:
                r.end = nl
        return [r for r in results if not any(c.isdigit() for c in text[r.start : r.end])]

"""Street-address recognizer for the scrubber (Presidio has none).

An address is found as a *block*: anchors (a street line, a postcode + town line, a unit line)
found by format-specific patterns, joined when only separators (comma, newline, space) or one
short capitalised segment (a town, a district) lie between them, so that a multi-line address
is replaced as one ``<STREET_ADDRESS>`` and no line of it survives. A block needs one strong
anchor (a street with its number, or a postcode with its town) or two weak ones (a street name
without number, a flat/unit designator, a bare house number line). *Faint* anchors (a 4-digit
number beside a word: "1060 Wien", "Auckland 1010", "404, Kale") join a block but count for
nothing, since "The 2024 Model" and "Firmware 1060 Beta" look the same. The patterns are in
``address_formats``.

Formats covered: US/UK/IE/AU/IN "<number> <Name> <suffix>" with unit lines (Apt, Suite, Flat,
Studio), also typed in lower case ("22 baker street", "12 rue de rivoli", "flat 3", "m1 2ab",
"il 62704", "75001 paris": lower-case postcodes only join a street, they never stand alone);
German/Dutch/Scandinavian compounds ("Hauptstraße 5", "Kerkstraat 12", "Harloffring 5-7");
French "<number>, rue ..."; Italian/Spanish/Portuguese "Via/Calle/Rua ... <number>"; Indian
"H.No. 12", "12/904, ..."; Polish "ul. Kolorowa 67/29, 11-299 Koło"; Brazilian "Rua ..., 81, apto 11,
Cidade - RO, 28667-496"; flat and floor lines between street and town ("Appartement 3",
"Wohnung 5", "apto 11", "3º B"); postcodes of the US (with state), UK, CA ("ON M5H 2M9"), AU
("Sydney NSW 2000"), NL, DE/FR/IT/ES (5 digits), PL ("16-509"), BR ("28667-496"), IN (6 digits).
After an address cue ("my address is", "i live at", "send it to") a lower-case street may end in
any street suffix ("285 burke ferry"), or be any "<word(s)> <number>" that ends a phrase
("matthiasring 6, ..."); without one only the unmistakable ones count.

Also: AT/CH/BE/DK/NO 4-digit and SE/CZ "111 21" postcodes, PT "1100-053 Lisboa", BR "60674-465
da Cruz / RN", Irish Eircodes ("D06 F6X8") and "Dublin 6", PO boxes (PO Box, Postfach, Apartado,
Caixa Postal, Private Bag), "c/o <name>", German "Am Markt 3" and "3. OG", Danish "2. th.",
Belgian "bus 2", Austrian "/3/12" and "Top 4", NZ "Level 2" and "RD 10", Indian "12th Main Road"
and "Sector 62", Nordic and Finnish compounds ("Drottninggatan", "Storgata", "Nørregade",
"Urpupolku", "Veräjämäenbulevardi"), lower-case compounds ("hauptstr. 4", "leustrasse 80"),
US directions after the suffix ("Pennsylvania Ave NW"), and labels typed in capitals ("12 BAKER
STREET\nLONDON NW1 6XE": a line without lower-case letters is read once more with its words
capitalised). "<number> <Name> Line/Cross/Gap/Gate..." is a street only when the name is no
ordinary phrase ("3 Payne Line", not "24 Hour Support Line").

Also (issue 11, typed forms): "Austin TX 78701" and "New Brian QC T6L3S2" without the comma, Irish
"Co. Clare", Nordic "Karl Johans gate 22", "120 W 72nd St", Japanese romaji "2-3-1 Marunouchi,
Chiyoda-ku, Tokyo 100-0005", NL/FR "8-A", "231 bis", lower-case "via dante 15", "1200 w main st",
"sydney nsw 2000", more cues ("i'm at", "went to", "left at", "addr"), after a cue a street type and
its name alone ("my address is rue humbert"), a known town right after the block ("..., paris"),
and "5 HIGH ST" on a label. "3 Smart Lights", "2 Access Points", "Floor 2 Hallway Light" are goods
(a small number, ordinary words, a street type that people also count): faint anchors only.

Also (composed country formats, issue 11): Indian "Junagadh - 449900", Dutch "182-II", Flemish "-lei",
"-baan" and "bus 14", Brazilian "Recanto Pereira, 31, apto 28" and lower-case "sá dos dourados - rj,
48943834", Spanish "7º d", a street's number on the line after its name ("Cuesta Sebastián Arce\n848, 7º
A"), pieces separated by " - ", " / ", " | " or ";" with a bare house number between them ("Pasaje X - 99 -
2º A"), a town between spaces or dashes before the postcode ("2 Rowe Groves Bakerport HX4N 0QF"), and a
lower-case town's further words ("80040 pavone canavese", "9973 spittal an der drau": no ordinary words).

A quantity with its unit is never an anchor ("1000 MB", "5 GB", "30 days", "2 hours"); a Dutch
postcode whose letters spell a unit ("1012 MB Amsterdam") is only a weak anchor, so it needs a
street beside it.
"""

from __future__ import annotations

import re
from typing import Any

from presidio_analyzer import EntityRecognizer
from presidio_analyzer.nlp_engine import NlpArtifacts

from aion_assets.memory.scrub.address_formats import (
    ADDRESS_CUE,
    COMPOUND_STREET_RE,
    CUE_ANYWHERE,
    CUED_NAME_NUMBER,
    CUED_NAMED_STREET,
    CUED_PREFIXED,
    CUED_STREET,
    FAINT_RE,
    FILLER,
    GAP,
    LABELLED_HOUSE_NUMBER,
    LABELLED_POSTCODE,
    LOWER_ANY_STREET,
    LOWER_NAMED_STREET,
    LOWER_PREFIXED,
    LOWER_TOWN_WORD,
    NAME_ONLY_STREET_RE,
    PLAIN_STREET,
    QUANTITY,
    STREET_WORD,
    STRONG_RE,
    TOWN_TAIL,
    WEAK_RE,
)
from aion_assets.memory.scrub.gazetteers import place_gazetteer
from aion_assets.memory.scrub.recognizers import make_result
from aion_assets.memory.scrub.structured import after_reference_label
from aion_assets.memory.scrub.words import is_common_word

_WORDS = re.compile(r"[^\W\d_]+")
_CODE_LIKE = re.compile(r"[^a-zß-öø-ÿ]+")  # no lower-case letter: digits, capitals, separators
_CAPS_WORD = re.compile(r"(?<![<\w-])[A-ZÀ-ÖØ-Þ]{3,}\b(?![>_\d-])")  # not a placeholder's name, not a code
_CAPS_LINE = re.compile(r"(?m)^[^a-zß-öø-ÿ\n]+$")  # a line with no lower-case letter
# Two-letter street abbreviations in capitals ("5 HIGH ST"), not a state before its ZIP ("HARTFORD CT 06103").
_CAPS_ABBREV = re.compile(r"(?<![<\w-])(?:ST|RD|DR|LN|CT|PL|SQ|AV)\b(?![>_-]|[ \t]*\d)")
# A town after the street, typed without a postcode: "5 rue des lilas, paris", "rua augusta 120 lisboa",
# "19 park lane in croydon".
_TOWN_AFTER = re.compile(r"(?:,[ \t]*|[ \t]+(?:in[ \t]+)?)([^\W\d_][\w'’-]*(?:[ \t-][^\W\d_][\w'’-]*){0,2})")


def _known_town_end(text: str, end: int) -> int:
    """Where a known town (gazetteer, any case) right after an address block ends, else END."""
    m = _TOWN_AFTER.match(text, end)
    if m is None:
        return end
    places = place_gazetteer()
    words = list(re.finditer(r"[^\W\d_][\w'’]*", m.group(1)))
    for k in range(len(words), 0, -1):
        name = m.group(1)[: words[k - 1].end()]
        if name in places or name.title() in places:
            return m.start(1) + words[k - 1].end()
    return end


def _lower_town_end(text: str, end: int) -> int:
    """Where the rest of a lower-case town ends, when a block ends in a lower-case word: up to two more
    words that are no ordinary English words, maybe after a particle ("80040 pavone canavese",
    "9973 spittal an der drau"); "75001 paris now" ends at "paris"."""
    for _ in range(2):
        if not (end and text[end - 1].islower()):
            break
        m = LOWER_TOWN_WORD.match(text, end)
        if m is None or is_common_word(m.group(1)):
            break
        end = m.end()
    return end


def _counted_goods(match: re.Match[str], text: str) -> bool:
    """True for "3 Smart Lights", "2 Access Points", "4 Door Locks": a small number, ordinary words and a
    street type that is also a thing people count, with no address cue before it."""
    value = match.group()
    number = re.match(r"\d+", value)
    words = _WORDS.findall(value)
    if (number is not None and len(number.group()) > 2) or len(words) < 2 or "\n" in value:
        return False
    name, suffix = words[:-1], words[-1]
    if STREET_WORD.fullmatch(suffix) or not all(is_common_word(w) for w in name):
        return False
    return not ADDRESS_CUE.search(text, max(0, match.start() - 40), match.start())


def _english_word_first(value: str) -> bool:
    """True for "Bring 2", "String 4": the compound's first word is an English word, which ends in a
    street type ("-ring") only by chance; "Hauptstraße 5", "Harloffring 5-7" are no English words."""
    return is_common_word(value.split()[0].rstrip("."))


def _without_label_line(text: str, anchor: tuple[int, int, int]) -> tuple[int, int, int]:
    """ANCHOR without its last line when that line is a form's label ("1011\nDelivery Window")."""
    start, end, strength = anchor
    cut = text.rfind("\n", start, end)
    if cut > start and _label_words(text[cut:end]):
        return start, cut, strength
    return anchor


def _label_words(segment: str) -> bool:
    """True when SEGMENT's words are all ordinary English words and it is no known place: a form's
    label between or after address lines ("Address Line", "Delivery Window"), not a town ("Bath")."""
    words = _WORDS.findall(segment)
    name = " ".join(words)
    return (bool(words) and all(is_common_word(w) for w in words)
            and name not in place_gazetteer() and name.title() not in place_gazetteer())


def _capitalise(word: re.Match[str]) -> str:
    return word.group()[0] + word.group()[1:].lower()


class AionStreetAddressRecognizer(EntityRecognizer):
    """STREET_ADDRESS blocks (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__(supported_entities=["STREET_ADDRESS"], name="AionStreetAddressRecognizer",
                         context=["address", "ship", "deliver", "street", "live", "moved", "visit"])

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list:
        """One result per address block, score 0.9 (strong anchor) or 0.7 (two weak ones)."""
        anchors: list[tuple[int, int, int]] = []  # (start, end, 2 strong / 1 weak / 0 faint)
        # A label typed in capitals ("12 BAKER STREET\nLONDON NW1 6XE") is read once more with its
        # words capitalised (same length, so offsets hold); postcodes and two-letter codes stay as typed.
        recased = _CAPS_LINE.sub(
            lambda line: _CAPS_ABBREV.sub(_capitalise, _CAPS_WORD.sub(_capitalise, line.group())), text)
        views = [text] if recased == text else [text, recased]
        for view in views:
            for strength, patterns in ((2, STRONG_RE), (1, WEAK_RE), (0, FAINT_RE)):
                for rx in patterns:
                    # "3 Smart Lights" is goods, not "3 Smart Street": it only joins a real address
                    goods = rx is STRONG_RE[0] or rx is NAME_ONLY_STREET_RE  # "Hallway Light" too
                    anchors.extend((m.start(), m.end(), 0 if goods and _counted_goods(m, view)
                                    else strength) for m in rx.finditer(view)
                                   if m.end() > m.start() and not QUANTITY.fullmatch(m.group())
                                   and not (rx is COMPOUND_STREET_RE and _english_word_first(m.group())))
        anchors.extend((m.start(), m.end(), 2) for m in CUED_STREET.finditer(text)
                       if ADDRESS_CUE.search(text, max(0, m.start() - 40), m.start()))
        for cue in CUE_ANYWHERE.finditer(text):  # "my address is matthiasring 6, ..."
            m = (CUED_NAME_NUMBER.match(text, cue.end()) or CUED_PREFIXED.match(text, cue.end())
                 or CUED_NAMED_STREET.match(text, cue.end()))
            if m:
                anchors.append((m.start(), m.end(), 2))
        # A street only when its name (group 1) is no run of ordinary words: "3 Payne Line" (not "24 Hour
        # Support Line"), "via dante 15" (not "via email 2"), "434 garcia throughway" (not "3 easy ways");
        # without the number only a weak piece ("studio 17i king spur").
        for rx, strength in ((PLAIN_STREET, 2), (LOWER_PREFIXED, 2), (LOWER_ANY_STREET, 2), (LOWER_NAMED_STREET, 1)):
            anchors.extend((m.start(), m.end(), strength) for m in rx.finditer(text)
                           if not all(is_common_word(w) for w in _WORDS.findall(m.group(1))))
        anchors.extend((m.start(1), m.end(1), 2) for rx in (LABELLED_POSTCODE, LABELLED_HOUSE_NUMBER)
                       for m in rx.finditer(text))
        # "tracking: 12345 ABCDE", "PostNL 3SDEVC NL 1012 AB": a code named as one is no postcode (a piece
        # with a lower-case letter is no code: "Parcel: 5 High St" stays an address)
        anchors = [a for a in anchors if not (_CODE_LIKE.fullmatch(text, a[0], a[1])
                                              and after_reference_label(text, a[0]))]
        if not anchors:
            return []
        anchors = sorted({_without_label_line(text, a) for a in anchors}, key=lambda a: (a[0], -a[1]))
        # [start, end, strong count, weak count, where a label line between two pieces is cut out]
        blocks: list[list[Any]] = []
        for start, end, strength in anchors:
            if blocks:
                b = blocks[-1]
                gap = text[b[1] : start]
                joined = start <= b[1] or GAP.fullmatch(gap) is not None
                filler = not joined and FILLER.fullmatch(gap) is not None
                if joined or filler:
                    # "...Road\nTown\nBristol": one address, the label kept; a label has its own line
                    # (", da Mata - RS": "da" is an ordinary word, but no label)
                    if filler and "\n" in gap and _label_words(gap):
                        b[4].append((b[1], start))
                    b[1] = max(b[1], end)
                    if strength:
                        b[4 - strength] += 1
                    continue
            blocks.append([start, end, int(strength == 2), int(strength == 1), []])
        out = []
        for start, end, n_strong, n_weak, labels in blocks:
            if n_strong == 0 and n_weak < 2:
                continue
            tail = TOWN_TAIL.match(text, end)
            if tail and _label_words(tail.group()):
                tail = None  # "Delivery Instructions", "TRACKING NUMBER" on the next line: a label, no town
            # a town alone on the line after the street (UK style), or a known town right after it
            end = _lower_town_end(text, tail.end() if tail else _known_town_end(text, end))
            for a, b in zip([start] + [g[1] for g in labels], [g[0] for g in labels] + [end], strict=True):
                out.append(make_result(self, "STREET_ADDRESS", a, b, 0.9 if n_strong else 0.7))
        return out

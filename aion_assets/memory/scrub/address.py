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

A quantity with its unit is never an anchor ("1000 MB", "5 GB", "30 days", "2 hours"); a Dutch
postcode whose letters spell a unit ("1012 MB Amsterdam") is only a weak anchor, so it needs a
street beside it.
"""

from __future__ import annotations

import re

from presidio_analyzer import EntityRecognizer
from presidio_analyzer.nlp_engine import NlpArtifacts

from aion_assets.memory.scrub.address_formats import (
    ADDRESS_CUE,
    CUE_ANYWHERE,
    CUED_NAME_NUMBER,
    CUED_STREET,
    FAINT_RE,
    FILLER,
    GAP,
    PLAIN_STREET,
    QUANTITY,
    STRONG_RE,
    TOWN_TAIL,
    WEAK_RE,
)
from aion_assets.memory.scrub.recognizers import make_result
from aion_assets.memory.scrub.words import is_common_word

_WORDS = re.compile(r"[^\W\d_]+")
_CAPS_WORD = re.compile(r"(?<![<\w-])[A-ZÀ-ÖØ-Þ]{3,}\b(?![>_\d-])")  # not a placeholder's name, not a code
_CAPS_LINE = re.compile(r"(?m)^[^a-zß-öø-ÿ\n]+$")  # a line with no lower-case letter


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
        recased = _CAPS_LINE.sub(lambda line: _CAPS_WORD.sub(_capitalise, line.group()), text)
        views = [text] if recased == text else [text, recased]
        for view in views:
            for strength, patterns in ((2, STRONG_RE), (1, WEAK_RE), (0, FAINT_RE)):
                for rx in patterns:
                    anchors.extend((m.start(), m.end(), strength) for m in rx.finditer(view)
                                   if m.end() > m.start() and not QUANTITY.fullmatch(m.group()))
        anchors.extend((m.start(), m.end(), 2) for m in CUED_STREET.finditer(text)
                       if ADDRESS_CUE.search(text, max(0, m.start() - 40), m.start()))
        for cue in CUE_ANYWHERE.finditer(text):  # "my address is matthiasring 6, ..."
            m = CUED_NAME_NUMBER.match(text, cue.end())
            if m:
                anchors.append((m.start(), m.end(), 2))
        anchors.extend((m.start(), m.end(), 2) for m in PLAIN_STREET.finditer(text)
                       if not all(is_common_word(w) for w in _WORDS.findall(m.group(1))))
        if not anchors:
            return []
        anchors = sorted(set(anchors), key=lambda a: (a[0], -a[1]))  # each piece counts once, whatever the view
        blocks: list[list[int]] = []  # [start, end, strong count, weak count]
        for start, end, strength in anchors:
            if blocks:
                b = blocks[-1]
                gap = text[b[1] : start]
                if start <= b[1] or GAP.fullmatch(gap) or FILLER.fullmatch(gap):
                    b[1] = max(b[1], end)
                    if strength:
                        b[4 - strength] += 1
                    continue
            blocks.append([start, end, int(strength == 2), int(strength == 1)])
        out = []
        for start, end, n_strong, n_weak in blocks:
            if n_strong == 0 and n_weak < 2:
                continue
            tail = TOWN_TAIL.match(text, end)
            if tail:  # a town alone on the line after the street (UK style)
                end = tail.end()
            out.append(make_result(self, "STREET_ADDRESS", start, end, 0.9 if n_strong else 0.7))
        return out

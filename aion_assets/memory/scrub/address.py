"""Street-address recognizer for the scrubber (Presidio has none).

An address is found as a *block*: anchors (a street line, a postcode + town line, a unit line)
found by format-specific patterns, joined when only separators (comma, newline, space) or one
short capitalised segment (a town, a district) lie between them, so that a multi-line address
is replaced as one ``<STREET_ADDRESS>`` and no line of it survives. A block needs one strong
anchor (a street with its number, or a postcode with its town) or two weak ones (a street name
without number, a flat/unit designator, a bare house number line).

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
any street suffix ("285 burke ferry"); without one only the unmistakable ones count.

A quantity with its unit is never an anchor ("1000 MB", "5 GB", "30 days", "2 hours"); a Dutch
postcode whose letters spell a unit ("1012 MB Amsterdam") is only a weak anchor, so it needs a
street beside it.
"""

from __future__ import annotations

import re

from presidio_analyzer import EntityRecognizer
from presidio_analyzer.nlp_engine import NlpArtifacts

from aion_assets.memory.scrub.recognizers import make_result

_UP = "A-ZÀ-ÖØ-ÞĀĂĄĆĈĊČĎĐĒĔĖĘĚĜĞĠĢĤĦĨĪĬĮİĴĶĹĻĽĿŁŃŅŇŌŎŐŒŔŖŘŚŜŞŠŢŤŦŨŪŬŮŰŲŴŶŸŹŻŽ"
_W = rf"[{_UP}][^\W\d_]*(?:['’][^\W\d_]*)?(?:-[^\W\d_]+)*\.?"  # a capitalised word
_PART = (
    r"(?:de|del|de la|de las|de los|du|des|d'|l'|della|delle|dei|di|da|dos|das|do|van|von|der|den|le|la|"
    r"les|lès|y|e|en|sur|sous|am|an|im|bei|vorm|upon|on|op|aan|aan den|ob)"
)
_NAME = rf"{_W}(?:[ \t]+(?:{_PART}[ \t]+)?{_W}){{0,3}}"
_NUM = r"\d{1,5}[a-zA-Z]?(?:[-/]\d{1,5}[a-zA-Z]?){0,2}"  # 12, 12a, 12-14, 40/31/39 (PL house/flat)

# USPS street suffixes and common UK/IE/AU/IN ones (the real-world closed lists).
_SUFFIX = (
    "Alley|Aly|Annex|Arcade|Avenue|Ave|Av|Bayou|Beach|Bend|Bluffs?|Bottom|Boulevard|Blvd|Branch|Bridge|"
    "Brooks?|Burgs?|Bypass|Camp|Canyon|Cape|Causeway|Centers?|Centre|Circles?|Cir|Cliffs?|Close|Club|"
    "Commons?|Corners?|Course|Courts?|Ct|Coves?|Creek|Crescent|Cres|Crest|Crossing|Crossroads?|Curve|"
    "Dale|Dam|Divide|Drives?|Dr|Estates?|Expressway|Extensions?|Falls?|Ferry|Fields?|Flats?|Fords?|"
    "Forest|Forges?|Forks?|Fort|Freeway|Gardens?|Gateway|Glens?|Greens?|Groves?|Harbors?|Harbour|"
    "Haven|Heights|Highway|Hwy|Hills?|Hollow|Inlet|Islands?|Isle|Junctions?|Keys?|Knolls?|Lakes?|"
    "Land|Landing|Lane|Ln|Lights?|Loaf|Locks?|Lodge|Loop|Mall|Manors?|Meadows?|Mews|Mills?|Mission|"
    "Motorway|Mount|Mountains?|Neck|Orchard|Oval|Overpass|Parade|Parks?|Parkways?|Pkwy|Pass|Passage|"
    "Path|Pike|Pines?|Place|Pl|Plains?|Plaza|Points?|Ports?|Prairie|Promenade|Radial|Ramp|Ranch|"
    "Rapids?|Rest|Ridges?|Rise|River|Roads?|Rd|Route|Row|Rue|Run|Shoals?|Shores?|Skyway|Springs?|"
    "Spurs?|Squares?|Sq|Station|Stravenue|Stream|Streets?|St|Summit|Terrace|Ter|Throughway|Trace|"
    "Track|Trafficway|Trail|Trl|Trailer|Tunnel|Turnpike|Underpass|Unions?|Valleys?|Viaduct|Views?|"
    "Villages?|Ville|Vista|Walks?|Wall|Ways?|Wells?|Wharf|Wynd|Yard|Circuit|Esplanade|Plateau|Top|Chase|"
    "Glade|Outlook|Retreat|Boardwalk|Concourse|Nook|Approach|Quadrant|Nagar|Marg|Chowk|Ganj|Zila|Colony|"
    "Layout|Puram|Bagh|Pet|Peth"
)
# Compound-word street types (German, Dutch, Scandinavian), matched case-insensitively at a word end.
_COMPOUND = (
    "straße|strasse|str\\.|weg|gasse|allee|platz|ring|damm|ufer|chaussee|steig|pfad|markt|graben|"
    "laan|straat|boulevard|plein|gracht|kade|singel|dreef|baan|hof|dijk|pad|steeg|park|plantsoen|wal|"
    "gatan|vägen|vej|gade|veien|gata"
)
# Street types written before the name (Romance languages, Polish).
_PREFIX = (
    "rue|avenue|av\\.|boulevard|bd|chemin|impasse|place|allée|quai|route|cours|square|passage|"
    "faubourg|voie|sentier|via|viale|piazza|piazzale|corso|largo|vicolo|contrada|borgo|strada|"
    "stretto|canale|incrocio|rotonda|galleria|lungomare|salita|traversa|vico|piazzetta|calle|c\\.|"
    "avenida|avda\\.|paseo|plaza|camino|carrer|ronda|travesía|pasaje|pasadizo|cuesta|cañada|acceso|"
    "glorieta|urbanización|vía|callejón|carretera|rambla|alameda|bulevar|rua|travessa|praça|largo|"
    "ul\\.|ulica|al\\.|aleja|pl\\.|os\\.|osiedle|vial|condom[ií]nio|favela|ladeira|praia|estrada|rodovia|vila|"
    "jardim|setor|quadra|residencial|viela"
)
_UNIT = (
    r"(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Flat|Studio|Room|Rm\.?|Floor|Fl\.?|Bldg\.?|Building|"
    r"Piso|Puerta|Planta|Esc\.?|Piano|Appartamento|Interno|Int\.?|Scala|Étage|Bâtiment|Bât\.?|"
    r"Wohnung|Whg\.?|Appartement|Appart\.?|Apto\.?|Apartamento|Dpto\.?|Depto\.?|Lokal|"
    r"H\.?\s?No\.?|House No\.?|P\.?O\.? Box)"
)
_UNIT_TAIL = rf"(?:,?[ \t]+{_UNIT}[ \t]*[\w/-]+)?"
# Two-letter unit symbols, which NL postcodes may also spell ("1000 MB" is data, "1000 MB Amsterdam" a postcode).
_UNIT_LETTERS = "KB|MB|GB|TB|PB|KM|CM|MM|KG|MG|ML|HZ|KW|MW|GW|WH|PM|AM|MS"
# A quantity with its unit is never an address, whatever pattern took it ("1000 MB", "30 days", "5 GB").
_QUANTITY = re.compile(
    r"\d[\d.,]*[ \t]*(?:[kmgtp]i?b|[kmg]bps|mah|k?wh|[kmg]?w|[kmg]?hz|km|cm|mm|mi|ft|kg|mg|lbs?|oz|ml|l|"
    r"s|secs?|seconds?|mins?|minutes?|h|hrs?|hours?|days?|weeks?|months?|years?|units?|items?|pcs|x)\.?",
    re.IGNORECASE,
)

# Brazilian states (unidades federativas), as written after a town: "Jesus - RS".
_BR_UF = "AC|AL|AP|AM|BA|CE|DF|ES|GO|MA|MT|MS|MG|PA|PB|PR|PE|PI|RJ|RN|RS|RO|RR|SC|SP|SE|TO"
_STRONG = [
    # 123 Main Street Apt. 4 / 12 High St / 23\nVirk Street
    rf"(?<![\w/-]){_NUM},?[ \t]*\n?[ \t]*{_NAME}[ \t]+(?:{_SUFFIX})\b\.?{_UNIT_TAIL}",
    # Hauptstraße 5 / Evelyne-Flantz-Weg 1-2 / Berliner Straße 12a / Kerkstraat 9
    rf"{_W}(?:[ \t]+{_W})?-?(?i:{_COMPOUND})(?!\w)[ \t]+{_NUM}{_UNIT_TAIL}",
    rf"(?:{_W}[ \t]+)?(?:Straße|Strasse|Str\.|Weg|Allee|Platz|Gasse|Ring|Damm)[ \t]+{_NUM}{_UNIT_TAIL}",
    # 825, boulevard de François / 12 rue Victor Hugo
    rf"(?<![\w/-]){_NUM}(?:[ \t]?(?:bis|ter))?,?[ \t]+(?i:{_PREFIX})[ \t]+(?:{_PART}[ \t]*)?{_NAME}",
    # Via Roma, 12 Piano 3 / Calle de Feliciana Contreras 92 Piso 0 / ul. Kołłątaja 79/19
    rf"(?<!\w)(?i:{_PREFIX})[ \t]+(?:{_PART}[ \t]*)?{_NAME},?[ \t]+{_NUM}{_UNIT_TAIL}",
    # H.No. 97, Bhatti / 12/904, Luthra Nagar
    rf"(?<![\w/-])(?:H\.?\s?No\.?|House No\.?)[ \t]*{_NUM}(?:,?[ \t]+{_NAME})?",
    rf"(?<![\w/-])\d{{1,4}}/\d{{1,4}},?[ \t]*\n?[ \t]*{_NAME}",
    # postcode lines
    rf"{_NAME},[ \t]+[A-Z]{{2}}[ \t]+\d{{5}}(?:-\d{{4}})?\b",  # US: City, ST 12345
    r"\b[A-Z]{1,2}\d[A-Z\d]?[ \t]*\d[A-Z]{2}\b",  # UK postcode
    # NL 1234 AB City; "1000 MB", "2048 KB" are quantities (see _WEAK for them before a town)
    rf"(?<![\w#-])\d{{4}}[ \t]?(?!(?:{_UNIT_LETTERS})\b)[A-Z]{{2}}\b(?:,?[ \t]*\n?[ \t]*{_NAME})?",
    rf"(?<![\w#$€£.,-])\d{{5}},?[ \t]+{_NAME}(?:[ \t]*\([A-Z]{{2}}\))?",  # DE/FR/IT/ES 12345 City (PR)
    rf"{_NAME},[ \t]+\d{{5}}(?![\w-])",  # ES: Provincia, 28001
    rf"(?<![\w/-])\d{{2}}-\d{{3}}[ \t]+{_NAME}",  # PL: 16-509 Dębica
    rf"{_NAME}[ \t]+[-–][ \t]+(?:{_BR_UF}),?[ \t]+\d{{5}}-?\d{{3}}(?![\w-])",  # BR: Cidade - UF, 12345-678
    rf"(?<![\w-])[{_UP}][a-zà-ÿ][^\W\d_]*(?:[ \t]+{_W}){{0,2}}[ \t-]\d{{6}}(?![\w-])",  # IN: City-123456
]
# Lower-case forms people type in chat ("22 baker street", "12 rue de rivoli"): only unmistakable
# street words, since a lower-case name has no capital to tell it from ordinary words.
_LOWER_SUFFIX = (
    "street|st|road|rd|avenue|ave|lane|ln|drive|boulevard|blvd|court|ct|place|terrace|close|crescent|"
    "square|highway|hwy|parkway|pkwy|circle|grove|gardens|mews"
)
_LOWER_PREFIX = "rue|avenue|boulevard|chemin|impasse|allée|quai|via|viale|piazza|corso|calle|avenida|paseo|rua"
_LW = r"[a-zà-ÿ][a-zà-ÿ'’-]+"
# Words that never start or fill a lower-case street name: "takes 3 days to close" is no address.
_NOT_STREET = (
    r"(?!(?:to|the|a|an|of|in|on|at|for|and|or|is|are|was|be|by|with|from|per|your|my|our|it|this|that|more|"
    r"days?|weeks?|months?|years?|hours?|minutes?|mins?|seconds?|times?|items?|units?|users?|people|percent|"
    r"[kmgt]b|easy|simple|quick|new|old|free|extra)\b)"
)
_STRONG += [
    rf"(?<![\w/-]){_NUM},?[ \t]+(?:{_NOT_STREET}{_LW}[ \t]+){{1,3}}(?:{_LOWER_SUFFIX})\b\.?"
    rf"(?:,?[ \t]+(?i:{_UNIT})[ \t]*[\w/-]+)?",
    rf"(?<![\w/-]){_NUM},?[ \t]+(?:{_LOWER_PREFIX})[ \t]+(?:{_PART}[ \t]+)?{_LW}(?:[ \t]+{_LW})?",
    # CA: (ON) M5H 2M9; AU: (Sydney) NSW 2000
    r"\b(?:(?:AB|BC|MB|NB|NL|NS|NT|NU|ON|PE|QC|SK|YT)[ \t]+)?[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z][ \t]?\d"
    r"[ABCEGHJ-NPRSTV-Z]\d\b",
    rf"(?:{_NAME}[ \t]+)?\b(?:NSW|VIC|QLD|WA|SA|TAS|ACT|NT)[ \t]+\d{{4}}\b",
]
_WEAK = [
    rf"(?:{_LW}[ \t]+)?\b[a-z]{{1,2}}\d[a-z\d]?[ \t]+\d[a-z]{{2}}\b",  # (manchester) m1 2ab, beside a street only
    r"(?<![\w-])[a-z]{2}[ \t]+\d{5}(?:-\d{4})?\b",  # lower-case US state + ZIP
    r"(?<![\w#$€£.,-])\d{5}[ \t]+[a-zà-ÿ]{3,}\b",  # lower-case 75001 paris
    rf"(?i:{_UNIT})[ \t]*\d[\w/-]*",  # Studio 6 / Flat 12 / apt 4b
    r"(?<![\w/-])\d{1,2}[ \t]?[º°ª](?:[ \t]?[A-Z]\b)?",  # ES floor and door: 3º B
    rf"{_NAME}[ \t]+[-–][ \t]+(?:{_BR_UF})\b",  # BR: Cidade - UF
    r"(?<![\w/.-])\d{5}-\d{3}(?![\w-])",  # BR CEP
    rf"{_NAME}[ \t]+(?:{_SUFFIX})\b\.?",  # street name without number
    rf"(?i:{_PREFIX})[ \t]+(?:{_PART}[ \t]*)?{_NAME}",  # rue Bonnet
    r"(?<![\w.,/-])\d{1,5}(?:/\d{1,5})?(?=[ \t]*\n)",  # a house number alone on its line
    rf"(?<![\w#-])\d{{4}}[ \t]?(?:{_UNIT_LETTERS})\b,?[ \t]*\n?[ \t]*{_NAME}",  # NL postcode that spells a unit
]
# After an address cue ("my address is", "i live at", "send it to"), a lower-case "<number> <word(s)>
# <any street suffix>" is a street too ("285 burke ferry", "788 stephanie path"); without a cue only
# the unmistakable suffixes above count ("install 3 smart lights" is no address).
_ADDRESS_CUE = re.compile(
    r"(?:\baddress(?:\s+is)?|\bliv(?:e|es|ed|ing)\s+(?:at|on)|\bmoved\s+to|\blocated\s+at|\bit'?s|"
    r"\b(?:ship|send|deliver|post|mail)\w*(?:\s+(?:it|them|this|that|the\s+\w+))?\s+to)[:,]?\s+$",
    re.IGNORECASE,
)
_CUED_STREET = re.compile(rf"(?<![\w/-]){_NUM},?[ \t]+(?:{_NOT_STREET}{_LW}[ \t]+){{1,3}}(?i:{_SUFFIX})\b\.?")
_STRONG_RE = [re.compile(p) for p in _STRONG]
_WEAK_RE = [re.compile(p) for p in _WEAK]
_GAP = re.compile(r"[ \t]*(?:[,;][ \t]*\n?|\n|[ \t])[ \t]*")
_FILLER = re.compile(
    rf"[ \t]*[,\n][ \t]*(?:{_NAME}|{_LW}(?:[ \t]+{_LW})?)(?:[ \t]*\([A-Z]{{2}}\))?[ \t]*(?:[,\n][ \t]*)?"
)
_TOWN_TAIL = re.compile(rf"[ \t]*\n[ \t]*{_NAME}(?=[ \t]*(?:\n|$))")


class AionStreetAddressRecognizer(EntityRecognizer):
    """STREET_ADDRESS blocks (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__(supported_entities=["STREET_ADDRESS"], name="AionStreetAddressRecognizer",
                         context=["address", "ship", "deliver", "street", "live", "moved", "visit"])

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list:
        """One result per address block, score 0.9 (strong anchor) or 0.7 (two weak ones)."""
        anchors: list[tuple[int, int, bool]] = []
        for strong, patterns in ((True, _STRONG_RE), (False, _WEAK_RE)):
            for rx in patterns:
                anchors.extend((m.start(), m.end(), strong) for m in rx.finditer(text)
                               if m.end() > m.start() and not _QUANTITY.fullmatch(m.group()))
        anchors.extend((m.start(), m.end(), True) for m in _CUED_STREET.finditer(text)
                       if _ADDRESS_CUE.search(text, max(0, m.start() - 40), m.start()))
        if not anchors:
            return []
        anchors.sort(key=lambda a: (a[0], -a[1]))
        blocks: list[list[int]] = []  # [start, end, strong count, weak count]
        for start, end, strong in anchors:
            if blocks:
                b = blocks[-1]
                gap = text[b[1] : start]
                if start <= b[1] or _GAP.fullmatch(gap) or _FILLER.fullmatch(gap):
                    b[1] = max(b[1], end)
                    b[2 if strong else 3] += 1
                    continue
            blocks.append([start, end, int(strong), int(not strong)])
        out = []
        for start, end, n_strong, n_weak in blocks:
            if n_strong == 0 and n_weak < 2:
                continue
            tail = _TOWN_TAIL.match(text, end)
            if tail:  # a town alone on the line after the street (UK style)
                end = tail.end()
            out.append(make_result(self, "STREET_ADDRESS", start, end, 0.9 if n_strong else 0.7))
        return out

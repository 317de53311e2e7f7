"""Address formats for the street-address recognizer (``address``): the patterns of its anchors.

Each pattern finds one piece of an address: a street with its number, a postcode with its town, a
flat/unit/floor line, a PO box. ``STRONG`` pieces make an address alone; ``WEAK`` ones only beside
another piece (``address`` joins pieces into blocks). Pure data: compiled regexes, nothing else.
All patterns are linear (bounded repetitions, no nested unbounded quantifiers).
"""

from __future__ import annotations

import re

_UP = "A-ZÀ-ÖØ-ÞĀĂĄĆĈĊČĎĐĒĔĖĘĚĜĞĠĢĤĦĨĪĬĮİĴĶĹĻĽĿŁŃŅŇŌŎŐŒŔŖŘŚŜŞŠŢŤŦŨŪŬŮŰŲŴŶŸŹŻŽ"
_W = rf"(?<![^\W\d_])[{_UP}][^\W\d_]*(?:['’][^\W\d_]*)?(?:-[^\W\d_]+)*\.?"  # a capitalised word
_PART = (
    r"(?:de|del|de la|de las|de los|du|des|d'|l'|della|delle|dei|di|da|dos|das|do|van|von|der|den|le|la|"
    r"les|lès|y|e|en|sur|sous|am|an der|an|im|in der|bei|vorm|upon|on|op|aan|aan den|ob der|ob)"
)
_NAME = rf"{_W}(?:[ \t]+(?:{_PART}[ \t]+)?{_W}){{0,3}}"
# 12, 12a, 12-14, 40/31/39 (PL house/flat), NL "8-A", "182-II", "7-hs", FR/NL "231 bis"
_NUM = (r"\d{1,5}[a-zA-Z]?(?:[-/]\d{1,5}[a-zA-Z]?){0,2}(?:-(?:[A-Za-z]|(?i:i{2,3}|iv|hs|bis))(?!\w))?"
        r"(?:[ \t](?:bis|ter)\b)?")

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
    "Layout|Puram|Bagh|Pet|Peth|Footway|Pathway|Highroad|Intersection|Broadway|Grange|Quay|Walkway|"
    "Crossway|Strand|Vale|Residency|Enclave|Cutting|Circus|Circlet|Gates|Access|Alleyway|Rotary|Amble|Brace|"
    "Dell|Driveway|Fairway|Frontage|Gully|Interchange|Lookout|Ramble|Reserve|Ringroad|Serviceway|Steps|"
    "Tollway|Thoroughfare|Waterway|Boulevarde|Range|Roadside|Roadway"
)
# Compound-word street types (German, Dutch, Scandinavian), matched case-insensitively at a word end.
_COMPOUND = (
    "straße|strasse|str\\.|weg|gasse|allee|platz|ring|damm|ufer|chaussee|steig|pfad|markt|graben|"
    "laan|straat|boulevard|plein|gracht|kade|singel|dreef|baan|hof|dijk|pad|steeg|park|plantsoen|wal|steenweg|lei|kaai|"
    "gatan|vägen|vej|gade|veien|gata|zeile|stieg|gässchen|kai|straatweg|burgwal|erf|"
    "stigen|gränd|gränden|torget|backen|platsen|allén|leden|slingan|gången|stråket|torg|väg|"
    "vegen|gate|stien|bakken|svingen|kroken|tunet|jordet|løkka|haugen|åsen|lunden|stranda|gjerdet|krenten|"
    "bråten|berget|toppen|plassen|ringen|grenda|brekka|stræde|plads|torv|vænget|toften|kollen|faret|eggen|"
    "hagen|skogen|dalen|myra|marka|tjernet|engen|tangen|neset|høgda|flata|vika|"
    "katu|tie|kuja|polku|bulevardi|kaari|rinne|raitti|väylä|puistikko"
)
# Street types written before the name (Romance languages, Polish).
_PREFIX = (
    "rue|avenue|av\\.|boulevard|bd|chemin|impasse|place|allée|quai|route|cours|square|passage|"
    "faubourg|voie|sentier|via|viale|piazza|piazzale|corso|largo|vicolo|contrada|borgo|strada|"
    "stretto|canale|incrocio|rotonda|galleria|lungomare|salita|traversa|vico|piazzetta|calle|c\\.|"
    "avenida|avda\\.|paseo|plaza|camino|carrer|ronda|travesía|pasaje|pasadizo|cuesta|cañada|acceso|"
    "glorieta|urbanización|vía|callejón|carretera|rambla|alameda|bulevar|rua|travessa|praça|largo|"
    "ul\\.|ulica|al\\.|aleja|pl\\.|os\\.|osiedle|vial|condom[ií]nio|favela|ladeira|praia|estrada|rodovia|vila|"
    "jardim|setor|quadra|residencial|viela|c/|r\\.|tv\\.|trav\\.|pç\\.|estr\\.|conjunto|viaduto|passarela|"
    "aeroporto|lago|vereda|trecho|núcleo|área|loteamento|parque|chácara|sítio|lagoa|distrito|fazenda|plac|skwer|rondo|"
    "bulwar|pza\\.|ctra\\.|pº|avd\\.|avda|av|chaussée|chaussee|drève|ruelle|venelle|cité|résidence|esplanade|"
    "promenade|parvis|montée|rampe"
)
_UNIT = (
    r"(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Flat|Studio|Room|Rm\.?|Floor|Fl\.?|Bldg\.?|Building|"
    r"Appt\.?|Lgh\.?|Piso|Puerta|Planta|Esc\.?|Piano|Appartamento|Interno|Int\.?|Scala|Étage|Bâtiment|Bât\.?|"
    r"Wohnung|Whg\.?|Appartement|Appart\.?|Apto\.?|Apartamento|Dpto\.?|Depto\.?|Lokal|"
    r"H\.?\s?No\.?|House No\.?|Flat No\.?|Plot No\.?|No\.|Nr\.|P\.?O\.? Box|Level|Lvl\.?|Shop|Villa|Block|Plot|Sector|"
    r"Stiege|Stg\.?|Top|Tür|bus|boîte|bte\.?|Bus|lok\.?|m\.|RD)"
)
_UNIT_TAIL = rf"(?:,?[ \t]+{_UNIT}[ \t]*[\w/-]+)?"
# A compass point or part after the street type: "Pennsylvania Ave NW", "Rathmines Road Lower".
_DIRECTION = r"(?:[ \t]+(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West|Upper|Lower)\b\.?)?"
_NOT_YEAR = r"(?!(?:19|20)\d\d\b)"  # "Spring 2025", "Release 2024" are no house numbers
# A lower-case town never starts with a function word: "15151, please" is no "75001 paris".
_NOT_TOWN = (
    r"(?!(?:please|pls|thanks|thank|thx|and|or|but|the|to|in|on|at|for|from|with|is|are|was|it|i|we|you|my|so)\b)"
)
# Two-letter unit symbols, which NL postcodes may also spell ("1000 MB" is data, "1000 MB Amsterdam" a postcode).
_UNIT_LETTERS = "KB|MB|GB|TB|PB|KM|CM|MM|KG|MG|ML|HZ|KW|MW|GW|WH|PM|AM|MS"
# A quantity with its unit is never an address, whatever pattern took it ("1000 MB", "30 days", "5 GB").
_QUANTITY = re.compile(
    r"\d[\d.,]*[ \t]*(?:[kmgtp]i?b|[kmg]bps|mah|k?wh|[kmg]?w|[kmg]?hz|km|cm|mm|mi|ft|kg|mg|lbs?|oz|ml|l|"
    r"s|secs?|seconds?|mins?|minutes?|h|hrs?|hours?|days?|weeks?|months?|years?|units?|items?|pcs|x)\.?",
    re.IGNORECASE,
)

# Parcel carriers: "shipped via DHL 12345678" is a tracking number, not "Via Roma 12".
_NOT_CARRIER = (
    r"(?!(?i:dhl|ups|usps|fedex|tnt|gls|dpd|royal[ \t]+mail|postnl|hermes|evri|correos|colissimo|chronopost|"
    r"inpost|an[ \t]+post|purolator|yodel|parcelforce|bpost|posti|postnord|ctt|sedex|amazon|courier|post)\b)"
)
# US states and territories (USPS codes), as written before a ZIP code: "Austin TX 78701".
_US_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|"
    "OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR|GU|VI"
)
# Irish counties, as written "Co. Clare" between the town and the Eircode.
_IE_COUNTIES = (
    "Antrim|Armagh|Carlow|Cavan|Clare|Cork|Derry|Donegal|Down|Dublin|Fermanagh|Galway|Kerry|Kildare|Kilkenny|"
    "Laois|Leitrim|Limerick|Longford|Louth|Mayo|Meath|Monaghan|Offaly|Roscommon|Sligo|Tipperary|Tyrone|"
    "Waterford|Westmeath|Wexford|Wicklow"
)
# Brazilian states (unidades federativas), as written after a town: "Jesus - RS".
_BR_UF = "AC|AL|AP|AM|BA|CE|DF|ES|GO|MA|MT|MS|MG|PA|PB|PR|PE|PI|RJ|RN|RS|RO|RR|SC|SP|SE|TO"
# Hauptstraße 5 / Evelyne-Flantz-Weg 1-2 / Berliner Straße 12a / Kerkstraat 9
_COMPOUND_STREET = rf"{_W}(?:[ \t]+{_W})?-?(?i:{_COMPOUND})(?!\w)[ \t]+{_NOT_YEAR}{_NUM}{_UNIT_TAIL}"
_STRONG = [
    # 123 Main Street Apt. 4 / 12 High St / 23\nVirk Street
    rf"(?<![\w/-]){_NUM},?[ \t]*\n?[ \t]*(?:(?:de|del|da|di|du|des|le|la|van|von|st\.?)[ \t]+)?{_NAME}[ \t]+"
    rf"(?:{_SUFFIX})\b\.?{_DIRECTION}{_UNIT_TAIL}",
    _COMPOUND_STREET,
    rf"(?:{_NAME}[ \t]+)?(?:Straße|Strasse|Str\.|Weg|Allee|Allé|Platz|Gasse|Ring|Damm|Vej|Gade|Plads|Torv|Väg|"
    rf"Gata|Veien|Laan|Straat)[ \t]+{_NOT_YEAR}{_NUM}{_UNIT_TAIL}",
    # Finnish and Nordic street words written apart, after the name: Walentin Chorellin bulevardi 5
    rf"{_NAME}[ \t]+(?:bulevardi|puistotie|puistokatu|katu|tie|kuja|polku|gata|gatan|vägen|väg|vei|veien|vej|allé)"
    rf"[ \t]+{_NOT_YEAR}{_NUM}",
    # US military mail: PSC 9665, Box 9675 / Unit 3792 Box 6910 / USNS Foster, then APO AE 76062
    r"\b(?:PSC|CMR|Unit)[ \t]+\d{1,5},?[ \t]+Box[ \t]+\d{1,5}\b",
    r"\b(?:APO|FPO|DPO)[ \t]+(?:AA|AE|AP)[ \t]+\d{5}(?:-\d{4})?\b",
    rf"\b(?:USNS|USS|USNV|USCGC)[ \t]+{_NAME}",
    # 825, boulevard de François / 12 rue Victor Hugo
    rf"(?<![\w/-]){_NUM}(?:[ \t]?(?:bis|ter))?,?[ \t]+(?i:{_PREFIX})[ \t]+(?:{_PART}[ \t]*)?{_NAME}",
    # Via Roma, 12 Piano 3 / Calle de Feliciana Contreras 92 Piso 0 / ul. Kołłątaja 79/19
    rf"(?<!\w)(?i:{_PREFIX})[ \t]+{_NOT_CARRIER}(?:\d{{1,2}}[ \t]+(?:de|di|du)[ \t]+)?(?:{_PART}[ \t]*){{0,2}}{_NAME},?"
    # the number after a space, or on the next line ("Cuesta Sebastián Arce\n848, 7º A, ...")
    r"(?:[ \t]+|[ \t]*\n[ \t]*)"
    rf"(?:{_NUM}(?!\d)|[Ss]/[Nn]){_UNIT_TAIL}",
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
    # a postcode after its country's letters: DE-10115 Berlin, F-75002 Paris, CH-8001 Zürich, NL-1012 AB
    r"\b(?:D|DE|F|FR|I|IT|E|ES|A|AT|CH|B|BE|L|LU|NL|P|PT|PL|S|SE|DK|N|NO|FI|CZ|SK|HR|SI|H|HU|GR)-\d{4,5}"
    rf"(?:[ \t]?[A-Z]{{2}})?[ \t]+{_NAME}",
    rf"(?<![\w/-])\d{{2}}-\d{{3}}[ \t]+{_NAME}",  # PL: 16-509 Dębica
    rf"{_NAME}[ \t]+[-–][ \t]+(?:{_BR_UF}),?[ \t]+\d{{5}}-?\d{{3}}(?![\w-])",  # BR: Cidade - UF, 12345-678
    # IN: City-123456, City - 123456
    rf"(?<![\w-])[{_UP}][a-zß-öø-ÿā-ſ][^\W\d_]*(?:[ \t]+{_W}){{0,2}}(?:[ \t]*[-–][ \t]*|[ \t])\d{{6}}(?![\w-])",
    # US without the comma: Austin TX 78701 (the state is one of the closed list)
    rf"{_NAME}[ \t]+(?:{_US_STATES})[ \t]+\d{{5}}(?:-\d{{4}})?\b",
    # Nordic street word after a genitive name: Karl Johans gate 22, Kongens gate 5, Dronning Eufemias gate 16
    rf"(?:{_W}[ \t]+){{0,2}}[{_UP}][^\W\d_]*s[ \t]+(?:gate|gata|gatan|vei|veg|vej|gade|allé|plass|väg|vägen|"
    rf"stræde|plads)[ \t]+{_NOT_YEAR}{_NUM}",
    # US/CA numbered streets: 120 W 72nd St, 350 5th Avenue
    rf"(?<![\w/-]){_NUM}[ \t]+(?:(?i:[nsew]|ne|nw|se|sw)\.?[ \t]+)?\d{{1,3}}(?:st|nd|rd|th)[ \t]+(?i:{_SUFFIX})\b\.?",
    # JP (romaji), chōme-ban-gō before the district: 2-3-1 Marunouchi, Minami-Aoyama 4-5-6
    rf"(?<![\w/.-])\d{{1,4}}-\d{{1,4}}-\d{{1,4}},?[ \t]+{_NAME}",
    rf"{_NAME}[ \t]+\d{{1,4}}-\d{{1,4}}-\d{{1,4}}(?![\w-])",
]
# Lower-case forms people type in chat ("22 baker street", "12 rue de rivoli"): only unmistakable
# street words, since a lower-case name has no capital to tell it from ordinary words.
_LOWER_SUFFIX = (
    "street|st|road|rd|avenue|ave|lane|ln|drive|boulevard|blvd|court|ct|place|terrace|close|crescent|"
    "square|highway|hwy|parkway|pkwy|circle|grove|gardens|mews|way|dr|parade|pde|cres|walk|row|wynd|esplanade"
)
_LOWER_PREFIX = (
    r"rue|avenue|boulevard|bd|bvd|av\.|chemin|impasse|allée|quai|via|viale|piazza|corso|calle|avenida|avda\.?|"
    r"paseo|rua"
)
_LW = r"(?<![^\W\d_'’-])[a-zß-öø-ÿā-ſ][a-zß-öø-ÿā-ſ'’-]+"  # (word starts only: linear on long words)
# A lower-case word that may continue a town after an address block (``address`` checks it is no
# ordinary word): "pavone canavese", "spittal an der drau", "hollandsche rading".
LOWER_TOWN_WORD = re.compile(rf"[ \t]+(?:(?:{_PART})[ \t]+)?([a-zß-öø-ÿā-ſ][a-zß-öø-ÿā-ſ'’-]{{2,}})\b")
# Words that never start or fill a lower-case street name: "takes 3 days to close" is no address.
_NOT_STREET = (
    r"(?!(?:to|the|a|an|of|in|on|at|for|and|or|is|are|was|be|by|with|from|per|your|my|our|it|this|that|more|"
    r"days?|weeks?|months?|years?|hours?|minutes?|mins?|seconds?|hrs?|secs?|wks?|yrs?|nights?|business|working|"
    r"calendar|weekdays?|times?|items?|units?|users?|people|percent|"
    r"[kmgt]b|easy|simple|quick|new|old|free|extra|version|firmware|plan|model|page|step|option|tier|level|"
    r"channel|slot|port|mode|phase|number|no|size|gen|series|app|ios|android|windows|macos|release|update|"
    r"build|chapter|section|part|zone|line|ticket|order|case|invoice|error|code|reception|desk|door|gate|counter|"
    r"locker|room|platform|terminal|pickup|store|shop|checkout|aisle|bay|dock|tracking|parcel|box)\b)"
)
# A compass point before a lower-case street name: "1200 w main st".
_LOWER_DIR = r"(?:(?:n|s|e|w|ne|nw|se|sw)\.?[ \t]+)?"
_STRONG += [
    rf"(?<![\w/-]){_NUM},?[ \t]+{_LOWER_DIR}(?:{_NOT_STREET}{_LW}[ \t]+|\d{{1,3}}(?:st|nd|rd|th)[ \t]+){{1,3}}"
    rf"(?:{_LOWER_SUFFIX})\b\.?(?:[ \t]+(?:upper|lower|north|south|east|west)\b)?"
    rf"(?:,?[ \t]+(?i:{_UNIT})[ \t]*[\w/-]+)?",
    rf"(?<![\w/-]){_NUM},?[ \t]+(?:{_LOWER_PREFIX})[ \t]+(?:{_PART}[ \t]+)?{_LW}(?:[ \t]+{_LW})?",
    # UK streets named "The <type>": "7 the crescent", "12 The Parade"
    r"(?<![\w/-])\d{1,4}[a-zA-Z]?,?[ \t]+(?i:the)[ \t]+(?i:crescent|drive|avenue|parade|close|green|grove|mews|"
    r"terrace|square|broadway|esplanade|strand|quay|circus|promenade|boulevard|paddock|ridgeway|causeway)\b",
    # US rural routes: RR 2 Box 118, Rural Route 4 Box 7, HC 61 Box 12
    r"\b(?i:r\.?r\.?|rural[ \t]+route|h\.?c\.?|star[ \t]+route)[ \t]*\d{1,3}[ \t,]+(?i:box)[ \t]*\d{1,5}\b",
    # CA: (ON) M5H 2M9; AU: (Sydney) NSW 2000
    r"\b(?:(?:AB|BC|MB|NB|NL|NS|NT|NU|ON|PE|QC|SK|YT)[ \t]+)?[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z][ \t]?\d"
    r"[ABCEGHJ-NPRSTV-Z]\d\b",
    rf"(?:{_NAME},?[ \t]+)?\b(?:NSW|VIC|QLD|WA|SA|TAS|ACT|NT),?[ \t]+\d{{4}}\b",
    # IE Eircode with a letter in its unique part: D06 F6X8, T12 X2E4 (then the town Faker puts after it)
    rf"\b(?:[AC-FHKNPRTV-Y]\d{{2}}|D6W)[ \t]?(?=[0-9A-Z]{{0,3}}[A-Z])[0-9AC-FHKNPRTV-Y]{{4}}\b(?:[ \t]+{_NAME})?",
    # PO boxes: PO Box 1234, Postfach 10 12 34, Apartado de Correos 55, Caixa Postal 12, Private Bag 3
    r"(?<!\w)(?:(?i:p\.?[ \t]?o\.?[ \t]?box)|Post(?:fach|bus|boks)|Apartado(?:[ \t]+de[ \t]+Correos)?|"
    r"Caixa[ \t]+Postal|"
    r"Casella[ \t]+Postale|Private[ \t]+Bag|GPO[ \t]+Box|Locked[ \t]+Bag)[ \t]*\d{1,6}(?:[ \t]\d{2,3}){0,2}\b",
    rf"(?<![\w/.-])\d{{4}}-\d{{3}}[ \t]+{_NAME}",  # PT: 1100-053 Lisboa
    # BR: 60674-465 da Cruz / RN
    rf"(?<![\w/.-])\d{{5}}-?\d{{3}}[ \t]+(?:{_PART}[ \t]+)?{_NAME}[ \t]*/[ \t]*(?:{_BR_UF})\b",
    # BR lower case: "sá dos dourados - rj, 48943834", "pires grande - go, 83080-351"
    rf"(?<![\w-])(?:{_NOT_TOWN}{_LW}[ \t]+){{0,2}}{_LW}[ \t]+[-–][ \t]+(?:{_BR_UF.lower()}),?[ \t]+"
    r"\d{5}-?\d{3}(?![\w-])",
    # lower-case German/Dutch/Nordic compounds: "leustrasse 80", "hauptstr. 4", "genvägen 93", "fagottikatu 7"
    rf"(?<![\w-])(?:(?:nordre|søndre|østre|vestre|store|lille|gamle|nedre|øvre|norra|södra|stora|lilla|gamla|"
    rf"alte|neue|große|kleine|obere|untere)[ \t]+)?[a-zß-öø-ÿā-ſ][a-zß-öø-ÿā-ſ-]{{1,40}}?"
    rf"(?:straße|strasse|str\.?|gasse|allee|straat|laan|gracht|vägen|gatan|vej|"
    rf"gade|veien|vegen|stræde|steeg|kade|singel|dreef|katu|kuja|polku|bulevardi|stigen|gränd|torget|platz|weg|"
    rf"damm|ufer|markt|boulevard|plein|dijk|hof|-ring|lei|baan|kaai|tie|kaari|rinne|väylä|haugen|løkka|lunden|jordet|"
    rf"bakken|svingen|stien|åsen|hagen|skogen|allé)(?!\w)"
    rf"[ \t]+{_NOT_YEAR}{_NUM}",
]
_NAME_ONLY_STREET = rf"{_NAME}[ \t]+(?:{_SUFFIX})\b\.?"
_WEAK = [
    rf"(?:{_LW}[ \t]+)?\b[a-z]{{1,2}}\d[a-z\d]?[ \t]+\d[a-z]{{2}}\b",  # (manchester) m1 2ab, beside a street only
    # lower-case (town) US state + ZIP: "boise id 83702", "new york ny 10023"
    rf"(?<![\w-])(?:{_NOT_TOWN}{_LW}[ \t]+){{0,2}}[a-z]{{2}}[ \t]+\d{{5}}(?:-\d{{4}})?\b",
    # lower-case 75001 paris
    rf"(?<![\w#$€£.,-])\d{{5}},?[ \t]+{_NOT_TOWN}[a-zß-öø-ÿā-ſ][a-zß-öø-ÿā-ſ-]{{2,}}\b(?:[ \t]*\([a-z]{{2}}\))?",
    rf"(?<!\w)(?i:{_UNIT})[ \t]*\d[\w/-]*",  # Studio 6 / Flat 12 / apt 4b
    # ES/PT floor and door: 3º B, 2º 1ª, 3º izq., 2º Esq
    r"(?<![\w/-])\d{1,2}[ \t]?[º°ª](?:[ \t]?(?:\d{1,2}[º°ª]|(?i:izq(?:da)?|dcha|dch|izda|ctro|centro|esq|dto|dt)\b\.?|"
    r"[A-Za-z]\b))?",
    # DE 3. OG, 2. Stock links; DK 2. th.
    r"(?<![\w/.-])\d{1,2}\.[ \t]?(?:OG|EG|UG|DG|Stock|Etage|th|tv|mf|sal)\b\.?"
    r"(?:[ \t]+(?:links|rechts|Mitte|li|re)\b\.?)?",
    # DE "Am Markt 3", "An der Alster 12", "Zum Hafen 4"
    rf"\b(?:Am|An[ \t]+der|An[ \t]+den|Auf[ \t]+der|Auf[ \t]+dem|Im|In[ \t]+der|Zum|Zur|Unter[ \t]+den|Hinter[ \t]+der|"
    rf"Vor[ \t]+dem|Bei[ \t]+der)[ \t]+{_W}(?:[ \t]+{_W})?[ \t]+\d{{1,4}}[a-z]?\b",
    rf"(?<!\w)(?i:c/o|attn\.?:?|z\.[ \t]?Hd\.?)[ \t]+{_NAME}",  # c/o Anna Weber
    r"\b(?i:dublin)[ \t]+\d{1,2}[wW]?\b",  # Dublin 6, dublin 1
    r"\b(?:[ac-fhknprtv-y]\d{2}|d6w|[AC-FHKNPRTV-Y]\d{2})[ \t]?[0-9a-z]{4}\b",  # eircode, lower or digits only
    # PT lower case: 7662-453 vila nova de santo andré
    rf"(?<![\w/.-])\d{{4}}-\d{{3}}[ \t]+[a-zß-öø-ÿā-ſ]{{3,}}(?:[ \t]+{_NOT_STREET}[a-zß-öø-ÿā-ſ]{{2,}}){{0,3}}",
    r"(?<![\w/.-])\d{5}-?\d{3}[ \t]+[a-zß-öø-ÿā-ſ' ]{3,40}?/[ \t]*[a-z]{2}\b",  # BR lower case: 29031932 novaes / rr
    # AU lower case, with the suburb: "sydney nsw 2000"
    rf"(?:{_NOT_TOWN}{_LW}[ \t]+){{0,2}}\b(?:nsw|vic|qld|wa|sa|tas|act|nt),?[ \t]+\d{{4}}\b",
    rf"\bCo\.?[ \t]+(?:{_IE_COUNTIES})\b",  # IE: Co. Clare
    rf"\b(?i:co\.?[ \t]+(?:{_IE_COUNTIES}))\b",  # lower case too: co. louth
    rf"\b{_W}-(?:ku|shi|cho|machi|gun|ward)\b",  # JP ward/city: Chiyoda-ku
    rf"(?:{_NAME}[ \t]+)?〒?\d{{3}}-\d{{4}}(?![\w-])",  # JP postcode: Tokyo 100-0005
    r"(?:\b(?:ab|bc|mb|nb|nl|ns|nt|nu|on|pe|qc|sk|yt)[ \t]+)?\b[abceghj-nprstvxy]\d[abceghj-nprstv-z][ \t]?\d"
    r"[abceghj-nprstv-z]\d\b",  # CA lower case
    r"\b[a-z]{3,}(?:[ \t]*[-–][ \t]*|[ \t])\d{6}(?![\w-])",  # IN lower case: ranchi 800410, ranchi - 800410
    rf"(?<![\w/-])\d{{1,3}}(?:st|nd|rd|th)[ \t]+{_NAME}[ \t]+(?:{_SUFFIX})\b\.?",  # IN: 12th Main Road
    r"(?<![\w/-])[A-Z]-?\d{1,4}(?=,[ \t]+(?i:sector|block|phase|plot|pocket)\b)",  # IN: B-14, Sector 62
    r"(?<![\w/-])\d{2}-\d{3}[ \t]+[a-zß-öø-ÿā-ſ]{3,}",  # PL lower case: 62-481 ciechanów
    rf"{_NAME}[ \t]+[-–][ \t]+(?:{_BR_UF})\b",  # BR: Cidade - UF
    r"(?<![\w/.-])\d{5}-\d{3}(?![\w-])",  # BR CEP
    _NAME_ONLY_STREET,  # street name without number
    # BR/ES/PT: the street's name and number before a flat line: "Recanto Pereira, 31, apto 28", "Mayor, 3, 2º B"
    rf"{_NAME},[ \t]+\d{{1,5}}[a-zA-Z]?(?=,[ \t]*(?:(?i:{_UNIT})[ \t]*\d|\d{{1,2}}[ \t]?[º°ª]))",
    rf"(?<!\w)(?i:{_PREFIX})[ \t]+(?:{_PART}[ \t]*)?{_NAME}",  # rue Bonnet
    # lower-case "via roma 12", "calle mayor 5", "aleja słowicza 06"
    rf"(?<!\w)(?:{_LOWER_PREFIX}|vicolo|stretto|aleja|plac|ulica|ul\.|alameda|travessa|praça|carrer|plaza|piazza|"
    rf"viale|corso)[ \t]+(?:{_PART}[ \t]+)?{_NOT_STREET}{_LW}(?:[ \t]+{_LW}){{0,2}},?[ \t]+{_NUM}(?!\w)",
    r"(?m:^)[ \t]*\d{1,5}(?:/\d{1,5})?(?=[ \t]*\n)",  # a house number alone on its line
    rf"(?<![\w#-])\d{{4}}[ \t]?(?:{_UNIT_LETTERS})\b,?[ \t]*\n?[ \t]*{_NAME}",  # NL postcode that spells a unit
]
# Faint anchors: 4-digit numbers beside a word, "404, Kale": pieces of an address only next to a street
# or a postcode that is one ("The 2024 Model", "Firmware 1060 Beta" and "Step 4, Sector 2" are none).
_FAINT = [
    # a flat or door after the house number, typed without a word: "calle serrano 41 5b", "12 oak st 2r"
    r"(?<![\w/.,:#-])\d{1,2}[a-zA-Z](?![\w-])",
    # 4-digit postcode and town (AT, CH, BE, DK, NO, NZ, AU without state): 1060 Wien, 3801 Christensen
    rf"(?<![\w#$€£.,/:-])\d{{4}},?[ \t]*\n?[ \t]*{_NAME}(?:[ \t]*\([A-Z]{{2}}\))?",
    rf"(?<![\w#$€£.,/:-])\d{{4}},?[ \t]+{_NOT_TOWN}[a-zß-öø-ÿā-ſ][a-zß-öø-ÿā-ſ-]{{2,}}\b",
    rf"{_NAME}[ \t]+\d{{4}}(?![\w-])",  # town and 4-digit postcode: Auckland 1010
    rf"{_NAME}[ \t]+\d{{5}}(?![\w-])",  # ES province and postcode without the comma: Baleares 18304
    # CA town and province before the postcode, no comma: New Brian QC T6L3S2
    rf"{_NAME}[ \t]+(?:AB|BC|MB|NB|NL|NS|NT|NU|ON|PE|QC|SK|YT)(?=[ \t]+[ABCEGHJ-NPRSTVXY]\d[A-Z][ \t]?\d[A-Z]\d\b)",
    rf"(?<![\w#$€£.,-])\d{{3}}[ \t]\d{{2}}[ \t]+{_NAME}",  # SE/CZ: 111 21 Stockholm
    r"(?<![\w-])[a-zß-öø-ÿā-ſ]{3,},[ \t]+\d{5}(?![\w-])",  # ES lower case: madrid, 41785
    rf"(?<![\w/.,-])\d{{1,5}}[a-zA-Z]?,[ \t]+{_NAME}",  # IN: 404, Kale
    # lower case after a comma or line break: "..., willisside 9522"
    rf"(?:(?<=,[ \t])|(?<=,)|(?<=\n)){_NOT_TOWN}[a-zß-öø-ÿā-ſ]{{3,}}[ \t]+\d{{4}}(?![\w-])",
    r"(?<![\w#-])\d{4}[ \t]?(?!(?:to|in|on|at|or|an|as|is|it|of|by|me|my|we|us|so|no|do|go|up|am|pm|be)\b)"
    r"[a-z]{2}\b",  # NL lower case: 7833 nf
]
# After an address cue ("my address is", "i live at", "send it to"), a lower-case "<number> <word(s)>
# <any street suffix>" is a street too ("285 burke ferry", "788 stephanie path"); without a cue only
# the unmistakable suffixes above count ("install 3 smart lights" is no address).
_ADDRESS_CUE = re.compile(
    r"(?:\baddress(?:\s+is)?|\baddr\.?|\bliv(?:e|es|ed|ing)\s+(?:at|on)|\bmoved\s+to|\blocated\s+at|\bit'?s|"
    r"\b(?:i'?m|im|we'?re|i\s+am|we\s+are|stay(?:ing)?|based)\s+at|"
    r"\b(?:went|came|arrived|left|dropped(?:\s+off)?|delivered|collect(?:ed)?)\s+(?:to|at|from)|"
    r"\bupdate\s+(?:it|my\s+address)\s+to|"
    r"\b(?:ship|send|deliver|post|mail)\w*(?:\s+(?:it|them|this|that|the\s+\w+))?\s+to)[:,]?\s+"
    rf"(?:{_UNIT}[ \t]*[\w/-]+,?[ \t]+)?$",
    re.IGNORECASE,
)
# The same cue anywhere (not anchored at the end), to find where a cued street may start.
CUE_ANYWHERE = re.compile(_ADDRESS_CUE.pattern[:-1].replace("(?:\\s+$)", ""), re.IGNORECASE)
_CUED_STREET = re.compile(
    rf"(?<![\w/-]){_NUM},?[ \t]+{_LOWER_DIR}(?:{_NOT_STREET}{_LW}[ \t]+|\d{{1,3}}(?:st|nd|rd|th)[ \t]+){{1,3}}"
    rf"(?i:{_SUFFIX})\b\.?"
)
STRONG_RE = [re.compile(p) for p in _STRONG]
WEAK_RE = [re.compile(p) for p in _WEAK]
FAINT_RE = [re.compile(p) for p in _FAINT]
NAME_ONLY_STREET_RE = WEAK_RE[_WEAK.index(_NAME_ONLY_STREET)]  # "Hallway Light" may be goods (``address``)
COMPOUND_STREET_RE = STRONG_RE[_STRONG.index(_COMPOUND_STREET)]  # "Bring 2" is no street (``address``)
ADDRESS_CUE = _ADDRESS_CUE
CUED_STREET = _CUED_STREET
QUANTITY = _QUANTITY
# Between two pieces of one address: a comma, a semicolon, a line break, spaces, or a dash, slash or bar
# with spaces around it ("Parkgatan 3 - lgh 1186 - 26872 Jönköping", "Rudistraat 335 bus 18 / 3948 Messelbroek").
# A house number may stand alone between two pieces ("Pasaje de Anita Benavides - 99 - 2º A").
_SEP = r"[ \t]*(?:[,;][ \t]*\n?|\n|[ \t]|[ \t][-–/|][ \t])[ \t]*"
GAP = re.compile(rf"{_SEP}(?:\d{{1,5}}[a-zA-Z]?(?:/\d{{1,5}}[a-zA-Z]?)?{_SEP})?")
FILLER = re.compile(
    # one or two segments: a district and a town ("27 Mill Road, Kirkstall, Leeds LS5 3AB")
    rf"(?:[ \t]*[,\n][ \t]*(?:{_NAME}|{_LW}(?:[ \t]+{_LW})?)(?:[ \t]*\([A-Z]{{2}}\))?){{1,2}}[ \t]*(?:[,\n][ \t]*)?"
    # a town between spaces, dashes or slashes: "2 Rowe Groves Bakerport HX4N 0QF", "... - Patelbury - BD5Y 1DR"
    rf"|[ \t]+(?:[-–/|][ \t]+)?{_NAME}(?:[ \t]+[-–/|])?[ \t]+"
)
TOWN_TAIL = re.compile(rf"[ \t]*\n[ \t]*{_NAME}(?=[ \t]*(?:\n|$))")
# After an address cue, any lower-case "<word(s)> <number>" that ends a phrase is a street too:
# "my address is matthiasring 6, 7833 nf", "alameda sandro assunção, s/n, 7662-453 ...".
CUED_NAME_NUMBER = re.compile(
    rf"(?<![\w-]){_NOT_STREET}{_LW}(?:[ \t]+{_LW}){{0,3}},?[ \t]+(?:{_NUM}|s/n)(?=[ \t]*(?:[,\n]|$))"
)
# Street types that are also goods people count ("4 philips lights", "2 access points"): never a lower-case
# street's type without a cue.
_GOODS_SUFFIX = r"(?:lights?|points?|locks?|keys?|ports?|lakes?|bridges?|stations?|fields?|flats?|hills?|rest|land)"
# Lower case without a cue: "<number> <word(s)> <any street type>" ("434 garcia throughway", "2 suzanne
# springs", "1421 n lake shore dr"), a unit after it; ``address`` takes it when the name is no run of
# ordinary English words ("3 easy ways", "2 red lights" are none). Group 1 is the name.
LOWER_ANY_STREET = re.compile(
    rf"(?<![\w/.,$€£#-]){_NUM},?[ \t]+{_LOWER_DIR}((?:{_NOT_STREET}{_LW}[ \t]+){{1,3}})"
    rf"(?!{_GOODS_SUFFIX}\b)(?i:{_SUFFIX})\b\.?(?:,?[ \t]+(?i:{_UNIT})[ \t]*[\w/-]*\d[\w/-]*)?"
)
# The same without the number, beside a unit line: "studio 17i king spur", "flat 02m dawn ville".
LOWER_NAMED_STREET = re.compile(
    rf"(?<![\w/-])((?:{_NOT_STREET}{_LW}[ \t]+){{1,3}})(?!{_GOODS_SUFFIX}\b)(?i:{_SUFFIX})\b\.?"
)
# "<number> <Name> <street word that is also an ordinary word>": a street only when the name is no
# ordinary phrase ("3 Payne Line", "2 Brown Gap"; not "our 24 Hour Support Line"); ``address`` checks.
PLAIN_STREET = re.compile(
    rf"(?<![\w/-]){_NUM},?[ \t]+({_NAME})[ \t]+(?:Gap|Line|Cross|Gate|Heath|Wood|Brae|Row|Reach|Ridgeway)\b"
)
# After an address cue, a street type and its name to the end of the phrase, the number optional:
# "my address is rue humbert", "send it to r. mariana gomes, s/n" (matched where the cue ends).
CUED_PREFIXED = re.compile(
    rf"[ \t]*(?i:{_PREFIX})[ \t]+(?:{_PART}[ \t]+){{0,2}}{_LW}(?:[ \t]+{_LW}){{0,3}}(?:,?[ \t]+(?:{_NUM}|s/n))?"
    rf"(?=[ \t]*(?:[,.;!?\n]|$|(?:please|pls|thanks|thank|and|but)\b))"
)
# After an address cue, a lower-case street by its name and type alone, the number missing, maybe after
# a house name and before the town: "address: rosebank cottage, mill lane", "i'm at the old rectory,
# high street, little wittenham" (matched where the cue ends; ends a phrase).
CUED_NAMED_STREET = re.compile(
    rf"[ \t]*(?:(?:the[ \t]+)?{_LW}(?:[ \t]+{_LW}){{0,2}},[ \t]*)?(?:{_NOT_STREET}{_LW}[ \t]+){{1,3}}"
    rf"(?:{_LOWER_SUFFIX})\b\.?(?:,[ \t]*{_NOT_TOWN}{_LW}(?:[ \t]+{_LW}){{0,2}})?"
    rf"(?=[ \t]*(?:[,.;!?\n]|$|(?:please|pls|thanks|thank|and|but)\b))"
)
# A postcode in its own form field: "Postcode: BS6 6BZ", "ZIP / Postal Code: 80331", "PLZ: 10115" (group 1).
LABELLED_POSTCODE = re.compile(
    r"^(?i:[ \t]*(?:zip|zip[ \t]+code|post[ \t]?code|postal[ \t]+code|plz|code[ \t]+postal|cap|cp|cep|"
    r"postnummer|postnr\.?|kod[ \t]+pocztowy|eircode|pin[ \t]?code)"
    r"(?:[ \t]*/[ \t]*(?:zip|zip[ \t]+code|post[ \t]?code|postal[ \t]+code|plz|pin[ \t]?code))*[ \t]*\*?[ \t]*:[ \t]*)"
    r"([A-Za-z]{0,3}[ \t-]?\d[A-Za-z\d]{1,4}(?:[ \t-][A-Za-z\d]{2,4})?)[ \t]*$",
    re.MULTILINE,
)
# A house number in its own form field: "House Number: 27", "Hausnummer: 12a", "No.: 5" (group 1).
LABELLED_HOUSE_NUMBER = re.compile(
    r"^(?i:[ \t]*(?:house[ \t]+(?:number|no\.?|nr\.?)|hausnummer|hausnr\.?|huisnummer|numéro|numero|número|"
    r"building[ \t]+(?:number|no\.?)|flat[ \t]+(?:number|no\.?)|apartment[ \t]+(?:number|no\.?))"
    r"[ \t]*\*?[ \t]*:[ \t]*)(\d{1,5}[A-Za-z]?(?:[-/]\d{1,5}[A-Za-z]?)?)[ \t]*$",
    re.MULTILINE,
)
# A lower-case street type before the name, then the number: "via dante 15", "rua augusta 120", "calle
# de la luna 7". ``address`` takes it when the name is no run of ordinary English words ("via email 2").
LOWER_PREFIXED = re.compile(
    rf"(?<![\w-])(?:{_LOWER_PREFIX}|{_PREFIX}|lago|av|vicolo|largo|aleja|al\.|plac|ulica|ul\.|os\.|osiedle|alameda|travessa|praça|"
    rf"carrer|plaza|avinguda|rambla|estrada|ladeira|chaussée|callejón|travesía|pasaje|ronda|glorieta|camino|"
    rf"carretera|cuesta|avda\.?|avd\.|contrada|strada|borgo|salita|traversa|lungomare|piazzale|rotonda|rodovia|"
    rf"beco|faubourg|sentier|drève|bulwar|skwer|rondo|vila|jardim|setor|quadra|loteamento|conjunto|parque|"
    rf"fazenda|chácara|sítio|av\.)[ \t]+"
    rf"((?:{_PART}[ \t]+){{0,2}}{_NOT_STREET}{_LW}(?:[ \t]+{_LW}){{0,2}}),?"
    rf"[ \t]+{_NOT_YEAR}{_NUM}(?![\w-])"
)
# The suffixes of ``_STRONG``'s first pattern that are unmistakably streets; the others ("Lights",
# "Points", "Locks", "Gardens" as in "3 Smart Lights", "2 Access Points") are also goods that people count.
STREET_WORD = re.compile(
    r"(?i:street|st|road|rd|avenue|ave|av|lane|ln|drive|dr|boulevard|blvd|court|ct|place|pl|terrace|ter|close|"
    r"crescent|cres|square|sq|highway|hwy|parkway|pkwy|circle|cir|grove|mews|way|rue|parade|esplanade|wynd|"
    r"nagar|marg|trail|trl|alley|aly|broadway|quay|row|promenade|causeway|motorway|expressway|freeway|"
    r"turnpike|boardwalk|chowk)\.?"
)

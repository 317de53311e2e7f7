"""Where a person's name sits by form, for ``recognizers.AionPersonRecognizer``: titles, degrees,
greetings and sign-offs in several languages, lower-case names on a sign-off's line.

- a title and what follows it are one name, the title included, so that no word of "Ms. Okonkwo",
  "Herr Schneider" or "Mme Moreau" survives beside the placeholder;
- a degree or generational suffix after capitalised words makes them a name, suffix included
  ("Wiebke Eimer B.Eng.", "Štěpánka Procházková DSc.", "John Smith Jr.");
- a known first name (lower case) alone on the line after a sign-off is a name ("cheers\\ndave");
- ``GREETINGS`` / ``SIGNOFFS``: the words that open and close a letter or a chat message in English,
  German, French, Spanish, Portuguese, Italian, Dutch, Polish and the Nordic languages (used by the
  recognizer's greeting and sign-off patterns).

- names in capitals: after a title ("MR DAVID BROWN", "Mr JOHN O'NEILL"), surname first ("SMITH, John",
  "O'BRIEN, SEAN"), a run led by a known first name, and any run of capitals where only a name goes
  (a label's field, the line after "SHIP TO:" or a sign-off, a label's first line above its address);
  one-part fields ("Surname: MÜLLER").

Plain regexes over the text (linear: bounded repetitions only); first names from ``gazetteers``.
"""

from __future__ import annotations

import re

from aion_assets.memory.scrub.gazetteers import COMMON_WORDS, first_names, fold
from aion_assets.memory.scrub.words import is_common_word

_UP = "A-ZÀ-ÖØ-ÞĀĂĄĆĈĊČĎĐĒĔĖĘĚĜĞĠĢĤĦĨĪĬĮİĴĶĹĻĽĿŁŃŅŇŌŎŐŒŔŖŘŚŜŞŠŢŤŦŨŪŬŮŰŲŴŶŸŹŻŽ"
_CAP = rf"[{_UP}](?:[^\W\d_]|['’-](?=[^\W\d_])){{1,30}}"  # a capitalised word, "O'Brien", "Al-Farsi"
_PARTS = r"(?:van|von|de|der|den|del|della|di|da|dos|das|du|le|la|ten|ter|zu|bin|ibn|al|el|y)"

GREETINGS = (
    r"hi|hello|hey|hiya|dear|greetings|good[ \t]+(?:morning|afternoon|evening)|morning|evening|"
    r"hallo|liebe|lieber|sehr[ \t]+geehrte[rs]?|guten[ \t]+(?:tag|morgen|abend)|moin|servus|grüezi|"
    r"bonjour|bonsoir|salut|cher|chère|hola|buenos[ \t]+días|buenas[ \t]+tardes|estimad[oa]|querid[oa]|"
    r"olá|ola|oi|caro|cara|ciao|buongiorno|buonasera|gentile|hoi|beste|goedemorgen|goedemiddag|"
    r"dzień[ \t]+dobry|cześć|szanown[ay]|hej|hei|moi|kære|kæra|bom[ \t]+dia|boa[ \t]+tarde"
)
SIGNOFFS = (
    r"best|best[ \t]+regards|kind[ \t]+regards|regards|warm[ \t]+regards|warmest[ \t]+regards|many[ \t]+thanks|"
    r"thanks|thanks[ \t]+again|thank[ \t]+you|thx|ta|cheers|sincerely|yours[ \t]+sincerely|yours[ \t]+truly|"
    r"yours|best[ \t]+wishes|all[ \t]+the[ \t]+best|take[ \t]+care|talk[ \t]+soon|speak[ \t]+soon|warmly|"
    r"respectfully|mit[ \t]+freundlichen[ \t]+grüßen|freundliche[ \t]+grüße|viele[ \t]+grüße|beste[ \t]+grüße|"
    r"liebe[ \t]+grüße|lg|mfg|grüße|gruß|danke|cordialement|bien[ \t]+à[ \t]+vous|bien[ \t]+cordialement|"
    r"merci|amitiés|saludos|un[ \t]+saludo|atentamente|gracias|atenciosamente|abraços|obrigad[oa]|"
    r"cordiali[ \t]+saluti|distinti[ \t]+saluti|saluti|grazie|met[ \t]+vriendelijke[ \t]+groet(?:en)?|"
    r"groeten|groetjes|pozdrawiam|z[ \t]+poważaniem|med[ \t]+vänliga[ \t]+hälsningar|vänliga[ \t]+hälsningar|"
    r"hälsningar|mvh|venlig[ \t]+hilsen|med[ \t]+venlig[ \t]+hilsen|hilsen|ystävällisin[ \t]+terveisin|terveisin"
)
_TITLE = (
    r"Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Herr|Frau|Madame|Mme|Monsieur|Mlle|Sr|Sra|Srta|Señor|Señora|Doña|Sig|Sig\.ra|"
    r"Signor|Signora|Dott|Dott\.ssa|Mevr|Mevrouw|Dhr|Meneer|Pan|Pani|pan|pani|Shri|Smt|Sri|Fru|Dipl\.-Ing|Mag|Ing"
)
_TITLED = re.compile(
    rf"(?<![\w.])(?:{_TITLE})\.?[ \t]+((?:{_PARTS}[ \t]+){{0,2}}{_CAP}(?:[ \t]+(?:{_PARTS}[ \t]+){{0,2}}{_CAP}){{0,2}})"
)
_SUFFIX = (
    r"B\.?Sc\.?|B\.?Eng\.?|B\.?A\.|M\.?Sc\.?|M\.?Eng\.?|M\.?A\.|MBA|Ph\.?D\.?|DSc\.?|D\.?Phil\.?|M\.?D\.|"
    r"DDS|DVM|Jr\.?|Sr\.?|II|III|IV|Esq\.?|LL\.?M\.?|LL\.?B\.?|Dipl\.?-Ing\.?|MSc|BSc|BEng|MEng|CPA"
)
_SUFFIXED = re.compile(rf"(?<![\w.])({_CAP}(?:[ \t]+{_CAP}){{0,2}}),?[ \t]+(?:{_SUFFIX})(?![\w])")
_LOWER_SIGNOFF = re.compile(
    rf"(?im)^[ \t]*(?:{SIGNOFFS})[ \t]*[,!.]?[ \t]*\n[ \t]*"
    r"((?-i:[a-zß-öø-ÿā-ſ][a-zß-öø-ÿā-ſ'’-]{1,30}(?:[ \t]+[a-zß-öø-ÿā-ſ][a-zß-öø-ÿā-ſ'’-]{1,30})?))[ \t]*$"
)

_LOW = r"[a-zß-öø-ÿā-ſ][a-zß-öø-ÿā-ſ'’-]{1,30}"
# Where only a name goes: "ask for Orinder", "this is Luce-Constance Marie from", "my name is luchino
# impastato and", "hi its teresa here".
_SELF_CUE = (
    r"(?:ask(?:ed)?[ \t]+for|speak(?:ing)?[ \t]+(?:to|with)|talk(?:ing)?[ \t]+to|spoke[ \t]+(?:to|with|w/)|"
    r"this[ \t]+is|my[ \t]+name[ \t]+is|name'?s|i'?m|i[ \t]+am|it'?s|it[ \t]+is|put[ \t]+me[ \t]+through[ \t]+to)"
)
_CUED_CAP = re.compile(
    rf"\b(?i:{_SELF_CUE})[ \t]+({_CAP}(?:[ \t]+{_CAP})?)(?=[ \t]+(?:from|here|and|when|at|on)\b|[ \t]*[,.!?;:\n]|$)"
)
_CUED_LOW = re.compile(rf"\b(?i:{_SELF_CUE})[ \t]+((?-i:{_LOW})(?:[ \t]+(?-i:{_LOW}))?)")
_LOW_END = re.compile(r"[ \t]+(?:from|here|and|i|my)\b|[ \t]*(?:[,.!?;\n]|$)")
# A known first name in lower case after thanks or a greeting, ending the phrase: "ok thanks laura".
_THANKS_LOW = re.compile(
    rf"\b(?i:thanks|thank[ \t]+you|thx|ty|cheers|hi|hey|hello|bye)[ \t,]+((?-i:{_LOW}))(?=[ \t]*(?:[,.!?\n]|$))"
)
# A name in capitals on a label's line or after its field: "SHIP TO:\nJOHN SMITH", "DELIVER TO: MARIA GARCIA,".
_CAPS_NAME = re.compile(
    rf"(?m)(?:^|(?i:to|attn|recipient|name|from)[ \t]*:[ \t]*)[ \t]*"
    rf"([{_UP}][{_UP}'’-]+(?:[ \t]+[{_UP}][{_UP}'’-]+){{1,2}})"
    r"[ \t]*(?=$|,)"
)
# Capitals (labels, forms, signatures). A word in capitals, "O'NEILL", "JÖNSSON", "WRIGHT-WARNER".
_UPW = rf"[{_UP}](?:[{_UP}]|['’-](?=[{_UP}])){{1,30}}"
_UPPARTS = r"(?:VAN|VON|DE|DER|DEN|DEL|DELLA|DI|DA|DOS|DAS|DU|LE|LA|TEN|TER|BIN|AL|EL)"
_CAPS_TITLE = r"MR|MRS|MS|MISS|MX|DR|PROF|HERR|FRAU|MME|MLLE|SR|SRA|SIG|DOTT|MEVR|DHR|PAN|PANI"
# "MR DAVID BROWN", "Ms CLAIRE DUNNE", "DR. HEINRICH BAUER": a title before a name in capitals.
_CAPS_TITLED = re.compile(
    rf"(?<![\w.])(?:{_CAPS_TITLE}|{_TITLE})\.?[ \t]+"
    rf"({_UPW}(?:[ \t]+(?:{_UPPARTS}[ \t]+){{0,2}}{_UPW}){{0,2}})(?![\w'’-])"
)
# "SMITH, John", "O'BRIEN, SEAN", "VAN OMMEREN, EVIE", "VIEIRA, Davi Miguel": surname in capitals, comma,
# first name(s); the first name must be a known one.
_SURNAME_FIRST = re.compile(
    rf"(?<![\w'’-])((?:{_UPPARTS}[ \t]+){{0,2}}{_UPW}),[ \t]*({_CAP}(?:[ \t]+{_CAP})?)(?![\w'’-])"
)
# A run of two to four words in capitals anywhere: "please hand it to JOHN SMITH at reception".
_CAPS_RUN = re.compile(rf"(?<![\w'’<-]){_UPW}(?:[ \t]+(?:{_UPPARTS}[ \t]+){{0,2}}{_UPW}){{1,3}}(?![\w'’>-])")
# Where a line in capitals is a name whatever its words: after a label's field or on the line after
# one ("SHIP TO:\nSIV EVENSEN", "Attn: TAGE NILSSON"), after a sign-off ("Regards,\nJAIRAJ BAL").
_CAPS_SLOT = re.compile(
    rf"(?im)(?:(?:ship|deliver|send|bill|sold|mail|post)[ \t]+to|attn\.?|attention|recipient|addressee|"
    rf"consignee|name|full[ \t]+name|customer(?:[ \t]+name)?|account[ \t]+(?:holder|name)|card[ \t]*holder|"
    rf"beneficiary|payee|signed|signature|from|contact|passenger|guest|tenant|applicant)[ \t]*:[ \t]*\n?[ \t]*$"
    rf"|(?:^|\n)[ \t]*(?:{SIGNOFFS})[ \t]*[,!.]?[ \t]*\n[ \t]*$"
)
# A field that holds one part of a name: "Surname: MÜLLER", "Vorname: Jürgen", "Nom : DUBOIS".
_NAME_FIELD = re.compile(
    rf"(?im)^[ \t]*(?:surname|last[ \t]+name|family[ \t]+name|first[ \t]+name|given[ \t]+names?|forenames?|"
    rf"middle[ \t]+name|nachname|vorname|familienname|nom(?:[ \t]+de[ \t]+famille)?|prénom|apellidos?|nombre|"
    rf"cognome|nome|sobrenome|achternaam|voornaam|nazwisko|imię|efternamn|förnamn|efternavn|fornavn|etternavn)"
    rf"[ \t]*:[ \t]*((?-i:[{_UP}][\w'’-]*(?:[ \t]+[{_UP}][\w'’-]*){{0,2}}))[ \t]*$"
)
# The line after a name on a label: a house number, a flat, a PO box.
_ADDRESS_BELOW = re.compile(
    r"[ \t]*\n[ \t]*(?:\d|(?i:flat|apt|apartment|unit|suite|c/o|p\.?o\.?[ \t]?box|house|ul\.|rue|via|calle|rua)\b)"
)
# What a line in capitals is when it is no one: a company, a place of the label, a heading.
_NOT_PERSON_CAPS = frozenset(
    ["LTD", "LLC", "INC", "GMBH", "PLC", "AG", "BV", "SA", "SAS", "SRL", "SPA", "CO", "CORP", "COMPANY",
     "LIMITED", "TEAM", "SUPPORT", "SERVICES", "SERVICE", "DEPT", "DEPARTMENT", "STREET", "ROAD", "KINGDOM",
     "STATES", "UNITED", "ORDER", "INVOICE", "URGENT", "FRAGILE", "RETURN", "RETURNS", "WAREHOUSE", "OFFICE"]
)
_FAMILY = re.compile(rf"\b(?i:dear|hi|hello)[ \t]+(?:the[ \t]+)?({_CAP})[ \t]+(?i:family|household)\b")


_HERE = re.compile(r"[ \t]+here\b")


def _ordinary(word: str) -> bool:
    return is_common_word(word) or word.lower() in COMMON_WORDS


def _caps_names(text: str, names: frozenset[str]) -> list[tuple[int, int, float]]:
    """Names in capitals: after a title, surname-comma-first name, a run led by a known first name, and
    any run of capitals where only a name goes (a label's field, a sign-off's line)."""
    out: list[tuple[int, int, float]] = []

    def plain(word: str) -> bool:  # an ordinary word, or one that marks a company or a heading
        return word.upper() in _NOT_PERSON_CAPS or word.lower() in COMMON_WORDS

    for m in _CAPS_TITLED.finditer(text):
        words = m.group(1).split()
        if not all(_ordinary(w) for w in words) and not any(plain(w) for w in words):
            out.append((m.start(), m.end(), 0.85))
    for m in _SURNAME_FIRST.finditer(text):
        surname, given = m.group(1).split(), m.group(2).split()
        known = any(fold(part) in names for part in re.split(r"[-’']", given[0]))
        slot = _CAPS_SLOT.search(text, max(0, m.start() - 40), m.start()) is not None
        if ((known or slot) and not _ordinary(given[0]) and not any(plain(w) for w in surname)
                and not any(plain(w) for w in given)):
            out.append((m.start(), m.end(), 0.75))
    for m in _NAME_FIELD.finditer(text):  # "Surname: MÜLLER", "Nachname: Weiß"
        if not any(plain(w) or _ordinary(w) for w in m.group(1).split()):
            out.append((m.start(1), m.end(1), 0.8))
    for m in _CAPS_RUN.finditer(text):
        words = [w for w in m.group().split() if w not in _UPPARTS.split("|")]
        if any(plain(w) for w in words) or len(words) < 2:
            continue
        # a label's first line, the address below it: "JOHN SMITH\n12 BAKER STREET"
        slot = (_CAPS_SLOT.search(text, max(0, m.start() - 40), m.start()) is not None
                or (re.search(r"(?:^|\n)[ \t]*$", text[max(0, m.start() - 20) : m.start()]) is not None
                    and _ADDRESS_BELOW.match(text, m.end()) is not None
                    and (fold(words[0]) in names or not any(is_common_word(w) for w in words))))
        at_line_end = re.match(r"[ \t]*(?:$|\n|,)", text[m.end():]) is not None
        led_by_name = fold(words[0]) in names and not is_common_word(words[0])
        if slot and at_line_end and not all(_ordinary(w) for w in words):
            out.append((m.start(), m.end(), 0.7))
        elif led_by_name and (slot or not any(is_common_word(w) for w in words[1:])):
            out.append((m.start(), m.end(), 0.65))
    return out


def name_forms(text: str) -> list[tuple[int, int, float]]:
    """(start, end, score) of titled names, names with a degree, and lower-case names after a sign-off."""
    out: list[tuple[int, int, float]] = []
    names = first_names()
    for m in _TITLED.finditer(text):
        words = m.group(1).split()
        if not all(is_common_word(w) or w.lower() in COMMON_WORDS for w in words):
            out.append((m.start(), m.end(), 0.85))
    for m in _SUFFIXED.finditer(text):
        words = m.group(1).split()
        if not _ordinary(words[0]) and (any(fold(w) in names for w in words) or not all(map(_ordinary, words))):
            out.append((m.start(), m.end(), 0.8))
    for m in _CUED_CAP.finditer(text):
        words = m.group(1).split()
        if not _ordinary(words[0]) and not (len(words) > 1 and _ordinary(words[1])):
            out.append((m.start(1), m.end(1), 0.6))
    for m in _CUED_LOW.finditer(text):
        words = m.group(1).split()
        if len(words) == 2 and _ordinary(words[1]):  # "priya at", "teresa here": the name is one word
            words = words[:1]
        start, end = m.start(1), m.start(1) + len(" ".join(words)) if len(words) == 1 else m.end(1)
        if _ordinary(words[0]):
            continue
        if fold(words[0]) in names or (
            _LOW_END.match(text, end) and not any(map(_ordinary, words))
            and (len(words) == 2 or _HERE.match(text, end))  # "luchino impastato and", "its oviya here"
        ):
            out.append((start, end, 0.6))
    out.extend((m.start(1), m.end(1), 0.6) for m in _FAMILY.finditer(text) if not _ordinary(m.group(1)))
    out.extend((m.start(1), m.end(1), 0.6) for m in _THANKS_LOW.finditer(text)
               if fold(m.group(1)) in names and not _ordinary(m.group(1)))
    out.extend(_caps_names(text, names))
    for m in _CAPS_NAME.finditer(text):
        words = m.group(1).split()
        if fold(words[0].capitalize()) in names and not any(_ordinary(w) for w in words):
            out.append((m.start(1), m.end(1), 0.7))
    for m in _LOWER_SIGNOFF.finditer(text):
        first = m.group(1).split()[0]
        if fold(first) in names and first not in COMMON_WORDS and not is_common_word(first):
            out.append((m.start(1), m.end(1), 0.6))
    return out

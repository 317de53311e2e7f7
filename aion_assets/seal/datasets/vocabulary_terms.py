"""Candidate vocabulary terms of one answer, and the word-level rules that refuse a term (for `vocabulary`).

Why each rule exists is in :mod:`aion_assets.seal.datasets.vocabulary`; a change here changes
which terms are learned, so it bumps ``vocabulary.RULES_VERSION``.
"""

from __future__ import annotations

import re

# A token: letters/digits, with inner '&+.-' and apostrophes ("HomeKit", "BV-6010", "fw 2.13.4", "Laura's").
_TOKEN = re.compile(r"[^\W_](?:[\w&+.'’-]*[^\W_])?")
_POSSESSIVE = re.compile(r"['’]s$", re.IGNORECASE)
_PHONE = re.compile(r"(?<![\w+])\+?\d[\d ().-]{5,18}\d(?![\w])")
_EMAIL = re.compile(r"@")
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_SSN = re.compile(r"^\d{3}[- ]?\d{2}[- ]?\d{4}$")
_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9 ]{11,30}$")
_SALUTATION = frozenset(
    {"hi", "hello", "hey", "dear", "thanks", "thank", "regards", "cheers", "bye"}
    | {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam", "herr", "frau"}
)
# Words that start a run only because they start a sentence or a step ("The", "If", "Your").
_STOP_WORDS = frozenset(
    {"the", "a", "an", "if", "its", "it", "your", "my", "our", "their", "his", "her", "to", "this", "that"}
    | {"these", "those", "you", "we", "i", "in", "on", "at", "for", "and", "or", "but", "when", "then"}
    | {"please", "yes", "no", "so", "after", "before", "with", "from", "by", "of", "as", "is", "are"}
)
_CARD = re.compile(r"(?<![\w+])(?:\d[ -]?){12,18}\d(?!\w)")
# Structured identifiers inside a text: no candidate is taken from them.
_STRUCTURED_IN_TEXT = (
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b"),
    _CARD,
    re.compile(r"\b\d{3}-\d{2}-\d{4}\b"),
    re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b"),
)
_NAME_RUN = r"((?:[A-Z][\w'’-]*)(?:[ \t]+[A-Z][\w'’-]*){0,2})"
# The cue words ignore case ("My name is", "THIS IS"); the name itself must be capitalised.
_SELF_NAME = re.compile(
    r"(?i:\b(?:my\s+name\s+is|my\s+name's|name's|this\s+is|call\s+me|i'?m|i\s+am|signed))\s+" + _NAME_RUN
)
_SIGN_OFF = re.compile(
    r"(?:^|\n|[.!?]\s)\s*(?i:thanks|thank\s+you|regards|best|cheers|kind\s+regards|best\s+regards|sincerely|"
    r"br|thx)[,.!]?\s+" + _NAME_RUN + r"\s*[.!]?\s*$"
)
_DASH_NAME = re.compile(r"(?:^|\n)\s*[-–—]\s*((?:[A-Z][\w'’-]*)(?:[ \t]+[A-Z][\w'’-]*){0,2})\s*$")


def fold_word(word: str) -> str:
    from aion_assets.memory.scrub.gazetteers import fold

    return fold(word)


def _clean(token: str) -> str:
    return _POSSESSIVE.sub("", token)


def has_digit(token: str) -> bool:
    """TOKEN contains a digit (a model number or code, never a person's name)."""
    return any(c.isdigit() for c in token)


def _lower_word(token: str) -> bool:
    return token.isalpha() and token.islower()


def _is_code(token: str) -> bool:
    """A product code or model number: letters and digits together ("BV-6010", "E42B", "X200")."""
    return has_digit(token) and any(c.isalpha() for c in token)


def candidate_terms(text: str, names: frozenset[str] = frozenset()) -> tuple[set[str], set[str]]:
    """Candidate terms of one answer, and the folded words of persons it addresses.

    Candidates are runs of capitalised words (a number may follow: "Nimbus 40"), the same runs
    without leading ordinary words ("The", "If", "Open"), each capitalised word of a run, product
    codes and phone-number-shaped strings. Runs never cross punctuation or a line break, and
    nothing is taken from inside a structured identifier (e-mail, IBAN, card, SSN, IP address).
    A lower-case word that is also a first name in NAMES ("bin", "fee", "sim": stock NER may
    take it for a person) is taken with its lower-case neighbours ("dust bin sensor", "bin
    sensor"), never alone: the phrase is the company's wording, the word alone could be a name.

    Returns:
        (candidates, addressed): ADDRESSED holds the folded words that follow "Dear", "Hi", "Mr"
        and the like in the same run (a person being addressed).
    """
    from aion_assets.memory.scrub.words import is_common_word

    out: set[str] = set()
    addressed: set[str] = set()
    blocked = [
        (m.start(), m.end())
        for rx in _STRUCTURED_IN_TEXT
        for m in rx.finditer(text)
        if rx is not _CARD or _luhn(re.sub(r"\D", "", m.group()))  # a card passes Luhn; a long phone does not
    ]

    def inside_structured(start: int, end: int) -> bool:
        return any(start < b and a < end for a, b in blocked)

    for m in _PHONE.finditer(text):
        if sum(c.isdigit() for c in m.group()) >= 7 and not inside_structured(m.start(), m.end()):
            out.add(m.group().strip())
    tokens = [(m.start(), m.end(), _clean(m.group())) for m in _TOKEN.finditer(text)]
    run: list[tuple[int, int, str]] = []

    def flush() -> None:
        while run and not run[0][2][:1].isupper():
            run.pop(0)  # a run starts with a capitalised word, never with a bare number
        if not run:
            return
        before = text[: run[0][0]].rstrip(" \t,")
        prev = re.search(r"([A-Za-z]+)\.?$", before)
        words = [w for _, _, w in run]
        # Who is addressed: the words after a salutation or title, before the run or inside it.
        cue = 0 if prev is not None and prev.group(1).lower() in _SALUTATION else None
        for i, w in enumerate(words):
            if w.lower().rstrip(".") in _SALUTATION:
                cue = i + 1
        if cue is not None:
            addressed.update(fold_word(w) for w in words[cue:] if not has_digit(w))
        for w in words:
            if w[:1].isupper():
                out.add(w)
        # Whole runs, and without leading sentence or step words ("The Velocia Marlow 5 Trail", "Open
        # Lumio Hub" -> "Velocia Marlow 5 Trail", "Lumio Hub"); never other pieces:
        # a run's pieces would overlap each other in other texts ("Velocia Marlow 5" + "Marlow 5 Trail")
        # and an overlapping pair leaves the part outside the first match unprotected.
        lead = 0
        while lead < len(words) - 1 and (words[lead].lower() in _STOP_WORDS or is_common_word(words[lead])):
            lead += 1
        for piece in {tuple(words), tuple(words[lead:])}:
            if len(piece) > 1 and piece[0][:1].isupper():
                out.add(" ".join(piece))
        # Stock NER often takes the article into a place ("the Torvane M50" as LOCATION): the company's
        # "the <run>" is a candidate too, so that no lone "the" is left of the detection.
        if prev is not None and prev.group(1) == "the" and before.endswith("the"):
            out.add("the " + " ".join(words[lead:]))
        run.clear()

    if names:
        for i, (start, end, word) in enumerate(tokens):
            if not (word.isalpha() and word.islower() and word in names):
                continue
            left = tokens[i - 1] if i > 0 else None
            right = tokens[i + 1] if i + 1 < len(tokens) else None
            lw = left[2] if left and _lower_word(left[2]) and text[left[1] : start] == " " else None
            rw = right[2] if right and _lower_word(right[2]) and text[end : right[0]] == " " else None
            for piece in ((lw, word, rw), (lw, word, None), (None, word, rw)):
                words = [w for w in piece if w]
                if len(words) > 1:
                    out.add(" ".join(words))

    prev_end = None
    for start, end, word in tokens:
        if inside_structured(start, end):
            flush()
            prev_end = None
            continue
        if _is_code(word):
            out.add(word)
        joinable = prev_end is not None and text[prev_end:start] in (" ", "\t")
        # One number or code may continue a run ("Nimbus 40", "QuickCharge 4A"), never start one.
        continues = bool(run) and not has_digit(run[-1][2]) and (_is_code(word) or (word.isdigit() and len(word) <= 4))
        capital_or_number = word[:1].isupper() or continues
        if capital_or_number and (joinable or not run):
            run.append((start, end, word))
        else:
            flush()
            if word[:1].isupper():
                run.append((start, end, word))
        prev_end = end
    flush()
    return out, addressed


def self_names(message: str) -> set[str]:
    """Folded words a customer gives as their own name in MESSAGE ("my name is X", "I'm X", a sign-off)."""
    names: set[str] = set()
    for rx in (_SELF_NAME, _SIGN_OFF, _DASH_NAME):
        for m in rx.finditer(message):
            names.update(fold_word(w) for w in m.group(1).split())
    return names


def user_id_words(user_id: str | None) -> set[str]:
    """Folded alphabetic words of three letters or more in a user id ("john.smith42" -> john, smith)."""
    if not user_id:
        return set()
    return {fold_word(w) for w in re.findall(r"[^\W\d_]{3,}", user_id)}


def _structured(term: str) -> bool:
    compact = re.sub(r"[\s.-]", "", term)
    digits = sum(c.isdigit() for c in term)
    return bool(
        _EMAIL.search(term)
        or _IPV4.match(term)
        or _SSN.match(term)
        or _IBAN.match(term.upper() if term[:2].isalpha() else "")
        or (compact.isdigit() and 13 <= digits <= 19 and _luhn(compact))
    )


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def refusal(term: str, names: frozenset[str]) -> str | None:
    """Why TERM can never be vocabulary by its words alone (a reason counted in ``Vocabulary.refused``), or None."""
    from aion_assets.memory.scrub.gazetteers import COMMON_WORDS
    from aion_assets.memory.scrub.words import is_common_word

    if _structured(term):
        return "structured_identifier"
    words = [w for w in term.split() if not w.isdigit()]
    if not words:
        return "number"
    if any(has_digit(w) for w in words) or any(has_digit(w) for w in term.split()):
        return None  # a model number or product code ("Aurora 40", "BV-6010") is no person's name
    folded = [fold_word(w) for w in words]
    if len(words) == 1:
        if folded[0] in _STOP_WORDS or folded[0] in COMMON_WORDS or len(words[0]) == 1:
            return "common_word"  # also "Will", "May", "Hope": function words that are names too
        if folded[0] in names:
            return "first_name"
        return None  # an ordinary word ("Boost", "Settings") too: stock NER takes menu words for names
    if any(f in _SALUTATION for f in folded):
        return "addressed"
    if any(f in names for f in folded) and not any(is_common_word(w) for w in words):
        return "person_like"  # "Laura Schmidt": names and unknown words only
    return None

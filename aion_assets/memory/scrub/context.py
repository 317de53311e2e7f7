"""Context rules that overrule a name or place detection on ordinary support and product text.

spaCy's small model and the gazetteers see a person or a town in many capitalised words of
support text: button labels ("press Mode once"), headings ("Roaming is not included"), plan and
product names ("the Zenith 40 plan"), and the company itself in greetings and sign-offs
("thank you for contacting Globex Billing", "Kind regards,\\nGlobex Billing Services"). Replacing
them destroys the facts and the house style that the dataset must teach, so a PERSON or
LOCATION candidate is dropped (``is_not_a_name``) when:

- it is an organisation: it contains an organisation word ("Support", "Services", "Team",
  "Billing", "Inc", "GmbH"...), or, holding no known first name, is followed by one or follows
  "thank you for contacting", "for reaching out to", "welcome to", "on behalf of";
- it is a PERSON of one word that is a frequent English word (``scrub_words.common_english()``:
  "Mode", "Boost", "Billing", "Zenith"), or of several words that all are and none is a first
  name, unless the context says person strongly (a title, "Dear", "I'm", "my name is", "ask X
  to", "X said");
- it is one word followed by a short model number ("Quasar 20", "Aurora 40"), with no such cue
  (for a LOCATION: not after a place cue such as "lives in", and not a gazetteer place);
- it is a LOCATION of one ordinary word after a possessive ("my Turbo fan").

The word list alone does not veto a place (WordNet, one of its sources, knows "Bavaria" and
"Trinidad"), nor a PERSON word that touches another PERSON candidate ("Selena van den" +
"Brink"): surnames are often words.

These rules only ever drop the project's own candidates: what Presidio as it comes detects is
never dropped by them (``engine``), so they cannot make the scrubber worse than stock.

Plain functions over the text; no spaCy needed. Importing this module loads nothing heavy.
"""

from __future__ import annotations

import re

from aion_assets.memory.scrub.words import is_common_word

NAME_TYPES = frozenset({"PERSON", "LOCATION"})
# Words that make a capitalised phrase an organisation or one of its departments.
ORG_WORDS = frozenset(
    [
        "support", "services", "service", "team", "billing", "sales", "helpdesk", "desk", "department", "dept",
        "care", "inc", "ltd", "llc", "gmbh", "plc", "limited", "corp", "corporation", "company", "telecom",
        "systems", "solutions", "technologies", "labs", "group", "operations",
        # the same in the languages of the sign-offs the recognizers know, and the possessives that
        # open a company's signature ("Ihr Lumio Kundenservice", "Votre équipe Lumio")
        "kundenservice", "kundendienst", "kundensupport", "ihr", "ihre", "euer", "votre", "vos", "équipe",
        "equipe", "servicio", "atención", "soporte", "equipo", "assistenza", "servizio", "squadra",
        "klantenservice", "uw", "kundeservice", "kundtjänst", "kundeservice", "asiakaspalvelu", "obsługa",
        "zespół", "atendimento", "suporte", "your", "the",
    ]
)
_WORD = re.compile(r"[^\W\d_][\w'’]*")
_ORG_CUE = re.compile(
    r"(?:\bfor\s+(?:contacting|reaching\s+out\s+to|choosing|calling|writing\s+to)|\bwelcome\s+to|"
    r"\bon\s+behalf\s+of|\bwith\s+love\s+from)\s+(?:the\s+)?$",
    re.IGNORECASE,
)
_STRONG_BEFORE = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Madam|Herr|Frau|Mme|Mlle)\.?"
    r"|\b(?:dear|i'?m|i\s+am|name\s+is|name's|this\s+is|ask|asked|tell|told|cc|"
    r"(?:spoke|speak|talked|talk)\s+(?:to|with)|contact|forward\s+(?:this|it)\s+to|signed)[,:]?)\s+$",
    re.IGNORECASE,
)
_GREETING_BEFORE = re.compile(
    r"\b(?:hi|hello|hey|thanks|thank\s+you|regards|cheers|bye|good\s+news|great\s+news|"
    r"good\s+(?:morning|afternoon|evening)|welcome(?:\s+back)?|sorry|congrats|congratulations)[,!]?\s+$",
    re.IGNORECASE,
)
_STRONG_AFTER = re.compile(
    r"^\s+(?:said|says|wrote|writes|asked|asks|called|reported|mentioned|told|replied|confirmed|complained|"
    r"here|from\s+(?:the\s+)?(?:\w+\s+)?(?:team|department|office))\b",
    re.IGNORECASE,
)
_POSSESSIVE_BEFORE = re.compile(r"\b(?:my|your|our|his|her|their)\s+$", re.IGNORECASE)
# "Quasar 20 plan", "Pulse 10?" - a short number that is not the start of a phone number or a date.
_MODEL_NUMBER = re.compile(r"[ -]\d{1,4}(?![\d.,:/-]?\d)(?![ \t]+\d)")


def _strong_person_cue(text: str, start: int, end: int) -> bool:
    from aion_assets.memory.scrub.recognizers import PERSON_ACTION_AFTER

    before = text[max(0, start - 30) : start]
    if _STRONG_BEFORE.search(before) or _STRONG_AFTER.match(text[end:]) or PERSON_ACTION_AFTER.match(text[end:]):
        return True
    # "Hi Bill," / "Thanks, Grace!" - a greeting with the word alone up to the punctuation
    return bool(_GREETING_BEFORE.search(before)) and re.match(r"\s*(?:[,!.:]|$)", text[end:]) is not None


def is_organisation(text: str, start: int, end: int) -> bool:
    """True when TEXT[START:END] reads as a company or department, not a person or a place.

    A phrase that holds a known first name is a person even after "thank you for contacting" or
    before "Support": "Thank you for contacting Laura Schmidt", "Customer Kevin Brown Support ticket".
    """
    words = [w.group() for w in _WORD.finditer(text, start, end)]
    if any(w[0].isupper() and w.lower() in ORG_WORDS for w in words):
        return True
    if has_name_evidence(text[start:end]):
        return False
    after = re.match(r"[ \t]+([A-Z][\w'’]*)(?:[ \t]+([A-Z][\w'’]*))?", text[end:])
    following = [w for w in after.groups() if w] if after else []
    if any(w[0].isupper() and w.lower() in ORG_WORDS for w in following):
        return True
    return bool(_ORG_CUE.search(text[max(0, start - 40) : start]))


def is_not_a_name(text: str, start: int, end: int, entity_type: str, beside_name: bool = False) -> bool:
    """True when a PERSON/LOCATION candidate at TEXT[START:END] is ordinary text (module docstring).

    ``beside_name``: another PERSON candidate touches this one ("Justin van der" + "Horst"); the
    word list then says nothing, since surnames are often words ("Brink", "Green").
    """
    if entity_type not in NAME_TYPES:
        return False
    # imported here: scrub_recognizers pulls in Presidio, and scrub.py imports this module eagerly
    from aion_assets.memory.scrub.gazetteers import first_names, fold, place_gazetteer
    from aion_assets.memory.scrub.recognizers import LOCATION_CUES
    from aion_assets.memory.scrub.spans import field_label

    if is_organisation(text, start, end) or field_label(text, start, end):
        return True  # "County:", "Post Town:", "Door Code:" label a form's field
    value = text[start:end]
    words = [w.group() for w in _WORD.finditer(value)]
    if not words or (entity_type == "LOCATION" and value in place_gazetteer()):
        return False
    model_number = len(words) == 1 and _MODEL_NUMBER.match(text, end) is not None
    if entity_type == "LOCATION":
        # WordNet knows many places ("Bavaria", "Trinidad"), so the word list alone says nothing
        # about a place; a model number after it does ("in Vertex 20", not after "lives in"), and
        # so does a possessive before an ordinary word ("my Turbo fan").
        if LOCATION_CUES.search(text[max(0, start - 30) : start]):
            return False
        owned = _POSSESSIVE_BEFORE.search(text[max(0, start - 10) : start]) is not None
        return model_number or (owned and len(words) == 1 and is_common_word(words[0]))
    if beside_name or _strong_person_cue(text, start, end):
        return False
    if len(words) == 1:
        return model_number or is_common_word(words[0])
    names = first_names()
    return all(is_common_word(w) for w in words) and not any(fold(w) in names for w in words)


def drop_ordinary_text(text: str, spans: list[tuple[int, int, str]]) -> list[bool]:
    """For each candidate (start, end, type), whether ``is_not_a_name`` vetoes it, neighbours considered."""
    persons = sorted((a, b) for a, b, t in spans if t == "PERSON")
    out = []
    for start, end, etype in spans:
        beside = etype == "PERSON" and any(
            (a, b) != (start, end)
            and ((a < end and start < b) or re.fullmatch(r"[ \t]+", text[min(b, end) : max(a, start)] or "x"))
            for a, b in persons
        )
        out.append(is_not_a_name(text, start, end, etype, beside_name=beside))
    return out


def has_name_evidence(value: str) -> bool:
    """True when VALUE holds a known first name or is a known place (used on pieces of cut spans)."""
    from aion_assets.memory.scrub.gazetteers import first_names, fold, place_gazetteer

    names = first_names()
    return value in place_gazetteer() or any(fold(w.group()) in names for w in _WORD.finditer(value))


def only_ordinary_words(value: str) -> bool:
    """True when every word of VALUE is a frequent English word and none is a first name or place.

    What is left of a stock detection once a code is cut out of it ("Model" of "Model S1") goes only
    when it is not ordinary text.
    """
    from aion_assets.memory.scrub.gazetteers import first_names, fold, place_gazetteer

    words = [w.group() for w in _WORD.finditer(value)]
    if not words:
        return True
    if value.strip() in place_gazetteer():
        return False
    names = first_names()
    return all(is_common_word(w) for w in words) and not any(fold(w) in names for w in words)

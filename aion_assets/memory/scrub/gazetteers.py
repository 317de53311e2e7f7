"""Word lists and gazetteers of the scrubber's recognizers: common words, first names, place names.

Built lazily from installed packages and cached for the process (nothing fetched): first names
from ``gender-guesser``'s dictionary, places from libphonenumber's geocoding data and country
names and from ``pycountry``'s subdivisions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

_LATIN = re.compile(r"^[A-Za-zÀ-ɏ' .\-’]+$")

# Words that are never a name or a place on their own, even capitalised at a sentence start.
COMMON_WORDS = frozenset(
    [
        "a", "about", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as", "ask", "at",
        "back", "be", "been", "before", "being", "best", "but", "by", "call", "can", "cc", "come", "could",
        "day", "dear", "did", "do", "does", "done", "down", "each", "east", "even", "every", "few", "find",
        "fine", "first", "for", "from", "get", "give", "go", "going", "good", "got", "great", "had", "has",
        "have", "he", "hello", "her", "here", "hey", "hi", "him", "his", "hope", "how", "i", "if", "in", "into",
        "is", "it", "its", "just", "keep", "know", "last", "let", "like", "look", "made", "make", "many", "may",
        "me", "more", "most", "much", "must", "my", "near", "need", "new", "next", "no", "north", "not", "now",
        "of", "off", "ok", "okay", "old", "on", "once", "one", "only", "or", "other", "our", "out", "over",
        "own", "please", "put", "regards", "right", "said", "same", "say", "see", "she", "should", "since",
        "so", "some", "south", "still", "such", "sure", "take", "team", "tell", "than", "thank", "thanks",
        "that", "the", "their", "them", "then", "there", "these", "they", "thing", "think", "this", "those",
        "through", "to", "today", "too", "two", "under", "up", "us", "use", "very", "want", "was", "way", "we",
        "well", "were", "west", "what", "when", "where", "which", "while", "who", "why", "will", "with",
        "would", "yes", "yet", "you", "your", "customer", "order", "account", "ticket", "support", "admin",
        "user", "server", "device", "product", "service", "store", "office", "region", "billing", "payment",
        "refund", "card", "phone", "email", "address", "contact", "message", "price", "manager", "sales",
        "help", "issue", "error", "warning", "invoice", "number", "ship", "shipping", "delivery", "return",
        "label", "package", "caller", "cardholder", "visitor", "sir", "madam", "mr", "mrs", "ms", "dr", "prof",
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february",
        "march", "april", "june", "july", "august", "september", "october", "november", "december", "i'm",
        "i'll", "i've", "i'd",
    ]
)


@lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    """Lower-cased first names (gender-guesser's dictionary), without common English words."""
    import gender_guesser

    path = Path(gender_guesser.__file__).parent / "data" / "nam_dict.txt"
    names: set[str] = set()
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line or line[0] in "#=" or len(line) < 30:
                continue
            name = line[3:29].strip().replace("+", "-")
            # entries with <...> use the list's own escapes for rare letters; skip them
            if len(name) >= 3 and "<" not in name and _LATIN.match(name):
                names.add(fold(name))
    return frozenset(names - COMMON_WORDS)


def fold(word: str) -> str:
    """Lower case without accents ("Émile" -> "emile"): the name list mixes both spellings."""
    return "".join(c for c in unicodedata.normalize("NFKD", word.lower()) if not unicodedata.combining(c))


def _split_place(name: str) -> Iterable[str]:
    # "Nandyal, Andhra Pradesh", "Rafael Jambeiro - BA", "Brühl/Baden", "Ceredigion [Sir Ceredigion]"
    for part in re.split(r",|/| - |\(|\)|\[|\]", name):
        part = part.strip()
        if len(part) >= 3 and _LATIN.match(part) and part[0].isupper():
            yield part


@lru_cache(maxsize=1)
def place_gazetteer() -> frozenset[str]:
    """Town, region and country names (exact case), from libphonenumber and pycountry."""
    import pycountry
    from phonenumbers.geodata import GEOCODE_DATA
    from phonenumbers.geodata.locale import LOCALE_DATA

    places: set[str] = set()
    for by_lang in GEOCODE_DATA.values():
        for name in by_lang.values():
            places.update(_split_place(name))
    for by_lang in LOCALE_DATA.values():
        for name in by_lang.values():
            if not name.startswith("*"):
                places.update(_split_place(name))
    for sub in pycountry.subdivisions:
        places.update(_split_place(sub.name))
    for country in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            places.update(_split_place(getattr(country, attr, "") or ""))
    return frozenset(p for p in places if p.lower() not in COMMON_WORDS and fold(p) not in first_names())

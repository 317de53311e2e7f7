"""House style of a tenant/domain: the fixed greeting and sign-off that frame an answer.

The evaluation suite measures the *body* of an answer separately from its frame, because
wrapping any answer in the house greeting alone raises whole-answer overlap metrics a lot
(SPEC section 9): a model that only learned the greeting must not look like it learned facts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aion_assets.core.errors import ConfigError


def _norm_ws(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


@dataclass(frozen=True)
class HouseStyle:
    """The frame of a house-style answer: ``greeting + "\\n\\n" + body + "\\n\\n" + sign_off``.

    Matching is whitespace- and case-insensitive so that a model which reproduces the greeting
    with a different line break still counts as following the style.
    """

    greeting: str = ""
    sign_off: str = ""

    def __post_init__(self) -> None:
        for name in ("greeting", "sign_off"):
            if not isinstance(getattr(self, name), str):
                raise ConfigError(f"house style: {name} must be a string")

    @property
    def is_empty(self) -> bool:
        """True when the style has neither greeting nor sign-off (nothing to strip or check)."""
        return not self.greeting.strip() and not self.sign_off.strip()

    def wrap(self, body: str) -> str:
        """Frame ``body`` with the greeting and sign-off (the style-only control does this)."""
        parts = [p for p in (self.greeting.strip(), body.strip(), self.sign_off.strip()) if p]
        return "\n\n".join(parts)

    def has_greeting(self, text: str) -> bool:
        """The greeting opens the text (ignoring case and whitespace); vacuously true if none."""
        if not self.greeting.strip():
            return True
        return _norm_ws(text).startswith(_norm_ws(self.greeting))

    def has_sign_off(self, text: str) -> bool:
        """The sign-off closes the text (ignoring case, whitespace, trailing punctuation)."""
        if not self.sign_off.strip():
            return True
        return _norm_ws(text).rstrip(" .!").endswith(_norm_ws(self.sign_off).rstrip(" .!"))

    def adheres(self, text: str) -> bool:
        """Both the greeting and the sign-off are in place."""
        return self.has_greeting(text) and self.has_sign_off(text)

    def strip(self, text: str) -> str:
        """Return the body: the text with the greeting and sign-off removed where present.

        A frame that is only partly reproduced is also removed when it appears anywhere at the
        edges, so that the body metric never credits a half-learned greeting.
        """
        body = text.strip()
        if self.greeting.strip():
            pattern = _frame_pattern(self.greeting)
            m = re.match(r"\s*" + pattern, body, flags=re.IGNORECASE)
            if m:
                body = body[m.end() :]
        if self.sign_off.strip():
            pattern = _frame_pattern(self.sign_off)
            m = re.search(pattern + r"[\s.!]*$", body, flags=re.IGNORECASE)
            if m:
                body = body[: m.start()]
        return body.strip()

    def to_dict(self) -> dict[str, str]:
        """Plain form for metadata and YAML."""
        return {"greeting": self.greeting, "sign_off": self.sign_off}

    @classmethod
    def from_mapping(cls, data: dict[str, Any] | None, where: str = "house style") -> HouseStyle:
        """Build from a mapping with optional ``greeting`` and ``sign_off`` strings.

        Raises:
            ConfigError: an unknown key or a non-string value, naming ``where``.
        """
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise ConfigError(
                f"{where}: expected a mapping with greeting/sign_off, got {type(data).__name__}"
            )
        unknown = set(data) - {"greeting", "sign_off"}
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: greeting, sign_off")
        values = {}
        for key in ("greeting", "sign_off"):
            value = data.get(key, "") or ""
            if not isinstance(value, str):
                raise ConfigError(f"{where}: {key} must be a string, got {type(value).__name__}")
            values[key] = value
        return cls(**values)


def _frame_pattern(frame: str) -> str:
    """A regex matching ``frame`` with any whitespace between its words."""
    words = frame.split()
    return r"\s+".join(re.escape(w) for w in words)

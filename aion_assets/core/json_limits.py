"""Limits on request bodies and the strict JSON decoder that checks a body's size and shape before parsing it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from itertools import accumulate, compress, repeat
from typing import Any

from aion_assets.core.errors import ApiError

MAX_JSON_DEPTH = 64
#: Most JSON values a body may hold by default (AION_MAX_JSON_VALUES): the document itself and every
#: element or member of its arrays and objects. Parsed, each costs 50 to 100 bytes of Python objects
#: however small it is on the wire, so this bounds a request's parse to ~10 MiB (finding 17).
MAX_JSON_VALUES = 100_000
_WS = re.compile(r"[ \t\n\r]*")
#: A JSON string once its escaped backslashes and escaped quotes are gone (see _prescan).
_STRING = re.compile(r'"[^"]*+"')
#: str.translate table deleting every ASCII character but the structural ones (valid JSON holds
#: nothing else outside strings; translate runs at C speed and collects no pieces, unlike re.sub).
_ONLY_STRUCTURAL = {c: None for c in range(128) if chr(c) not in "[]{},"}
_NO_WHITESPACE = {ord(c): None for c in " \t\n\r"}
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


@dataclass(frozen=True)
class BodyLimits:
    """The app's limits on request bodies, set once by the composition root (``aion_assets.app``).

    Attributes:
        max_body_bytes: largest body (AION_MAX_BODY_BYTES); a route may set a lower one.
        max_text_chars: longest text field (AION_MAX_TEXT_CHARS).
        max_batch: most items in a batch (AION_MAX_BATCH).
        max_json_values: most JSON values in one body (AION_MAX_JSON_VALUES), see MAX_JSON_VALUES.
    """

    max_body_bytes: int = 16 * 2**20
    max_text_chars: int = 32_000
    max_batch: int = 1000
    max_json_values: int = MAX_JSON_VALUES


class _TooDeep(ValueError):
    """Arrays and objects nested deeper than the limit."""


class _NotJsonConstant(ValueError):
    """NaN, Infinity or -Infinity: Python's json accepts them, JSON does not (RFC 8259)."""


def _reject_constant(name: str) -> Any:
    raise _NotJsonConstant(f"{name} is not a JSON value")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _prescan(text: str, *, max_items: int | None, max_values: int, max_depth: int) -> None:
    """Check TEXT's shape against the limits before anything is parsed (finding 17).

    Parsed, every JSON value is a Python object of 50 to 100 bytes however small it is on the
    wire, so the values are counted first, from the structural characters outside strings: the
    root, plus one element or member per comma and one more per non-empty container. Strings are
    replaced with C-speed string operations (escapes occur only inside strings: once escaped
    backslashes and then escaped quotes are removed, every quote left delimits a string); the
    nesting depth and the items of a top-level array come from what is left, the skeleton, capped
    at the length a document within the limits can have. Memory is a small multiple of the body
    whatever its shape, and time is linear. Exact for valid JSON; anything else gets counts that
    may be off, and the decoder refuses it anyway.

    Returns without looking further when the body cannot hold MAX_VALUES values; the caller then
    checks depth and items on the parsed value.

    Raises:
        _TooDeep: nesting deeper than MAX_DEPTH.
        ApiError: 413 ``batch_too_large`` when a top-level array has more than MAX_ITEMS items
            (MAX_ITEMS given), 413 ``too_many_values`` for more than MAX_VALUES values.
    """
    # An upper bound (1 + containers + commas, strings included) settles the usual body, however
    # many items, at C speed; its depth and items are then checked on the parsed value, whose size
    # the bound limits.
    if text.count("[") + text.count("{") + text.count(",") < max_values:
        return
    too_many = ApiError(
        413,
        "too_many_values",
        f"body holds more than {max_values} JSON values (the document and every element or member of its "
        "arrays and objects; the limit is AION_MAX_JSON_VALUES)",
        field="body",
    )
    plain = text.replace("\\\\", "").replace('\\"', "")
    # A string is a key or a value, so a valid document within the limit has at most 2 * max_values
    # of them; checking first also bounds the pieces the substitution below collects.
    if plain.count('"') > 4 * max_values + 4:
        raise too_many
    # Each string becomes one scalar character and whitespace goes: an empty array or object is then
    # "[]" or "{}", and nothing else is.
    compact = _STRING.sub("0", plain).translate(_NO_WHITESPACE)
    del plain
    empty = compact.count("[]") + compact.count("{}")
    skeleton = compact.translate(_ONLY_STRUCTURAL)
    del compact
    # The root, plus the elements and members: one per comma, and one more per non-empty container.
    values = 1 + skeleton.count(",") + skeleton.count("[") + skeleton.count("{") - empty
    # A valid document of at most max_values values has a skeleton of at most 2 * max_values
    # characters (each container opens and closes); beyond that only the prefix is looked at.
    depths = list(accumulate(map(_STEP.get, skeleton[: 2 * max_values + 2], repeat(0))))
    if depths and max(depths) > max_depth:
        raise _TooDeep(f"JSON is nested deeper than {max_depth} levels")
    if max_items is not None and skeleton.startswith("["):
        # Items of the top-level array: 1 + the commas at depth 1 (in the prefix: enough to tell).
        items = 1 + list(compress(depths, map(",".__eq__, skeleton))).count(1)
        if items > max_items:
            raise ApiError(413, "batch_too_large", f"batch has more than {max_items} items", field="body")
    if values > max_values:
        raise too_many


def _check_depth(value: Any, limit: int) -> None:
    """Raise _TooDeep if VALUE nests containers deeper than LIMIT.

    Level by level, without recursion; JSON-decoded containers are exact dicts and lists.
    """
    level, depth = [value], 0
    while True:
        level = [v for v in level if type(v) is dict or type(v) is list]
        if not level:
            return
        depth += 1
        if depth > limit:
            raise _TooDeep(f"JSON is nested deeper than {limit} levels")
        level = [child for c in level for child in (c.values() if type(c) is dict else c)]


def _end(text: str, pos: int, value: Any) -> Any:
    pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
    if pos != len(text):
        raise json.JSONDecodeError("Extra data", text, pos)
    return value


def decode_json(
    text: str,
    *,
    max_items: int | None = None,
    max_values: int = MAX_JSON_VALUES,
    max_depth: int = MAX_JSON_DEPTH,
) -> Any:
    """Decode TEXT as strict JSON, checking its size and shape before parsing it.

    Args:
        max_items: when the document is an array, refuse it (413) when it has more items than this.
        max_values: refuse (413) a document of more JSON values than this, whatever its shape
            (``[{}, {}, ...]``, ``{"items": [[], [], ...]}``, deep arrays of tiny elements),
            before any of it is parsed: what a parse builds is bounded by this.
        max_depth: deepest accepted nesting of arrays and objects.

    Raises:
        ApiError: 400 for anything that is not JSON, nests deeper than MAX_DEPTH, holds
            NaN/Infinity or an integer longer than Python converts; 413 for too many items or
            values.
    """
    try:
        pos = _WS.match(text, 0).end()  # type: ignore[union-attr]
        _prescan(text, max_items=max_items, max_values=max_values, max_depth=max_depth)
        value, end = _DECODER.raw_decode(text, pos)
        _end(text, end, value)
        _check_depth(value, max_depth)
        if max_items is not None and type(value) is list and len(value) > max_items:
            raise ApiError(413, "batch_too_large", f"batch has more than {max_items} items", field="body")
        return value
    except json.JSONDecodeError as exc:
        raise ApiError(
            400, "invalid_json", f"body is not valid JSON: {exc.msg} at line {exc.lineno}", field="body"
        ) from exc
    except (RecursionError, _TooDeep) as exc:
        raise ApiError(400, "invalid_json", f"JSON is nested deeper than {max_depth} levels", field="body") from exc
    except ValueError as exc:
        # NaN/Infinity, or an integer over sys.get_int_max_str_digits().
        raise ApiError(400, "invalid_json", f"body is not valid JSON: {exc}", field="body") from exc

"""Protects: the JSON body parser's limits on values, items and depth (security finding 17).

A body of millions of tiny values is refused whatever its shape, before it is parsed, with a
peak of memory bounded by a small multiple of the body (parsing it used to take ~30 times the
body in Python objects); counting is exact for valid JSON, so strings holding brackets, commas
or escaped quotes count as one value, and a document at the limit is accepted.
"""

from __future__ import annotations

import json
import os
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from aion_assets.core.errors import ApiError
from aion_assets.core.json_limits import decode_json

TINY_SHAPES = {
    "top-level array": "[" + "{}," * 1_300_000 + "{}]",
    "object holding a list": '{"items": [' + "{}," * 1_300_000 + "{}]}",
    "nested arrays": '{"a": {"b": [' + "[[],[]]," * 500_000 + "[]]}}",
    "numbers": "[[" + "0," * 2_000_000 + "0]]",
    "strings": '{"s": [' + '"",' * 1_300_000 + '""]}',
    "keys": "{" + ",".join(f'"{i}":0' for i in range(400_000)) + "}",
}


def _refusal(text: str, **limits: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        decode_json(text, **limits)
    return caught.value


@pytest.mark.parametrize("shape", list(TINY_SHAPES))
def test_millions_of_tiny_values_are_refused_before_parsing_in_bounded_memory(shape: str) -> None:
    text = TINY_SHAPES[shape]
    assert len(text) > 2**20
    tracemalloc.start()
    try:
        error = _refusal(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (error.status, error.code, error.field) == (413, "too_many_values", "body"), error.message
    assert "more than 100000 JSON values" in error.message
    # json.loads of any of these takes 15 to 40 times the text; the check takes at most ~2 copies.
    assert peak < 2 * len(text) + 2**20, f"peak {peak / 2**20:.1f} MiB for {len(text) / 2**20:.1f} MiB of JSON"


def test_parsing_them_would_have_taken_far_more() -> None:
    # The bound above can fail: the parse it replaces exceeds it for the smallest of the shapes.
    text = TINY_SHAPES["object holding a list"]
    tracemalloc.start()
    try:
        json.loads(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak > 10 * len(text)


def test_a_batch_is_refused_at_the_item_limit_before_the_value_limit() -> None:
    error = _refusal("[" + "{}," * 5_000_000 + "{}]", max_items=1000)
    assert (error.status, error.code, error.message) == (413, "batch_too_large", "batch has more than 1000 items")
    assert _refusal("[{}, {}, {}]", max_items=2).code == "batch_too_large"
    assert decode_json("[{}, {}]", max_items=2) == [{}, {}]


@pytest.mark.parametrize(
    ("document", "values"),
    [
        ([], 1),
        ({"a": [1, 2, 3]}, 5),
        ([[1, 2, 3, 4, 5]], 7),
        ([["a"], {"b": 2}, [[]], {"c": {}}], 9),
        ({"text": "commas, [brackets] and {braces}", "n": None}, 3),
        ({"quote": 'a "quoted" \\ ], {,', "k": [True, False]}, 5),
        ({"esc": "\\\\\"]]]", "tail": "\\"}, 3),
        (["\u00e9\u4e2d\U0001f600", {"": ""}, [], {}], 6),
    ],
)
def test_values_are_counted_exactly(document: Any, values: int) -> None:
    for text in (json.dumps(document), json.dumps(document, separators=(",", ":")), json.dumps(document, indent=2)):
        assert decode_json(text, max_values=values) == document
        if values > 1:
            assert _refusal(text, max_values=values - 1).code == "too_many_values"


def test_nesting_is_limited_in_every_path() -> None:
    assert decode_json("[" * 64 + "]" * 64) is not None
    for text in ("[" * 65 + "]" * 65, "[" * 99_999, "[" * 300_000, '{"a":' * 70 + "1" + "}" * 70):
        error = _refusal(text)
        assert (error.status, error.code) == (400, "invalid_json") and "deeper than 64" in error.message


@pytest.mark.parametrize(
    "text",
    ['"abc' + '\\"' * 500_000, "[" + "1," * 200_000, "]" * 300_000, '{"a": 1,}' + "," * 200_000, "x" * 300_000],
)
def test_broken_bodies_stay_a_400_or_413(text: str) -> None:
    assert _refusal(text).status in (400, 413)


def test_the_limit_comes_from_the_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from aion_assets.app import app_from_settings
    from aion_assets.core.settings import Settings

    for key in [k for k in os.environ if k.startswith("AION_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AION_HOME", str(tmp_path))
    monkeypatch.setenv("AION_JWT_SECRET", "s" * 32)
    monkeypatch.setenv("AION_MAX_JSON_VALUES", "2500")
    app = app_from_settings(Settings())
    assert app.state.body_limits.max_json_values == 2500
    monkeypatch.setenv("AION_MAX_JSON_VALUES", "10")  # below 1000: refused, naming the variable's field
    with pytest.raises(ValueError, match="max_json_values"):
        Settings()

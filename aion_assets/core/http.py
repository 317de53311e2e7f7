"""HTTP plumbing shared by the APIs: error bodies, body parsing and its limits, typed dependencies, size limit.

Every error response has the same JSON shape::

    {"error": "validation_error", "message": "...", "field": "input_text", "index": 3,
     "errors": [{"field": "...", "location": "[3].input_text", "message": "...", "index": 3}]}
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from itertools import accumulate, compress, repeat
from typing import Annotated, Any

import psycopg
import sqlalchemy as sa
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from aion_assets.core.auth import AuthError, ForbiddenError, Principal, TokenVerifier
from aion_assets.core.errors import (
    ArtifactError,
    ConflictError,
    NotFoundError,
    SchemaNotCurrentError,
    StoreUnavailableError,
)
from aion_assets.core.telemetry import ApiMetrics


class ApiError(Exception):
    """An error with its HTTP status, machine code, message and (optionally) the field."""

    def __init__(
        self, status: int, code: str, message: str, *, field: str | None = None, index: int | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field, self.index = status, code, message, field, index


def error_body(
    code: str,
    message: str,
    *,
    field: str | None = None,
    index: int | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The JSON body of an error response."""
    body: dict[str, Any] = {"error": code, "message": message}
    if field is not None:
        body["field"] = field
    if index is not None:
        body["index"] = index
    if errors:
        body["errors"] = errors
    return body


def _describe(loc: tuple[Any, ...]) -> tuple[str, str, int | None]:
    """(field, location, index) for a pydantic error location (body/query prefixes dropped)."""
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    index = parts[0] if parts and isinstance(parts[0], int) else None
    names = [str(p) for p in parts if not isinstance(p, int)]
    field = names[-1] if names else "body"
    location = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".") or "body"
    return field, location, index


def validation_response(errors: list[Any]) -> JSONResponse:
    """422 naming the first invalid field (and listing all of them)."""
    listed = []
    for err in errors:
        field, location, index = _describe(tuple(err.get("loc", ())))
        msg = err.get("msg", "invalid value")
        if err.get("type") == "extra_forbidden":
            msg = "unknown field"
        elif err.get("type") == "missing":
            msg = "field required"
        item: dict[str, Any] = {"field": field, "location": location, "message": msg}
        if index is not None:
            item["index"] = index
        listed.append(item)
    first: dict[str, Any] = listed[0] if listed else {"field": "body", "location": "body", "message": "invalid"}
    return JSONResponse(
        status_code=422,
        content=error_body(
            "validation_error",
            f"{first['location']}: {first['message']}",
            field=first["field"],
            index=first.get("index"),
            errors=listed,
        ),
    )


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


async def read_json(
    request: Request,
    limits: BodyLimits,
    *,
    optional: bool = False,
    max_items: int | None = None,
    max_bytes: int | None = None,
) -> Any:
    """Read and decode the request body as strict UTF-8 JSON, or raise a 400 ApiError.

    Bytes are counted as they arrive: the request is refused (413) as soon as the limit
    is passed, before the rest is received or anything is parsed.

    Args:
        limits: the app's limits (the route's ``Limits`` dependency): body bytes and JSON values.
        optional: an empty (or all-whitespace) body gives None instead of an error.
        max_items: see :func:`decode_json` (the batch limit of a route that takes arrays).
        max_bytes: this route's body limit, when lower than the app's ``max_body_bytes``.
    """
    limit = limits.max_body_bytes if max_bytes is None else min(limits.max_body_bytes, max_bytes)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "body_too_large", f"request body exceeds {limit} bytes", field="body")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if optional and not raw.strip():
        return None
    if not raw:
        raise ApiError(400, "invalid_body", "request body is empty: send a JSON document", field="body")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "invalid_body", f"body is not valid UTF-8 (byte {exc.start})", field="body") from exc
    del raw, chunks  # the text is all that is needed from here on
    return decode_json(text, max_items=max_items, max_values=limits.max_json_values)


def validate(adapter: TypeAdapter[Any], data: Any, context: dict[str, Any]) -> Any:
    """Validate DATA with ADAPTER; ValidationError propagates to the 422 handler."""
    return adapter.validate_python(data, context=context)


# The providers below are the only readers of ``app.state`` (tests/layout/test_app_state.py). Async
# on purpose: each is an attribute read; as sync dependencies FastAPI would send every one through
# the thread pool, a hop that cost ~15% of a single-row POST's CPU.


async def body_limits(request: Request) -> BodyLimits:
    """FastAPI dependency: the app's body limits."""
    return request.app.state.body_limits  # type: ignore[no-any-return]


async def api_metrics(request: Request) -> ApiMetrics:
    """FastAPI dependency: the app's Prometheus metrics."""
    return request.app.state.metrics  # type: ignore[no-any-return]


async def token_verifier(request: Request) -> TokenVerifier:
    """FastAPI dependency: the app's bearer-token verifier."""
    return request.app.state.verifier  # type: ignore[no-any-return]


async def principal(request: Request, verifier: Annotated[TokenVerifier, Depends(token_verifier)]) -> Principal:
    """FastAPI dependency: the caller, from the bearer token (401 when absent or invalid)."""
    return verifier.verify(request.headers.get("authorization"))


Limits = Annotated[BodyLimits, Depends(body_limits)]
Metrics = Annotated[ApiMetrics, Depends(api_metrics)]
Caller = Annotated[Principal, Depends(principal)]


def install_error_handlers(app: Any) -> None:
    """Map the project's exceptions to HTTP responses with the common error body."""

    def simple(status: int, code: str, headers: dict[str, str] | None = None) -> Any:
        async def handler(_request: Request, exc: Exception) -> JSONResponse:
            return JSONResponse(status_code=status, content=error_body(code, str(exc)), headers=headers)

        return handler

    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            status_code=exc.status, content=error_body(exc.code, exc.message, field=exc.field, index=exc.index)
        )

    async def request_validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_response(list(exc.errors()))

    async def pydantic_validation(_request: Request, exc: ValidationError) -> JSONResponse:
        return validation_response(list(exc.errors()))

    async def data_error(_request: Request, _exc: Exception) -> JSONResponse:
        # Safety net behind validation (a value the database refuses: too long, not storable).
        # The driver's message carries the SQL parameters, i.e. user text: it is not echoed.
        message = "a value was refused by the database (too long, or characters it cannot store)"
        return JSONResponse(status_code=422, content=error_body("validation_error", message, field="body"))

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(sa.exc.DataError, data_error)
    app.add_exception_handler(psycopg.DataError, data_error)
    app.add_exception_handler(RequestValidationError, request_validation)
    app.add_exception_handler(ValidationError, pydantic_validation)
    app.add_exception_handler(AuthError, simple(401, "unauthorized", {"WWW-Authenticate": "Bearer"}))
    app.add_exception_handler(ForbiddenError, simple(403, "forbidden"))
    app.add_exception_handler(NotFoundError, simple(404, "not_found"))
    app.add_exception_handler(ConflictError, simple(409, "conflict"))
    app.add_exception_handler(StoreUnavailableError, simple(503, "unavailable", {"Retry-After": "1"}))
    app.add_exception_handler(SchemaNotCurrentError, simple(503, "schema_not_current"))
    app.add_exception_handler(ArtifactError, simple(502, "artifact_error"))


class BodySizeLimit:
    """ASGI middleware answering 413 for bodies over MAX_BYTES (declared or streamed)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send)
            return
        # Chunked bodies without a length are counted where they are read (read_json).
        await self.app(scope, receive, send)

    async def _reject(self, send: Send) -> None:
        body = json.dumps(
            error_body("body_too_large", f"request body exceeds {self.max_bytes} bytes", field="body")
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

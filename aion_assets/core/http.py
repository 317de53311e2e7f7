"""HTTP plumbing shared by the APIs: error bodies, reading a JSON body, typed dependencies, size limit.

Every error response has the same JSON shape::

    {"error": "validation_error", "message": "...", "field": "input_text", "index": 3,
     "errors": [{"field": "...", "location": "[3].input_text", "message": "...", "index": 3}]}
"""

from __future__ import annotations

import json
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
    ApiError,
    ArtifactError,
    ConflictError,
    NotFoundError,
    SchemaNotCurrentError,
    StoreUnavailableError,
)
from aion_assets.core.json_limits import BodyLimits, decode_json
from aion_assets.core.telemetry import ApiMetrics


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

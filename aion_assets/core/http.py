"""HTTP plumbing shared by the APIs: error bodies, body parsing, auth dependency, size limit.

Every error response has the same JSON shape::

    {"error": "validation_error", "message": "...", "field": "input_text", "index": 3,
     "errors": [{"field": "...", "location": "[3].input_text", "message": "...", "index": 3}]}
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from aion_assets.core.auth import AuthError, ForbiddenError, Principal
from aion_assets.core.errors import (
    ArtifactError,
    ConflictError,
    NotFoundError,
    SchemaNotCurrentError,
    StoreUnavailableError,
)


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


async def read_json(request: Request, *, optional: bool = False) -> Any:
    """Read and decode the request body as strict UTF-8 JSON, or raise a 400 ApiError.

    With OPTIONAL, an empty (or all-whitespace) body gives None instead of an error.
    """
    limit: int = request.app.state.max_body_bytes
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
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(
            400, "invalid_json", f"body is not valid JSON: {exc.msg} at line {exc.lineno}", field="body"
        ) from exc


def validate(adapter: TypeAdapter[Any], data: Any, context: dict[str, Any]) -> Any:
    """Validate DATA with ADAPTER; ValidationError propagates to the 422 handler."""
    return adapter.validate_python(data, context=context)


def principal(request: Request) -> Principal:
    """FastAPI dependency: the caller, from the bearer token (401 when absent or invalid)."""
    return request.app.state.verifier.verify(request.headers.get("authorization"))  # type: ignore[no-any-return]


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

    app.add_exception_handler(ApiError, api_error)
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

"""HTTP routes of the memory store: ingestion, self-edit review, reads.

Plain FastAPI; every route is scoped to the tenant of the caller's token.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter

from aion_assets.core.auth import READ_ROLES, Principal, Role
from aion_assets.core.http import ApiError, Caller, Limits, Metrics, read_json, validate
from aion_assets.core.json_limits import BodyLimits
from aion_assets.core.telemetry import ApiMetrics
from aion_assets.memory.models import (
    IDENT_PATTERN,
    EditorType,
    EditStatus,
    Interaction,
    InteractionIn,
    ReviewIn,
    SelfEdit,
    SelfEditIn,
    SelfEditPage,
)
from aion_assets.memory.store import MemoryStore
from aion_assets.memory.store_reads import InvalidCursorError

router = APIRouter()

_one = TypeAdapter(InteractionIn)
_many = TypeAdapter(list[InteractionIn])
_edit = TypeAdapter(SelfEditIn)
_review = TypeAdapter(ReviewIn)

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Body is not UTF-8 JSON (`field` is `body`)."},
    401: {"description": "Missing, expired or forged bearer token."},
    403: {"description": "The token lacks the role, or the body names another tenant."},
    413: {"description": "Body, batch or count of JSON values over its limit (`error` names which)."},
    422: {"description": "A field is invalid; `field`, `index` and `errors` say which."},
    503: {"description": "Database unavailable; retry (the client does, with the same ids)."},
}


async def memory_store(request: Request) -> MemoryStore:
    """FastAPI dependency: the app's memory store (the one place this module reads ``app.state``)."""
    return request.app.state.memory_store  # type: ignore[no-any-return]


Store = Annotated[MemoryStore, Depends(memory_store)]


def _context(limits: BodyLimits) -> dict[str, Any]:
    return {"max_text_chars": limits.max_text_chars}


def _single_body_bytes(limits: BodyLimits) -> int:
    """Body limit of the one-object routes: two texts at the text limit, each character JSON-escaped
    to at most 6 bytes, plus 256 KiB of metadata. Only a batch needs the app's full limit."""
    return 12 * limits.max_text_chars + 256 * 1024


def _check_tenant(caller: Principal, named: str | None, index: int | None = None) -> None:
    if named is not None and named != caller.tenant_id:
        where = f"[{index}].tenant_id" if index is not None else "tenant_id"
        message = f"{where} names another tenant than the token's"
        raise ApiError(403, "forbidden", message, field="tenant_id", index=index)


def _dump(model: Any) -> Any:
    return model.model_dump(mode="json")


@router.post(
    "/interactions",
    status_code=201,
    summary="Store one interaction or a batch of up to AION_MAX_BATCH",
    description=(
        "Body: one interaction object, or a JSON array of them. A batch is all-or-nothing: one invalid "
        "item rejects the request and the error names its index and field. Items may carry their own "
        "`id`; resending an id stores nothing new and returns the row as stored (safe retry). Answers "
        "201 with the stored row (or array of rows, in input order)."
    ),
    responses={**ERRORS, 409: {"description": "An id is already used by another tenant or repeated."}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/InteractionIn"},
                            {"type": "array", "items": {"$ref": "#/components/schemas/InteractionIn"}},
                        ]
                    }
                }
            },
        }
    },
)
async def post_interactions(
    request: Request, caller: Caller, store: Store, limits: Limits, metrics: Metrics
) -> JSONResponse:
    caller.require(Role.writer)
    # 413 for more items than max_batch or more JSON values than max_json_values, whatever the
    # shape; a body that could exceed the value limit is counted before any of it is parsed.
    data = await read_json(request, limits, max_items=limits.max_batch)
    ctx = _context(limits)
    if isinstance(data, list):
        if not data:
            raise ApiError(422, "validation_error", "batch is empty", field="body")
        items = validate(_many, data, ctx)
        for index, item in enumerate(items):
            _check_tenant(caller, item.tenant_id, index)
    elif isinstance(data, dict):
        items = [validate(_one, data, ctx)]
        _check_tenant(caller, items[0].tenant_id)
    else:
        raise ApiError(422, "validation_error", "body must be an object or an array of objects", field="body")
    stored, created = await run_in_threadpool(store.add_interactions, caller.tenant_id, items)
    metrics.ingested.labels("interaction").inc(created)
    content = [_dump(r) for r in stored] if isinstance(data, list) else _dump(stored[0])
    return JSONResponse(status_code=201, content=content)


@router.get(
    "/interactions/{interaction_id}",
    response_model=Interaction,
    summary="Read one interaction of the caller's tenant (reader, writer, reviewer or admin role)",
    description="404 when it does not exist or belongs to another tenant (the two are not told apart).",
    responses=ERRORS | {404: {"description": "Not found."}},
)
def get_interaction(interaction_id: uuid.UUID, caller: Caller, store: Store) -> Interaction:
    caller.require(*READ_ROLES)
    return store.get_interaction(caller.tenant_id, interaction_id)


@router.post(
    "/self-edits",
    status_code=201,
    response_model=SelfEdit,
    summary="Record a correction of one of the tenant's interactions",
    description=(
        "The edit starts as `pending`. `original_output` defaults to the interaction's output. "
        "Resending the same `id` returns the stored edit and writes nothing."
    ),
    responses=ERRORS | {404: {"description": "interaction_id is not an interaction of this tenant."}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SelfEditIn"}}},
        }
    },
)
async def post_self_edit(
    request: Request, caller: Caller, store: Store, limits: Limits, metrics: Metrics
) -> JSONResponse:
    caller.require(Role.writer, Role.reviewer)
    edit = validate(_edit, await read_json(request, limits, max_bytes=_single_body_bytes(limits)), _context(limits))
    _check_tenant(caller, edit.tenant_id)
    stored, created = await run_in_threadpool(store.add_self_edit, caller.tenant_id, edit)
    if created:
        metrics.ingested.labels("self_edit").inc()
    return JSONResponse(status_code=201, content=_dump(stored))


async def _review_edit(
    request: Request,
    caller: Principal,
    edit_id: uuid.UUID,
    decision: EditStatus,
    *,
    store: MemoryStore,
    limits: BodyLimits,
    metrics: ApiMetrics,
) -> SelfEdit:
    caller.require(Role.reviewer)
    data = await read_json(request, limits, optional=True, max_bytes=_single_body_bytes(limits))
    review = ReviewIn() if data is None else validate(_review, data, _context(limits))
    edit = await run_in_threadpool(
        store.review_self_edit,
        caller.tenant_id,
        edit_id,
        decision,
        caller.subject,
        edited_output=review.edited_output,
        note=review.note,
    )
    metrics.reviews.labels(decision.value).inc()
    return edit


@router.post(
    "/self-edits/{edit_id}/approve",
    response_model=SelfEdit,
    summary="Approve a pending self-edit (reviewer role)",
    description="Optional body `{\"note\": ..., \"edited_output\": ...}` amends the edit while approving.",
    responses=ERRORS | {404: {"description": "Not found."}, 409: {"description": "Already rejected."}},
)
async def approve_self_edit(
    edit_id: uuid.UUID, request: Request, caller: Caller, store: Store, limits: Limits, metrics: Metrics
) -> SelfEdit:
    return await _review_edit(
        request, caller, edit_id, EditStatus.approved, store=store, limits=limits, metrics=metrics
    )


@router.post(
    "/self-edits/{edit_id}/reject",
    response_model=SelfEdit,
    summary="Reject a pending self-edit (reviewer role)",
    responses=ERRORS | {404: {"description": "Not found."}, 409: {"description": "Already approved."}},
)
async def reject_self_edit(
    edit_id: uuid.UUID, request: Request, caller: Caller, store: Store, limits: Limits, metrics: Metrics
) -> SelfEdit:
    return await _review_edit(
        request, caller, edit_id, EditStatus.rejected, store=store, limits=limits, metrics=metrics
    )


@router.get(
    "/self-edits",
    response_model=SelfEditPage,
    summary="List the tenant's self-edits, oldest first, a page at a time (reader, writer, reviewer or admin role)",
    responses=ERRORS,
)
def list_self_edits(
    caller: Caller,
    store: Store,
    status: Annotated[EditStatus | None, Query(description="Only edits in this state.")] = None,
    agent_id: Annotated[
        str | None, Query(max_length=128, pattern=IDENT_PATTERN, description="Only this agent's edits.")
    ] = None,
    editor_type: Annotated[EditorType | None, Query(description="Only edits by this kind of editor.")] = None,
    reason_code: Annotated[
        str | None,
        # No NUL: PostgreSQL cannot compare text with one (a DataError, i.e. a 500 before the safety net).
        Query(min_length=1, max_length=128, pattern=r"^[^\x00]+$", description="Only edits with this reason code."),
    ] = None,
    min_reward: Annotated[
        float | None, Query(ge=0.0, le=1.0, allow_inf_nan=False, description="Only edits rewarded at least this.")
    ] = None,
    max_reward: Annotated[
        float | None, Query(ge=0.0, le=1.0, allow_inf_nan=False, description="Only edits rewarded at most this.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size.")] = 50,
    cursor: Annotated[str | None, Query(max_length=512, description="`next_cursor` of the previous page.")] = None,
) -> SelfEditPage:
    caller.require(*READ_ROLES)
    if reason_code is not None and "\x00" in reason_code:
        raise ApiError(422, "validation_error", "reason_code contains a NUL character", field="reason_code")
    if min_reward is not None and max_reward is not None and min_reward > max_reward:
        raise ApiError(422, "validation_error", "min_reward is greater than max_reward", field="min_reward")
    try:
        return store.list_self_edits(
            caller.tenant_id,
            status=status,
            agent_id=agent_id,
            editor_type=editor_type,
            reason_code=reason_code,
            min_reward=min_reward,
            max_reward=max_reward,
            limit=limit,
            cursor=cursor,
        )
    except InvalidCursorError as exc:
        raise ApiError(422, "validation_error", str(exc), field="cursor") from exc


@router.get(
    "/self-edits/{edit_id}",
    response_model=SelfEdit,
    summary="Read one self-edit of the caller's tenant (reader, writer, reviewer or admin role)",
    description="404 when it does not exist or belongs to another tenant (the two are not told apart).",
    responses=ERRORS | {404: {"description": "Not found."}},
)
def get_self_edit(edit_id: uuid.UUID, caller: Caller, store: Store) -> SelfEdit:
    caller.require(*READ_ROLES)
    return store.get_self_edit(caller.tenant_id, edit_id)

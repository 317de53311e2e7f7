"""HTTP routes of the model registry: versions, review, routes, rollback, evaluations, deployments, audit.

Plain FastAPI; every route is scoped to the tenant of the caller's token, and errors share
the memory API's JSON shape (``aion_assets.core.http``). Each route declares what it needs as a
typed dependency (``aion_assets.registry.dependencies``: the store, the four-eyes rule, the
artifact store, the deployment webhook), which the app builds once.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import TypeAdapter

from aion_assets.core.auth import READ_ROLES, Principal, Role
from aion_assets.core.http import ApiError, Caller, Limits, read_json, validate
from aion_assets.registry.dependencies import Artifacts, DeployWebhook, FourEyes, RouteCache, Store
from aion_assets.registry.evaluation import EvaluationDetails, evaluation_details
from aion_assets.registry.lineage import model_detail
from aion_assets.registry.models import (
    AuditEntry,
    Deployment,
    DeploymentIn,
    EvaluationImport,
    EvaluationImportIn,
    ModelDetail,
    ModelStatus,
    ModelVersion,
    ModelVersionIn,
    ReviewIn,
    RollbackIn,
    Route,
    RouteIn,
)
from aion_assets.registry.route_reads import route_json

router = APIRouter()
AgentId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$", description="The agent.")]

_version_in = TypeAdapter(ModelVersionIn)
_route_in = TypeAdapter(RouteIn)
_rollback_in = TypeAdapter(RollbackIn)
_review_in = TypeAdapter(ReviewIn)
_import_in = TypeAdapter(EvaluationImportIn)
_deployment_in = TypeAdapter(DeploymentIn)
#: Bodies of the small registry writes; an evaluation summary of 200 metrics is ~20 KiB.
MAX_REGISTRY_BODY = 64 * 1024

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Body is not UTF-8 JSON (`field` is `body`)."},
    401: {"description": "Missing, expired or forged bearer token."},
    403: {"description": "The token lacks the role, or the body names another tenant."},
    422: {"description": "A field is invalid; `field` and `errors` say which."},
    503: {"description": "Database unavailable; retry."},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "Not found (or another tenant's: the two are not told apart)."}
}


def _check_tenant(caller: Principal, named: str | None) -> None:
    if named is not None and named != caller.tenant_id:
        raise ApiError(403, "forbidden", "tenant_id names another tenant than the token's", field="tenant_id")


def _dump(model: Any) -> Any:
    return model.model_dump(mode="json")


@router.get(
    "/models",
    response_model=list[ModelVersion],
    summary="List the tenant's model versions, newest first",
    responses=ERRORS,
)
def list_models(
    caller: Caller,
    store: Store,
    tenant_id: Annotated[str | None, Query(max_length=128, description="Must be the token's tenant.")] = None,
    domain: Annotated[str | None, Query(max_length=64, description="Only this domain.")] = None,
    status: Annotated[ModelStatus | None, Query(description="Only versions in this status.")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many.")] = 100,
) -> list[ModelVersion]:
    caller.require(*READ_ROLES)
    _check_tenant(caller, tenant_id)
    return store.list_versions(caller.tenant_id, domain=domain, status=status, limit=limit)


@router.get(
    "/models/{model_id}",
    response_model=ModelDetail,
    summary="Read one model version of the caller's tenant, with its metrics and lineage",
    description=(
        "`lineage` holds the parent version, the dataset version, the evaluation run id, the source edit count "
        "and the ids of the self-edits the dataset was built from, read from the dataset's manifest in the "
        "artifact store (at most `edit_ids_limit`; `source_edit_ids_total` counts them all). When those ids "
        "cannot be read, `source_edit_ids` is null and `source_edit_ids_error` "
        "says why (the rest of the answer is unaffected)."
    ),
    responses=ERRORS | NOT_FOUND,
)
def get_model(
    model_id: uuid.UUID,
    caller: Caller,
    store: Store,
    artifacts: Artifacts,
    edit_ids_limit: Annotated[
        int, Query(ge=0, le=1_000_000, description="List at most this many source self-edit ids.")
    ] = 10_000,
) -> ModelDetail:
    caller.require(*READ_ROLES)
    version = store.get_version(caller.tenant_id, model_id)
    return model_detail(store, artifacts, caller.tenant_id, version, max_edit_ids=edit_ids_limit)


@router.get(
    "/models/{model_id}/evaluation",
    response_model=EvaluationDetails,
    summary="Scenario outcomes and the answers where the version and its baseline differ most",
    description=(
        "Read from the version's evaluation report in the artifact store: every scenario prompt with whether "
        "the baseline and the candidate passed it, and the `top` held-out examples ranked by the difference of "
        "`metric` (per example) between candidate and baseline, with both answers and the reference. When the "
        "report cannot be read, `error` says why and the lists are empty."
    ),
    responses=ERRORS | NOT_FOUND,
)
def get_model_evaluation(
    model_id: uuid.UUID,
    caller: Caller,
    store: Store,
    artifacts: Artifacts,
    top: Annotated[int, Query(ge=1, le=50, description="How many differing examples to return.")] = 5,
    metric: Annotated[
        str, Query(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="Per-example metric to rank by.")
    ] = "rougeL_body",
) -> EvaluationDetails:
    caller.require(*READ_ROLES)
    version = store.get_version(caller.tenant_id, model_id)
    return evaluation_details(artifacts, version, metric=metric, top=top)


@router.post(
    "/models",
    status_code=201,
    response_model=ModelVersion,
    summary="Register a model version (admin); content-addressed by its manifest hash",
    description=(
        "The name (`<base>+seal-<tenant>-<domain>@YYYY.MM.DD[.N]`) is chosen by the registry. Registering a "
        "manifest hash already registered answers 200 with the stored version and changes nothing. With the "
        "four-eyes rule on (the default) a version cannot be registered as `promoted` here (403): register it "
        "as `pending_approval` and have another reviewer approve it."
    ),
    responses=ERRORS | {200: {"description": "This manifest was already registered."},
                        404: {"description": "parent_id is not a version of this tenant."}},
)
async def post_model(
    request: Request, caller: Caller, store: Store, limits: Limits, four_eyes: FourEyes
) -> JSONResponse:
    caller.require(Role.admin)
    item = validate(_version_in, await read_json(request, limits), {})
    _check_tenant(caller, item.tenant_id)
    if item.status is ModelStatus.promoted and four_eyes:
        # Otherwise one admin could promote alone what approve would refuse them (four-eyes).
        raise ApiError(
            403, "forbidden", "four-eyes rule: register as pending_approval and have another reviewer approve",
            field="status",
        )
    version, created = await run_in_threadpool(
        store.register_version, caller.tenant_id, item, caller.subject
    )
    return JSONResponse(status_code=201 if created else 200, content=_dump(version))


def _review_route(action: str, target: ModelStatus, *, summary: str, description: str, conflict: str) -> None:
    """Add ``POST /models/{model_id}/<ACTION>``: a reviewer's decision that moves a version to TARGET."""

    async def review(
        model_id: uuid.UUID, request: Request, caller: Caller, store: Store, limits: Limits, four_eyes: FourEyes
    ) -> ModelVersion:
        caller.require(Role.reviewer)
        data = await read_json(request, limits, optional=True)
        body = ReviewIn() if data is None else validate(_review_in, data, {})
        return await run_in_threadpool(
            store.transition,
            caller.tenant_id,
            model_id,
            target,
            caller.subject,
            reason=body.reason,
            # Both decisions: the principal that registered a version or asked for its approval never
            # decides on it, so the audit log always shows two people (another reviewer can reject).
            four_eyes=four_eyes,
        )

    review.__name__ = review.__qualname__ = f"{action}_model"  # the OpenAPI operation id's stem
    router.add_api_route(
        f"/models/{{model_id}}/{action}",
        review,
        methods=["POST"],
        response_model=ModelVersion,
        summary=summary,
        description=description,
        responses=ERRORS | NOT_FOUND | {409: {"description": conflict}},
    )


_review_route(
    "approve",
    ModelStatus.promoted,
    summary="Approve a version waiting for approval: it becomes promoted (reviewer)",
    description=(
        "Four-eyes (AION_REGISTRY_FOUR_EYES, on by default): the principal that registered the version or asked "
        "for its approval cannot approve it (403). Approving a promoted version again is a no-op. Optional body "
        "`{\"reason\": ...}`."
    ),
    conflict="Not in a status that can be promoted.",
)
_review_route(
    "reject",
    ModelStatus.rejected,
    summary="Reject a candidate or a version waiting for approval (reviewer)",
    description=(
        "Four-eyes (AION_REGISTRY_FOUR_EYES, on by default) applies as for approve: the principal that registered "
        "the version or asked for its approval cannot reject it (403). Optional body `{\"reason\": ...}`."
    ),
    conflict="Not in a status that can be rejected.",
)


@router.post(
    "/routes",
    response_model=Route,
    summary="Create or replace an agent's route (admin), naming the route version it replaces",
    description=(
        "`expected_version` is the version the write replaces (0 creates the route). When another write came "
        "first the answer is 409 and nothing changes: read the route and retry."
    ),
    responses=ERRORS | {404: {"description": "A named model is not a version of this tenant."},
                        409: {"description": "Stale expected_version, or a named model is not promoted."}},
)
async def post_route(request: Request, caller: Caller, store: Store, limits: Limits, cache: RouteCache) -> Route:
    caller.require(Role.admin)
    route = validate(_route_in, await read_json(request, limits), {})
    _check_tenant(caller, route.tenant_id)
    try:
        return await run_in_threadpool(store.set_route, caller.tenant_id, route, caller.subject)
    finally:
        if cache is not None:  # this worker reads its own write at once (others when NOTIFY arrives)
            cache.forget(caller.tenant_id, route.agent_id)


@router.get(
    "/routes",
    response_model=list[Route],
    summary="Every route of the caller's tenant (what a gateway's RouteClient caches)",
    responses=ERRORS,
)
def list_routes(caller: Caller, store: Store) -> list[Route]:
    caller.require(*READ_ROLES)
    return store.list_routes(caller.tenant_id)


@router.get(
    "/routes/{agent_id}",
    response_model=Route,
    summary="Read an agent's route",
    description=(
        "On PostgreSQL, answered from the worker's route read cache (AION_ROUTE_READ_CACHE): this worker reads "
        "its own writes at once; another worker may return the previous version until PostgreSQL's notification "
        "of the change arrives, milliseconds after the commit (`version` says which)."
    ),
    responses=ERRORS | NOT_FOUND,
)
async def get_route(agent_id: AgentId, caller: Caller, store: Store, cache: RouteCache) -> Response:
    caller.require(*READ_ROLES)
    # A gateway's hot path: the route's JSON is written out as read (from the worker's cache when on),
    # not validated against the response model again in a second thread-pool hop.
    return Response(await route_json(cache, store, caller.tenant_id, agent_id), media_type="application/json")


@router.post(
    "/routes/{agent_id}/rollback",
    response_model=Route,
    summary="Put the route's fallback back as its default (admin or reviewer)",
    description=(
        "The version the route leaves is marked retired (unless another route still uses it), with an audit "
        "entry. When a deployment webhook is configured (AION_DEPLOY_WEBHOOK_URL), its trigger for the new route "
        "version (`event` `route.changed`, `cause.action` `rollback`) is queued in the webhook outbox in the same "
        "transaction and delivered, signed, by the outbox sensor. "
        "Optional body `{\"expected_version\": n, \"reason\": ...}`."
    ),
    responses=ERRORS | NOT_FOUND | {409: {"description": "No fallback, or the route is not at expected_version."}},
)
async def rollback_route(
    agent_id: AgentId, request: Request, caller: Caller, store: Store, limits: Limits, webhook_url: DeployWebhook,
    cache: RouteCache,
) -> Route:
    caller.require(Role.admin, Role.reviewer)
    data = await read_json(request, limits, optional=True)
    body = RollbackIn() if data is None else validate(_rollback_in, data, {})
    try:
        return await run_in_threadpool(
            store.rollback_route,
            caller.tenant_id,
            agent_id,
            caller.subject,
            expected_version=body.expected_version,
            reason=body.reason,
            # Queued in the rollback's transaction; the webhook outbox sensor delivers it, signed.
            deploy_webhook_url=webhook_url,
        )
    finally:
        if cache is not None:
            cache.forget(caller.tenant_id, agent_id)


@router.post(
    "/evaluations/import",
    status_code=201,
    response_model=EvaluationImport,
    summary="Import an evaluation summary computed outside the pipeline (admin or reviewer)",
    description=(
        "The metrics are stored on the version as `<source>/<name>` and never replace a stored metric (409). "
        "`import_id` (chosen by the client) makes the call idempotent: the same summary again answers 200 with "
        "the stored import; another summary under a used `import_id` answers 409. Values must be finite; at most "
        "200 metrics; body at most 64 KiB."
    ),
    responses=ERRORS | {200: {"description": "This import_id was already imported with this summary."},
                        404: {"description": "model_id is not a version of this tenant."},
                        409: {"description": "import_id reused for another summary, or a metric already stored."},
                        413: {"description": "Body over 64 KiB."}},
)
async def import_evaluation(request: Request, caller: Caller, store: Store, limits: Limits) -> JSONResponse:
    caller.require(Role.admin, Role.reviewer)
    item = validate(_import_in, await read_json(request, limits, max_bytes=MAX_REGISTRY_BODY), {})
    _check_tenant(caller, item.tenant_id)
    stored, created = await run_in_threadpool(
        store.import_evaluation, caller.tenant_id, item, caller.subject
    )
    return JSONResponse(status_code=201 if created else 200, content=_dump(stored))


@router.post(
    "/deployments",
    response_model=Deployment,
    summary="Create or replace the deployment of a version in an environment (admin)",
    description=(
        "Replicas (`replica_count` > 0) only for a candidate, pending or promoted version; a retired or rejected "
        "one can only be scaled to 0 (409). With `autoscale`, `replica_count` must lie within its bounds. "
        "Every change is audited (`deployment.set`); a write that changes nothing is not."
    ),
    responses=ERRORS | {404: {"description": "model_id is not a version of this tenant."},
                        409: {"description": "Replicas asked for a retired or rejected version."}},
)
async def post_deployment(request: Request, caller: Caller, store: Store, limits: Limits) -> Deployment:
    caller.require(Role.admin)
    item = validate(_deployment_in, await read_json(request, limits, max_bytes=MAX_REGISTRY_BODY), {})
    _check_tenant(caller, item.tenant_id)
    return await run_in_threadpool(store.set_deployment, caller.tenant_id, item, caller.subject)


@router.get(
    "/deployments",
    response_model=list[Deployment],
    summary="The tenant's deployments, optionally of one version and/or environment",
    responses=ERRORS,
)
def list_deployments(
    caller: Caller,
    store: Store,
    model_id: Annotated[uuid.UUID | None, Query(description="Only this version's deployments.")] = None,
    environment: Annotated[
        str | None, Query(pattern=r"^[a-z][a-z0-9-]{0,63}$", description="Only this environment.")
    ] = None,
) -> list[Deployment]:
    caller.require(*READ_ROLES)
    return store.list_deployments(caller.tenant_id, model_id=model_id, environment=environment)


@router.get(
    "/audit",
    response_model=list[AuditEntry],
    summary="The tenant's registry audit log, newest first (admin)",
    responses=ERRORS,
)
def list_audit(
    caller: Caller,
    store: Store,
    action: Annotated[str | None, Query(max_length=64, description="e.g. route.rollback")] = None,
    subject: Annotated[str | None, Query(max_length=512, description="e.g. route:support-bot")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntry]:
    caller.require(Role.admin)
    return store.list_audit(caller.tenant_id, action=action, subject=subject, limit=limit)

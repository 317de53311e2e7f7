"""The HTTP service: one FastAPI app that mounts each domain's routes.

``create_app`` takes everything it needs as arguments; ``app_from_settings`` builds those
from the settings object (the `aion api` command uses it).
"""

from __future__ import annotations

import contextlib
import hmac
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import TypeAdapter
from sqlalchemy.engine import Engine

from aion_assets.core.artifacts import ArtifactStore, artifact_store_from_uri
from aion_assets.core.auth import TokenVerifier
from aion_assets.core.errors import AionError, SchemaNotCurrentError
from aion_assets.core.http import BodySizeLimit, error_body, install_error_handlers
from aion_assets.core.json_limits import MAX_JSON_VALUES, BodyLimits
from aion_assets.core.migrate import check_app_role, check_current
from aion_assets.core.settings import Settings
from aion_assets.core.telemetry import ApiMetrics, setup_tracing
from aion_assets.memory import api as memory_api
from aion_assets.memory.models import InteractionIn, SelfEditIn
from aion_assets.memory.store import MemoryStore
from aion_assets.registry import api as registry_api
from aion_assets.registry.route_reads import RouteReads
from aion_assets.registry.sql_store import SqlRegistryStore
from aion_assets.seal.datasets import api as datasets_api

log = logging.getLogger(__name__)
VERSION = "0.1.0"


def create_app(
    engine: Engine,
    verifier: TokenVerifier,
    *,
    max_body_bytes: int = 16 * 2**20,
    max_text_chars: int = 32_000,
    max_batch: int = 1000,
    max_json_values: int = MAX_JSON_VALUES,
    otel_exporter: str | None = None,
    check_schema: bool = True,
    metrics_token: str | None = None,
    allow_rls_bypass: bool = False,
    registry_four_eyes: bool = True,
    artifact_store: ArtifactStore | None = None,
    deploy_webhook_url: str | None = None,
    route_read_cache: bool = False,
    route_read_cache_max_routes: int = 200_000,
) -> FastAPI:
    """Build the API app over ENGINE (connected as the application role).

    Args:
        max_body_bytes, max_text_chars, max_batch, max_json_values: the body limits
            (``aion_assets.core.json_limits.BodyLimits``).
        check_schema: refuse to start (raise SchemaNotCurrentError) when the database is
            not migrated to the code's revision, or (ConfigError) when ENGINE's role escapes
            row-level security (superuser, BYPASSRLS, table owner) and ALLOW_RLS_BYPASS is false.
        allow_rls_bypass: start anyway as such a role, with a warning (AION_ALLOW_RLS_BYPASS).
        metrics_token: when set, ``GET /metrics`` answers 401 unless called with
            ``Authorization: Bearer <metrics_token>``.
        registry_four_eyes: the registry's four-eyes rule (AION_REGISTRY_FOUR_EYES): who registered
            a version or asked for its approval cannot approve it, and no version is registered as
            promoted through the API.
        artifact_store: where the registry reads dataset manifests for a version's lineage
            (None: the lineage says the self-edit ids are unavailable).
        deploy_webhook_url: where a rollback through the API queues its deployment trigger
            (AION_DEPLOY_WEBHOOK_URL; None: no trigger is queued).
        route_read_cache: answer ``GET /routes/{agent_id}`` from the worker's route read cache
            (``aion_assets.registry.route_reads``; PostgreSQL only, ignored on SQLite;
            AION_ROUTE_READ_CACHE, on in ``app_from_settings``).
        route_read_cache_max_routes: the most routes that cache holds.

    Returns:
        The FastAPI app.
    """

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if check_schema:
            check_current(engine)
            warning = check_app_role(engine, allow_bypass=allow_rls_bypass)
            if warning:
                log.warning(warning)
        if route_reads is not None:
            await run_in_threadpool(route_reads.start)
        try:
            yield
        finally:
            if route_reads is not None:
                await run_in_threadpool(route_reads.stop)
            engine.dispose()

    app = FastAPI(
        title="AION SEAL memory and registry API",
        version=VERSION,
        description=(
            "Capture agent interactions and their corrections (self-edits), review them, and export "
            "curated training data. Every call needs `Authorization: Bearer <JWT>` whose `tenant_id` "
            "claim scopes all reads and writes. Errors share one JSON shape: `error`, `message`, "
            "and for bad input `field` (and `index` within a batch)."
        ),
        lifespan=lifespan,
    )
    # Wired once here; routes receive these through the typed providers in core.http,
    # memory.api and registry.api (the only readers of app.state, tests/layout/test_app_state.py).
    app.state.memory_store = MemoryStore(engine)
    app.state.registry_store = registry_store = SqlRegistryStore(engine)
    route_reads = (
        RouteReads(registry_store, engine, max_routes=route_read_cache_max_routes)
        if route_read_cache and engine.dialect.name == "postgresql"
        else None
    )
    app.state.route_reads = route_reads
    app.state.engine = engine
    app.state.verifier = verifier
    app.state.body_limits = BodyLimits(
        max_body_bytes=max_body_bytes,
        max_text_chars=max_text_chars,
        max_batch=max_batch,
        max_json_values=max_json_values,
    )
    app.state.metrics = metrics = ApiMetrics()
    app.state.registry_four_eyes = registry_four_eyes
    app.state.artifact_store = artifact_store
    app.state.deploy_webhook_url = deploy_webhook_url
    install_error_handlers(app)
    app.include_router(memory_api.router, tags=["memory"])
    app.include_router(datasets_api.router, tags=["datasets"])
    app.include_router(registry_api.router, tags=["registry"])

    @app.get("/healthz", tags=["ops"], summary="Database reachable and migrations current (503 if not)")
    def healthz() -> JSONResponse:
        # Unauthenticated: the body gives a fixed reason; host, port, path and role go to the log only.
        try:
            check_current(engine)
        except SchemaNotCurrentError as exc:
            log.warning("health check failed: %s", exc)
            return JSONResponse(status_code=503, content={"status": "unavailable", "reason": "schema not current"})
        except AionError as exc:
            log.warning("health check failed: %s", exc.__cause__ or exc)
            return JSONResponse(status_code=503, content={"status": "unavailable", "reason": "database unavailable"})
        return JSONResponse(content={"status": "ok"})

    @app.get(
        "/metrics",
        tags=["ops"],
        summary="Prometheus metrics (needs `Bearer AION_METRICS_TOKEN` when that is set)",
        include_in_schema=True,
    )
    def prometheus(request: Request) -> Response:
        if metrics_token is not None:
            scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), metrics_token.encode()):
                return JSONResponse(
                    status_code=401,
                    content=error_body("unauthorized", "metrics need 'Authorization: Bearer <AION_METRICS_TOKEN>'"),
                    headers={"WWW-Authenticate": "Bearer"},
                )
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (InteractionIn, SelfEditIn):
                defs = TypeAdapter(model).json_schema(ref_template="#/components/schemas/{model}")
                components.update(defs.pop("$defs", {}))
                components[model.__name__] = defs
            schema["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
            schema["security"] = [{"bearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    app.add_middleware(_MetricsMiddleware, metrics=metrics)
    setup_tracing(app, otel_exporter)
    return app


class _MetricsMiddleware:
    """Adapter so Starlette's add_middleware can install ApiMetrics.asgi (outermost: sees every status)."""

    def __init__(self, app: Any, metrics: ApiMetrics) -> None:
        self._app = metrics.asgi(app)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._app(scope, receive, send)


def app_from_settings(settings: Settings) -> FastAPI:
    """Build the API app from SETTINGS (engine, verifier, limits).

    Raises:
        ConfigError: the JWT settings disagree (see ``Settings.token_verifier``).
    """
    from aion_assets.core.db import make_engine

    # The verifier first: a token configuration that is refused leaves no engine (or secret file) behind.
    verifier = settings.token_verifier()
    if "RS256" in verifier.algorithms and not settings.jwt_audience:
        log.warning(
            "RS256 tokens are accepted without an audience check: set AION_JWT_AUDIENCE so tokens the same "
            "issuer signs for other services are refused"
        )
    engine = make_engine(settings.db_url, pool_size=settings.db_pool_size)
    metrics_token = settings.metrics_token.get_secret_value() if settings.metrics_token is not None else None
    return create_app(
        engine,
        verifier,
        max_body_bytes=settings.max_body_bytes,
        max_text_chars=settings.max_text_chars,
        max_batch=settings.max_batch,
        max_json_values=settings.max_json_values,
        otel_exporter=settings.otel_exporter,
        metrics_token=metrics_token,
        allow_rls_bypass=settings.allow_rls_bypass,
        registry_four_eyes=settings.registry_four_eyes,
        deploy_webhook_url=settings.deploy_webhook_url,
        route_read_cache=settings.route_read_cache,
        route_read_cache_max_routes=settings.route_read_cache_max_routes,
        # Nothing is contacted here: an S3 store connects on first read.
        artifact_store=artifact_store_from_uri(
            settings.artifacts,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            sse_kms_key_id=settings.s3_sse_kms_key_id,
        ),
    )

"""Typed FastAPI dependencies of the registry routes (built once by ``aion_assets.app``), read from app.state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from aion_assets.core.artifacts import ArtifactStore
from aion_assets.registry.route_reads import RouteReads
from aion_assets.registry.store import RegistryStore

# Async: attribute reads only (a sync dependency would cost a thread-pool hop per request).


async def registry_store(request: Request) -> RegistryStore:
    """FastAPI dependency: the app's registry store."""
    return request.app.state.registry_store  # type: ignore[no-any-return]


async def four_eyes_rule(request: Request) -> bool:
    """FastAPI dependency: whether the four-eyes rule applies (AION_REGISTRY_FOUR_EYES; on unless turned off)."""
    return bool(getattr(request.app.state, "registry_four_eyes", True))


async def artifact_store(request: Request) -> ArtifactStore | None:
    """FastAPI dependency: the app's artifact store (where lineage reads dataset manifests), or None."""
    return getattr(request.app.state, "artifact_store", None)


async def deploy_webhook_url(request: Request) -> str | None:
    """FastAPI dependency: where a rollback queues its deployment trigger, or None."""
    return getattr(request.app.state, "deploy_webhook_url", None)


async def route_reads(request: Request) -> RouteReads | None:
    """FastAPI dependency: the worker's route read cache (PostgreSQL with AION_ROUTE_READ_CACHE), or None."""
    return getattr(request.app.state, "route_reads", None)


Store = Annotated[RegistryStore, Depends(registry_store)]
FourEyes = Annotated[bool, Depends(four_eyes_rule)]
Artifacts = Annotated[ArtifactStore | None, Depends(artifact_store)]
DeployWebhook = Annotated[str | None, Depends(deploy_webhook_url)]
RouteCache = Annotated[RouteReads | None, Depends(route_reads)]

"""Typed HTTP client of the model registry API (versions, review, routes, rollback, audit).

The retry rules are the memory client's, from one place (``aion_assets.core.http_client``): connection
errors and 500/502/503/504 are retried with jittered exponential backoff within a total budget; a
4xx is the caller's mistake and is never retried. Every write sent here is safe to repeat: approving
a promoted version or rejecting a rejected one is a no-op, and a rollback names the route version it
replaces (``expected_version``), so a repeat after a lost answer is refused (409), never applied twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter

from aion_assets.core.http_client import RETRY_STATUSES, ApiClientError, RetryingHttpClient, RetryPolicy
from aion_assets.registry.evaluation import EvaluationDetails
from aion_assets.registry.models import AuditEntry, ModelDetail, ModelStatus, ModelVersion, Route

__all__ = ["RETRY_STATUSES", "RegistryApiError", "RegistryClient"]
_versions = TypeAdapter(list[ModelVersion])
_routes = TypeAdapter(list[Route])
_audit = TypeAdapter(list[AuditEntry])


class RegistryApiError(ApiClientError):
    """The registry API refused the request (4xx), or kept failing after every retry.

    Attributes (from :class:`~aion_assets.core.http_client.ApiClientError`):
        status: HTTP status (None when the server was never reached).
        body: the decoded JSON error body, when there was one.
        attempts: how many requests were sent (1 for a 4xx: those are never retried).
        field: the invalid field the server named, if any.
        message: the server's message (or this error's text when the body had none).
    """


class RegistryClient:
    """Client of the registry API, scoped (like every call) to the tenant of its token.

    Args:
        base_url: e.g. ``http://127.0.0.1:8080``.
        token: a bearer JWT of one tenant.
        max_retries: attempts after the first on connection errors and 500/502/503/504.
        backoff: first delay in seconds; doubles each attempt, with jitter (x0.5 to x1.5).
        max_delay: cap of one delay, in seconds.
        max_total_delay: cap of all delays of one call, in seconds.
        timeout: per-request timeout in seconds.
        transport: optional httpx transport.

    Raises:
        ValueError: a negative or infinite retry setting.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        max_retries: int = 5,
        backoff: float = 0.2,
        max_delay: float = 10.0,
        max_total_delay: float = 60.0,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = RetryingHttpClient(
            base_url,
            headers={"Authorization": f"Bearer {token}"},
            policy=RetryPolicy(max_retries, backoff, max_delay, max_total_delay),
            timeout=timeout,
            transport=transport,
            error=RegistryApiError,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self._http.request(method, path, **kwargs)

    # -- versions ------------------------------------------------------------------------

    def list_models(
        self, *, domain: str | None = None, status: ModelStatus | str | None = None, limit: int = 100
    ) -> list[ModelVersion]:
        """The tenant's versions, newest first (at most LIMIT, up to 500), optionally of one domain/status."""
        params = {"domain": domain, "status": ModelStatus(status).value if status else None, "limit": limit}
        response = self._request("GET", "/models", params={k: v for k, v in params.items() if v is not None})
        return _versions.validate_python(response.json())

    def get_model(self, model_id: uuid.UUID | str, *, edit_ids_limit: int | None = None) -> ModelDetail:
        """One version with its metrics and lineage (RegistryApiError 404 when absent or another tenant's)."""
        params = {} if edit_ids_limit is None else {"edit_ids_limit": edit_ids_limit}
        return ModelDetail.model_validate(self._request("GET", f"/models/{model_id}", params=params).json())

    def get_evaluation(self, model_id: uuid.UUID | str, *, top: int = 5) -> EvaluationDetails:
        """Scenario outcomes and the TOP answers where the version and its baseline differ most."""
        response = self._request("GET", f"/models/{model_id}/evaluation", params={"top": top})
        return EvaluationDetails.model_validate(response.json())

    def register_model(self, version: Mapping[str, Any]) -> ModelVersion:
        """Register a version (admin); registering a known manifest returns the stored version."""
        return ModelVersion.model_validate(self._request("POST", "/models", json=dict(version)).json())

    def approve(self, model_id: uuid.UUID | str, *, reason: str | None = None) -> ModelVersion:
        """Approve a version waiting for approval (reviewer; the four-eyes rule may refuse with 403)."""
        return self._decide(model_id, "approve", reason)

    def reject(self, model_id: uuid.UUID | str, *, reason: str | None = None) -> ModelVersion:
        """Reject a candidate or a version waiting for approval (reviewer; four-eyes as for approve)."""
        return self._decide(model_id, "reject", reason)

    def _decide(self, model_id: uuid.UUID | str, verb: str, reason: str | None) -> ModelVersion:
        body = {"reason": reason} if reason else None
        return ModelVersion.model_validate(self._request("POST", f"/models/{model_id}/{verb}", json=body).json())

    # -- routes --------------------------------------------------------------------------

    def list_routes(self) -> list[Route]:
        """Every route of the tenant, by agent id."""
        return _routes.validate_python(self._request("GET", "/routes").json())

    def get_route(self, agent_id: str) -> Route:
        """An agent's route (RegistryApiError 404 when there is none)."""
        return Route.model_validate(self._request("GET", f"/routes/{_segment(agent_id)}").json())

    def set_route(self, route: Mapping[str, Any]) -> Route:
        """Create or replace a route (admin), naming the route version it replaces (``expected_version``)."""
        return Route.model_validate(self._request("POST", "/routes", json=_jsonable(route)).json())

    def rollback(self, agent_id: str, *, expected_version: int | None = None, reason: str | None = None) -> Route:
        """Put the route's fallback back as its default (reviewer or admin).

        Raises:
            RegistryApiError: 409 when the route has no fallback or is no longer at EXPECTED_VERSION.
        """
        body = {k: v for k, v in {"expected_version": expected_version, "reason": reason}.items() if v is not None}
        response = self._request("POST", f"/routes/{_segment(agent_id)}/rollback", json=body or None)
        return Route.model_validate(response.json())

    # -- audit ---------------------------------------------------------------------------

    def list_audit(
        self, *, action: str | None = None, subject: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """The tenant's audit entries, newest first (admin), optionally of one action and/or subject."""
        params = {"action": action, "subject": subject, "limit": limit}
        response = self._request("GET", "/audit", params={k: v for k, v in params.items() if v is not None})
        return _audit.validate_python(response.json())


def _segment(agent_id: str) -> str:
    # An id with "/" or ".." must stay one path segment: the API then refuses it by its pattern (422).
    return quote(agent_id, safe="")


def _jsonable(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, uuid.UUID) else v for k, v in item.items()}


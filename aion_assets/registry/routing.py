"""What the gateways' routing client (``registry.client.RouteClient``) answers, and how it reads a route.

The types a gateway sees (:class:`ResolvedRoute`, :class:`RouteClientStats`, the errors) and the
checks every route row passes, whether it came from ``GET /routes`` or from the persisted file
(``registry.route_cache``): a row of another tenant than its token's, or without the fields
``resolve`` needs, is refused as a whole table, never half installed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt


class RouteClientError(Exception):
    """Base class of the routing client's errors."""


class UnknownRouteError(RouteClientError, LookupError):
    """No route for (tenant, agent) in the table and no default model configured."""


@dataclass(frozen=True)
class ResolvedRoute:
    """What a gateway needs to serve one request.

    ``model_id`` is None (and ``from_default`` True) when the agent has no route and the
    client's configured default model answered instead.
    """

    tenant_id: str
    agent_id: str
    model_name: str
    model_id: str | None
    adapter_uri: str | None
    fallback_model_name: str | None
    fallback_adapter_uri: str | None
    version: int
    from_default: bool = False


@dataclass(frozen=True)
class RouteClientStats:
    """A snapshot of a client's state (``RouteClient.stats()``); times are Unix epoch seconds."""

    routes: int
    tenants: int
    tenants_with_table: int
    age_seconds: float
    tenant_age_seconds: dict[str, float]
    refresh_interval: float
    refreshes: int
    refresh_failures: int
    refreshing: bool
    last_refresh_at: float | None
    last_success_at: float | None
    last_error: str | None
    loaded_from_disk: bool


def tenant_of(token: str) -> str:
    """The tenant a token is for (read without verifying: the registry verifies it).

    Raises:
        ValueError: not a JWT, or no ``tenant_id`` claim.
    """
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise ValueError(f"token is not a JWT: {exc}") from exc
    tenant = claims.get("tenant_id")
    if not isinstance(tenant, str) or not tenant:
        raise ValueError("token has no tenant_id claim")
    return tenant


def resolved(row: Mapping[str, Any]) -> ResolvedRoute:
    """The ResolvedRoute of a route row as ``GET /routes`` sends it.

    Raises:
        KeyError, ValueError, TypeError: a field ``resolve`` needs is missing or malformed.
    """
    return ResolvedRoute(
        tenant_id=str(row["tenant_id"]),
        agent_id=str(row["agent_id"]),
        model_name=str(row["default_model_name"]),
        model_id=str(row["default_model_id"]),
        adapter_uri=row.get("default_adapter_uri"),
        fallback_model_name=row.get("fallback_model_name"),
        fallback_adapter_uri=row.get("fallback_adapter_uri"),
        version=int(row["version"]),
    )


def checked(row: Any, tenant: str) -> dict[str, Any]:
    """ROW if it is a route of TENANT with the fields resolve() needs; ValueError otherwise.

    Raises:
        ValueError: not an object, or another tenant's route; KeyError/TypeError as :func:`resolved`.
    """
    if not isinstance(row, dict):
        raise ValueError("a route is not a JSON object")
    if row.get("tenant_id") != tenant:
        raise ValueError(f"a route of tenant {row.get('tenant_id')!r} came with the token of {tenant!r}")
    resolved(row)  # raises KeyError/ValueError/TypeError on a malformed row
    return row

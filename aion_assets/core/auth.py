"""JWT bearer authentication: who the caller is, which tenant, which roles.

Tokens carry ``tenant_id``, ``roles`` (writer, reviewer, admin), ``exp`` and ``sub``.
HS256 with AION_JWT_SECRET by default; RS256 with a configured public key as an option.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

import jwt

from aion_assets.core.errors import AionError

LEEWAY_SECONDS = 10


class Role(StrEnum):
    """What a token allows."""

    writer = "writer"
    reviewer = "reviewer"
    admin = "admin"


class AuthError(AionError):
    """The token is missing, expired, forged or malformed (HTTP 401)."""


class ForbiddenError(AionError):
    """The token is valid but lacks the role the operation needs (HTTP 403)."""


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    subject: str
    tenant_id: str
    roles: frozenset[Role]

    def require(self, *roles: Role) -> None:
        """Raise ForbiddenError unless the caller has one of ROLES (admin has all)."""
        if Role.admin in self.roles or any(r in self.roles for r in roles):
            return
        needed = " or ".join(r.value for r in roles)
        raise ForbiddenError(f"this operation needs the {needed} role")


def mint_token(
    secret: str,
    *,
    tenant_id: str,
    roles: list[str],
    ttl_seconds: int = 3600,
    subject: str | None = None,
    algorithm: str = "HS256",
) -> str:
    """Sign a token for TENANT_ID with ROLES valid for TTL_SECONDS.

    Raises:
        ValueError: an unknown role or a non-positive TTL.
    """
    unknown = [r for r in roles if r not in Role.__members__]
    if unknown:
        raise ValueError(f"unknown role(s) {', '.join(unknown)}: use writer, reviewer or admin")
    if ttl_seconds <= 0:
        raise ValueError("ttl must be positive")
    now = int(time.time())
    claims = {
        "sub": subject or f"dev@{tenant_id}",
        "tenant_id": tenant_id,
        "roles": sorted(set(roles)),
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm=algorithm)


class TokenVerifier:
    """Verifies bearer tokens against the configured keys.

    Args:
        hs_secret: the HS256 secret (None disables HS256).
        rs_public_key: a PEM public key enabling RS256 (None disables RS256).
    """

    def __init__(self, hs_secret: str | None, rs_public_key: str | None = None) -> None:
        if not hs_secret and not rs_public_key:
            raise ValueError("configure a JWT secret or an RS256 public key")
        self._hs = hs_secret
        self._rs = rs_public_key

    def verify(self, authorization: str | None) -> Principal:
        """Return the caller named by an ``Authorization: Bearer ...`` header value."""
        if not authorization:
            raise AuthError("missing bearer token")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("authorization header must be 'Bearer <token>'")
        token = token.strip()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError("malformed token") from exc
        alg = header.get("alg")
        if alg == "HS256" and self._hs:
            key: str = self._hs
        elif alg == "RS256" and self._rs:
            key = self._rs
        else:
            raise AuthError(f"token algorithm {alg!r} is not accepted")
        try:
            claims = jwt.decode(
                token, key, algorithms=[alg], leeway=LEEWAY_SECONDS, options={"require": ["exp", "tenant_id"]}
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token expired") from exc
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        tenant = claims.get("tenant_id")
        roles = claims.get("roles", [])
        if not isinstance(tenant, str) or not tenant:
            raise AuthError("token has no tenant_id claim")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise AuthError("token roles claim must be a list of strings")
        known = frozenset(Role(r) for r in roles if r in Role.__members__)
        return Principal(subject=str(claims.get("sub") or "unknown"), tenant_id=tenant, roles=known)

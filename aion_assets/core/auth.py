"""JWT bearer authentication: who the caller is, which tenant, which roles.

Tokens carry ``tenant_id``, ``roles`` (reader, writer, reviewer, admin), ``exp``, ``iat`` and
``sub``. Which algorithms are accepted is configuration (AION_JWT_ALGORITHMS): HS256 with a
shared secret (the embedded default) and/or RS256 with an external issuer's public key. An
algorithm that is not configured is refused whatever key signed the token. ``iss`` and ``aud``
are checked when configured, and a token may not live longer than a configured maximum.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import jwt

from aion_assets.core.errors import AionError, ConfigError

LEEWAY_SECONDS = 10
#: The algorithms a deployment may enable, with the kind of key each needs.
SUPPORTED_ALGORITHMS = ("HS256", "RS256")
#: RFC 7518 section 3.2: an HS256 key must be at least as long as the hash output (256 bits).
MIN_HS_SECRET_BYTES = 32
#: Default cap on ``exp - iat``; longer-lived tokens cannot be revoked in practice.
DEFAULT_MAX_TTL_SECONDS = 24 * 3600
#: Tenant ids: the same rule as the memory models' ``Ident`` (duplicated: core imports nothing of ours).
TENANT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$"
TENANT_ID_RULE = "letters, digits and _.:@/- starting with a letter or digit, at most 128 characters"
MAX_SUBJECT_CHARS = 256
#: Longer headers are refused before any decoding (an honest token is well under 2 KiB).
MAX_TOKEN_CHARS = 8192
#: Verified tokens a verifier remembers (least recently used dropped first); see ``TokenVerifier``.
TOKEN_CACHE_SIZE = 1024
_TENANT_ID = re.compile(TENANT_ID_PATTERN)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Role(StrEnum):
    """What a token allows (admin implies every other role)."""

    reader = "reader"
    writer = "writer"
    reviewer = "reviewer"
    admin = "admin"


#: Any role that may read the tenant's data (admin is implied by ``Principal.require``).
READ_ROLES = (Role.reader, Role.writer, Role.reviewer)


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


def is_valid_tenant_id(value: object) -> bool:
    """Whether VALUE is a tenant id the rest of the system can store and use as a key segment."""
    return isinstance(value, str) and _TENANT_ID.fullmatch(value) is not None and value not in (".", "..")


def _encodable(text: str) -> bool:
    # JSON may carry lone surrogates ("\\ud800"), which no database can store.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
        raise ValueError(f"unknown role(s) {', '.join(unknown)}: use {', '.join(Role.__members__)}")
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


def check_algorithms(algorithms: Sequence[str], *, hs_secret: str | None, rs_public_key: str | None) -> None:
    """Raise ConfigError unless ALGORITHMS and the configured keys agree.

    Every listed algorithm needs its key, every configured key must be used by a listed
    algorithm (a key nobody listed is a leftover the operator believes is off), and the HS256
    secret must be at least 32 bytes.
    """
    if not algorithms:
        raise ConfigError("AION_JWT_ALGORITHMS is empty: list HS256, RS256 or both")
    unknown = [a for a in algorithms if a not in SUPPORTED_ALGORITHMS]
    if unknown:
        raise ConfigError(
            f"AION_JWT_ALGORITHMS lists unsupported {', '.join(map(repr, unknown))}: use HS256 and/or RS256"
        )
    if "RS256" in algorithms and not rs_public_key:
        raise ConfigError("AION_JWT_ALGORITHMS lists RS256 but AION_JWT_PUBLIC_KEY is not set")
    if rs_public_key and "RS256" not in algorithms:
        raise ConfigError("AION_JWT_PUBLIC_KEY is set but AION_JWT_ALGORITHMS does not list RS256")
    if "HS256" in algorithms and not hs_secret:
        raise ConfigError(
            "AION_JWT_ALGORITHMS lists HS256 but AION_JWT_SECRET is not set (a secret is generated only "
            "when HS256 is the only algorithm and no public key is configured)"
        )
    if hs_secret and "HS256" not in algorithms:
        raise ConfigError("AION_JWT_SECRET is set but AION_JWT_ALGORITHMS does not list HS256: unset it")
    if hs_secret and len(hs_secret.encode()) < MIN_HS_SECRET_BYTES:
        raise ConfigError(f"AION_JWT_SECRET is too short: use at least {MIN_HS_SECRET_BYTES} bytes")


class TokenVerifier:
    """Verifies bearer tokens against the configured keys and claims.

    Args:
        hs_secret: the HS256 secret (None: HS256 is off).
        rs_public_key: a PEM public key for RS256 (None: RS256 is off).
        algorithms: the accepted algorithms; default: those whose key is given.
        issuer: when set, the ``iss`` claim must equal it.
        audience: when set, the ``aud`` claim must contain it; when unset, a token that
            names an audience is refused (it was issued for someone else).
        max_ttl_seconds: when set, ``iat`` is required and ``exp - iat`` may not exceed it.
        cache_size: how many verified tokens to remember (0: none). A token that verified once
            gives the same caller until its ``exp``; remembering it spares the signature check and
            claim parsing (~60 us of CPU for HS256, more for RS256) on every later request that
            carries it. Only tokens that passed every check are remembered, each with its ``exp``,
            which is checked again (with the same leeway) on every use. The keys and claim rules
            are fixed per verifier, so a remembered answer cannot outlive a configuration.
        clock: the current Unix time (tests move it forward to expire a remembered token).

    Raises:
        ConfigError: the algorithms and keys disagree, or the secret is too short.
    """

    def __init__(
        self,
        hs_secret: str | None,
        rs_public_key: str | None = None,
        *,
        algorithms: Sequence[str] | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        max_ttl_seconds: int | None = DEFAULT_MAX_TTL_SECONDS,
        cache_size: int = TOKEN_CACHE_SIZE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if algorithms is None:
            algorithms = [a for a, key in (("HS256", hs_secret), ("RS256", rs_public_key)) if key]
            if not algorithms:
                raise ConfigError("configure a JWT secret or an RS256 public key")
        check_algorithms(algorithms, hs_secret=hs_secret, rs_public_key=rs_public_key)
        if max_ttl_seconds is not None and max_ttl_seconds <= 0:
            raise ConfigError("AION_JWT_MAX_TTL_SECONDS must be positive")
        self._keys: dict[str, str] = {}
        if "HS256" in algorithms and hs_secret:
            self._keys["HS256"] = hs_secret
        if "RS256" in algorithms and rs_public_key:
            self._keys["RS256"] = rs_public_key
        self._issuer = issuer or None
        self._audience = audience or None
        self._max_ttl = max_ttl_seconds
        self._cache: OrderedDict[str, tuple[Principal, int]] = OrderedDict()
        self._cache_size = max(0, cache_size)
        self._cache_lock = threading.Lock()  # one verifier may serve several threads
        self._clock = clock

    @property
    def algorithms(self) -> list[str]:
        """The accepted algorithms."""
        return list(self._keys)

    def verify(self, authorization: str | None) -> Principal:
        """Return the caller named by an ``Authorization: Bearer ...`` header value.

        Raises:
            AuthError: the header or token is missing, malformed, forged, expired, too
                long-lived, or carries an invalid claim; the message says which.
        """
        if not authorization:
            raise AuthError("missing bearer token")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("authorization header must be 'Bearer <token>'")
        token = token.strip()
        if len(token) > MAX_TOKEN_CHARS:
            raise AuthError(f"token is longer than {MAX_TOKEN_CHARS} characters")
        remembered = self._remembered(token)
        if remembered is not None:
            return remembered
        claims = self._decode(token)
        caller = Principal(subject=self._subject(claims), tenant_id=self._tenant(claims), roles=self._roles(claims))
        # PyJWT has checked that exp is an integer.
        self._remember(token, caller, int(claims["exp"]))  # type: ignore[call-overload]
        return caller

    def _remembered(self, token: str) -> Principal | None:
        """The caller of a token verified before, or None; AuthError once its ``exp`` has passed."""
        if not self._cache_size:
            return None
        with self._cache_lock:
            entry = self._cache.get(token)
            if entry is None:
                return None
            caller, exp = entry
            # PyJWT's rule: expired when exp <= now - leeway.
            if exp <= self._clock() - LEEWAY_SECONDS:
                del self._cache[token]
                raise AuthError("token expired")
            self._cache.move_to_end(token)
            return caller

    def _remember(self, token: str, caller: Principal, exp: int) -> None:
        if not self._cache_size:
            return
        with self._cache_lock:
            self._cache[token] = (caller, exp)
            self._cache.move_to_end(token)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def _decode(self, token: str) -> dict[str, object]:
        try:
            header = jwt.get_unverified_header(token)
        except (jwt.PyJWTError, ValueError, RecursionError) as exc:
            raise AuthError("malformed token") from exc
        alg = header.get("alg")
        key = self._keys.get(alg) if isinstance(alg, str) else None
        if key is None or not isinstance(alg, str):
            raise AuthError(f"token algorithm {alg!r} is not accepted (accepted: {', '.join(self._keys)})")
        required = ["exp", "tenant_id"]
        if self._max_ttl is not None:
            required.append("iat")
        if self._issuer:
            required.append("iss")
        if self._audience:
            required.append("aud")
        try:
            claims: dict[str, object] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                leeway=LEEWAY_SECONDS,
                issuer=self._issuer,
                audience=self._audience,
                options={"require": required},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token expired") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"token has no {exc.claim} claim") from exc
        except jwt.InvalidAudienceError as exc:
            if self._audience is None:
                raise AuthError("token names an audience (aud) but this server has none configured") from exc
            raise AuthError(f"token audience (aud) is not {self._audience!r}") from exc
        except jwt.InvalidIssuerError as exc:
            raise AuthError(f"token issuer (iss) is not {self._issuer!r}") from exc
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:
            # A payload PyJWT does not anticipate (e.g. deeply nested JSON) is still just a bad token.
            raise AuthError("malformed token") from exc
        if self._max_ttl is not None:
            # PyJWT has checked that exp and iat are integers.
            lifetime = int(claims["exp"]) - int(claims["iat"])  # type: ignore[call-overload]
            if lifetime > self._max_ttl:
                raise AuthError(f"token lifetime {lifetime} s exceeds the maximum of {self._max_ttl} s")
        return claims

    @staticmethod
    def _tenant(claims: dict[str, object]) -> str:
        tenant = claims.get("tenant_id")
        if not isinstance(tenant, str) or not tenant:
            raise AuthError("token has no tenant_id claim")
        if not is_valid_tenant_id(tenant):
            raise AuthError(f"token tenant_id claim is invalid: use {TENANT_ID_RULE}")
        return tenant

    @staticmethod
    def _subject(claims: dict[str, object]) -> str:
        subject = claims.get("sub")
        if subject is None or subject == "":
            return "unknown"
        if not isinstance(subject, str):
            raise AuthError("token sub claim must be a string")
        if len(subject) > MAX_SUBJECT_CHARS or _CONTROL.search(subject) or not _encodable(subject):
            raise AuthError(f"token sub claim must be at most {MAX_SUBJECT_CHARS} characters, no control characters")
        return subject

    @staticmethod
    def _roles(claims: dict[str, object]) -> frozenset[Role]:
        roles = claims.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise AuthError("token roles claim must be a list of strings")
        return frozenset(Role(r) for r in roles if r in Role.__members__)

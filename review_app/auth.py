"""Who may use the reviewer console, which tenants they see and what they may do there.

Two ways in:

- a token from ``aion token`` (or an external issuer), pasted: the console reads its claims to
  know which tenant and roles to show, and the API verifies it on every call;
- a username and password from the console users file (YAML, scrypt hashes): each user is
  mapped to tenants and, per tenant, roles. The console then mints a short-lived token per
  tenant, signed with the deployment's HS256 secret, whose subject is the username.

Either way every read and write goes through the memory API with a token of one tenant, so
the API's tenant scoping and role checks apply to reviewers exactly as to any other client:
a reviewer can never see or touch a tenant absent from their grants.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import yaml

from aion_assets.core.auth import MAX_TOKEN_CHARS, TENANT_ID_RULE, Role, is_valid_tenant_id
from aion_assets.core.errors import AionError, ConfigError
from aion_assets.core.files import make_private_dir

#: scrypt cost (RFC 7914 interactive parameters: ~50 ms and 16 MiB per check on this machine).
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_LEN = 2**14, 8, 1, 32
#: Lifetime of the tokens minted for a password user; re-minted when less than REMINT_MARGIN is left.
MINTED_TTL_SECONDS = 900
REMINT_MARGIN_SECONDS = 60
MIN_PASSWORD_CHARS = 8
#: Roles that may approve or reject edits (admin implies every role).
REVIEW_ROLES = frozenset({Role.reviewer, Role.admin})
_USERNAME_RULE = "letters, digits and _.@- , 1 to 64 characters"


class SignInError(AionError):
    """Sign-in refused: wrong credentials, an unusable token, or a token that has expired."""


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A self-describing scrypt hash of PASSWORD: ``scrypt$N$r$p$<salt>$<hash>`` (base64).

    Raises:
        ValueError: PASSWORD is shorter than MIN_PASSWORD_CHARS.
    """
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"password must be at least {MIN_PASSWORD_CHARS} characters")
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=SCRYPT_LEN, maxmem=64 * 2**20
    )
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether PASSWORD matches STORED (from :func:`hash_password`); False for a malformed hash."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest, validate=True)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt, validate=True), n=int(n), r=int(r), p=int(p),
            dklen=len(expected), maxmem=256 * 2**20,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# A hash checked when the username is unknown, so that a wrong username costs as long as a wrong password.
_DUMMY_HASH = hash_password("not-a-real-password", salt=b"\0" * 16)


@dataclass(frozen=True)
class ConsoleUser:
    """One entry of the console users file."""

    username: str
    password_hash: str
    grants: Mapping[str, frozenset[Role]]


def _parse_roles(value: Any, where: str) -> frozenset[Role]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: give a list of roles ({', '.join(Role.__members__)})")
    unknown = [r for r in value if r not in Role.__members__]
    if unknown:
        raise ConfigError(f"{where}: unknown role(s) {unknown}: use {', '.join(Role.__members__)}")
    return frozenset(Role(r) for r in value)


def _valid_username(name: object) -> bool:
    return isinstance(name, str) and 0 < len(name) <= 64 and all(c.isalnum() or c in "_.@-" for c in name)


class UserDirectory:
    """The console users file: ``users: {name: {password: <hash>, tenants: {tenant: [roles]}}}``.

    Args:
        users: the parsed users, by username.
    """

    def __init__(self, users: Mapping[str, ConsoleUser]) -> None:
        self.users = dict(users)

    @classmethod
    def load(cls, path: Path) -> UserDirectory:
        """Read and validate PATH; a missing file is an empty directory.

        Raises:
            ConfigError: the file is not valid YAML or an entry is malformed (the message names it).
        """
        if not path.exists():
            return cls({})
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
        raw = data.get("users", {}) if isinstance(data, dict) else None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping `users: {{name: {{password, tenants}}}}`")
        users: dict[str, ConsoleUser] = {}
        for name, entry in raw.items():
            where = f"{path}: users.{name}"
            if not _valid_username(name):
                raise ConfigError(f"{where}: username must be {_USERNAME_RULE}")
            if not isinstance(entry, dict) or not isinstance(entry.get("password"), str):
                raise ConfigError(f"{where}: needs `password` (a hash from `aion console-user add`)")
            tenants = entry.get("tenants")
            if not isinstance(tenants, dict) or not tenants:
                raise ConfigError(f"{where}: needs `tenants: {{tenant: [roles]}}`")
            grants: dict[str, frozenset[Role]] = {}
            for tenant, roles in tenants.items():
                if not is_valid_tenant_id(tenant):
                    raise ConfigError(f"{where}.tenants: {tenant!r} is not a tenant id ({TENANT_ID_RULE})")
                grants[tenant] = _parse_roles(roles, f"{where}.tenants.{tenant}")
            users[name] = ConsoleUser(name, entry["password"], grants)
        return cls(users)

    def authenticate(self, username: str, password: str) -> ConsoleUser:
        """The user named USERNAME if PASSWORD is theirs.

        Raises:
            SignInError: unknown user or wrong password (the two are not told apart).
        """
        user = self.users.get(username)
        ok = verify_password(password, user.password_hash if user else _DUMMY_HASH)
        if user is None or not ok:
            raise SignInError("unknown username or wrong password")
        return user


class SignInThrottle:
    """Slows password guessing: after MAX_FAILURES failed sign-ins of one username within WINDOW
    seconds, that username is refused until the window has passed (per console process).

    Args:
        max_failures: failures allowed per username and window.
        window: seconds a failure is remembered.
    """

    def __init__(self, max_failures: int = 5, window: float = 300.0) -> None:
        self.max_failures, self.window = max_failures, window
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def check(self, username: str, *, now: float | None = None) -> None:
        """Raise SignInError while USERNAME is locked out."""
        now = now or time.time()
        with self._lock:
            recent = [t for t in self._failures.get(username, []) if now - t < self.window]
            self._failures[username] = recent
            if len(recent) >= self.max_failures:
                wait = int(self.window - (now - recent[0])) + 1
                raise SignInError(f"too many failed sign-ins for {username!r}: try again in {wait} s")

    def failed(self, username: str, *, now: float | None = None) -> None:
        """Record a failed sign-in of USERNAME."""
        with self._lock:
            self._failures.setdefault(username, []).append(now or time.time())

    def succeeded(self, username: str) -> None:
        """Forget USERNAME's failures."""
        with self._lock:
            self._failures.pop(username, None)


def save_user(path: Path, username: str, password: str, grants: Mapping[str, list[str]]) -> ConsoleUser:
    """Add or replace USERNAME in the users file at PATH (created 0600), with a fresh password hash.

    Args:
        grants: tenant -> role names.

    Returns:
        The stored user.

    Raises:
        ConfigError: the username, a tenant or a role is invalid, or the existing file is malformed.
        ValueError: the password is too short.
    """
    if not _valid_username(username):
        raise ConfigError(f"username must be {_USERNAME_RULE}")
    if not grants:
        raise ConfigError("give at least one tenant")
    for tenant, roles in grants.items():
        if not is_valid_tenant_id(tenant):
            raise ConfigError(f"tenant {tenant!r} is not a tenant id ({TENANT_ID_RULE})")
        _parse_roles(list(roles), f"tenant {tenant}")
    UserDirectory.load(path)  # refuse to rewrite a file we cannot read
    data: dict[str, Any] = {"users": {}}
    if path.exists():
        data = yaml.safe_load(path.read_text()) or {"users": {}}
    data.setdefault("users", {})[username] = {
        "password": hash_password(password),
        "tenants": {tenant: sorted(set(roles)) for tenant, roles in grants.items()},
    }
    make_private_dir(path.parent)  # AION_HOME is private: it holds the database and secrets too
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        yaml.safe_dump(data, fh, sort_keys=True)
    os.replace(tmp, path)  # the console never reads half a file
    return UserDirectory.load(path).users[username]


@dataclass
class Reviewer:
    """A signed-in console user: their name, what they may do per tenant, and their tokens.

    Attributes:
        name: the subject the API records as reviewer.
        grants: tenant -> roles; the console offers these tenants and nothing else.
        method: ``"token"`` (pasted) or ``"password"`` (tokens minted per tenant).
        tokens: tenant -> (token, expiry as a Unix time).
    """

    name: str
    grants: dict[str, frozenset[Role]]
    method: str
    tokens: dict[str, tuple[str, int]] = field(default_factory=dict)

    @property
    def tenants(self) -> list[str]:
        """The tenants this reviewer may see, sorted."""
        return sorted(self.grants)

    def roles(self, tenant: str) -> frozenset[Role]:
        """The reviewer's roles on TENANT (empty for a tenant not granted)."""
        return self.grants.get(tenant, frozenset())

    def can_review(self, tenant: str) -> bool:
        """Whether the reviewer may approve or reject TENANT's edits."""
        return bool(self.roles(tenant) & REVIEW_ROLES)


def reviewer_from_token(token: str, *, now: float | None = None) -> Reviewer:
    """A reviewer described by a pasted token's claims.

    The signature is not checked here (the console may not hold the key, e.g. with RS256): the
    claims only decide what the console offers, and the API verifies the token on every call,
    so a forged token shows an error and nothing else.

    Raises:
        SignInError: not a JWT, no valid tenant_id claim, no known role, or expired.
    """
    token = token.strip()
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise SignInError("paste the token printed by `aion token` (one line)")
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise SignInError("this is not a token: paste the line printed by `aion token`") from exc
    tenant = claims.get("tenant_id")
    if not is_valid_tenant_id(tenant):
        raise SignInError("the token has no valid tenant_id claim")
    roles = claims.get("roles")
    granted = frozenset(Role(r) for r in roles if r in Role.__members__) if isinstance(roles, list) else frozenset()
    if not granted:
        raise SignInError("the token grants no role")
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= (now or time.time()):
        raise SignInError("the token has expired: mint a new one with `aion token`")
    sub = claims.get("sub")
    name = sub if isinstance(sub, str) and sub else "unknown"  # the API's own default subject
    tenant_id = str(tenant)
    return Reviewer(name=name, grants={tenant_id: granted}, method="token", tokens={tenant_id: (token, exp)})


def reviewer_from_user(user: ConsoleUser) -> Reviewer:
    """A reviewer signed in with a password (tokens are minted on first use per tenant)."""
    return Reviewer(name=user.username, grants=dict(user.grants), method="password")


def token_for(
    reviewer: Reviewer, tenant: str, minter: Callable[[str, list[str], int, str], str] | None, *,
    now: float | None = None,
) -> str:
    """A live token of REVIEWER for TENANT, minting (or re-minting) one for a password user.

    Args:
        minter: ``(tenant, roles, ttl_seconds, subject) -> token``; None when the console has no
            signing secret (then only pasted tokens work).

    Raises:
        SignInError: TENANT is not granted, a pasted token has expired, or nothing can mint.
    """
    if tenant not in reviewer.grants:
        raise SignInError(f"you have no access to tenant {tenant!r}")
    now = now or time.time()
    held = reviewer.tokens.get(tenant)
    if held is not None and held[1] - now > REMINT_MARGIN_SECONDS:
        return held[0]
    if reviewer.method == "token":
        raise SignInError("your token has expired: sign out and paste a new one")
    if minter is None:
        raise SignInError("this console has no signing secret: sign in with a token instead")
    roles = sorted(r.value for r in reviewer.roles(tenant))
    token = minter(tenant, roles, MINTED_TTL_SECONDS, reviewer.name)
    # The minter may shorten the lifetime (AION_JWT_MAX_TTL_SECONDS): the token's own exp is the truth.
    exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
    reviewer.tokens[tenant] = (token, exp if isinstance(exp, int) else int(now) + MINTED_TTL_SECONDS)
    return token

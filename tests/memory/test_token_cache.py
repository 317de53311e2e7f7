"""Protects: the verifier remembers tokens that passed every check (the signature is checked once
per token, not once per request) without weakening any check: a remembered token is refused once
its exp has passed (same leeway as PyJWT), a token that failed is never remembered, the memory is
bounded (least recently used first out), and a cache size of 0 turns it off."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from aion_assets.core.auth import LEEWAY_SECONDS, AuthError, Role, TokenVerifier, mint_token

SECRET = "cache-secret-" + "c" * 24


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens PyJWT actually decoded (the real decode runs; this only records the calls)."""
    seen: list[str] = []
    real: Callable[..., Any] = jwt.decode

    def recording(token: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", recording)
    return seen


def bearer(tenant: str = "acme", ttl: int = 600) -> str:
    return "Bearer " + mint_token(SECRET, tenant_id=tenant, roles=["writer"], ttl_seconds=ttl)


def test_a_verified_token_is_decoded_once(decodes: list[str]) -> None:
    verifier, header = TokenVerifier(SECRET), bearer()
    first = verifier.verify(header)
    again = verifier.verify(header)
    assert again == first and first.tenant_id == "acme" and first.roles == frozenset({Role.writer})
    assert len(decodes) == 1


def test_a_remembered_token_is_refused_once_expired(decodes: list[str]) -> None:
    now = [time.time()]
    verifier = TokenVerifier(SECRET, clock=lambda: now[0])
    header = bearer(ttl=60)
    verifier.verify(header)
    now[0] += 60 + LEEWAY_SECONDS - 5  # within the leeway: still accepted
    verifier.verify(header)
    now[0] += 10
    with pytest.raises(AuthError, match="token expired"):
        verifier.verify(header)
    assert len(decodes) == 1  # refused from memory: the expiry is checked on every use


def test_failed_tokens_are_not_remembered(decodes: list[str]) -> None:
    verifier = TokenVerifier(SECRET)
    forged = "Bearer " + mint_token("another-secret-" + "z" * 24, tenant_id="acme", roles=["writer"])
    for _ in range(2):
        with pytest.raises(AuthError):
            verifier.verify(forged)
    assert len(decodes) == 2


def test_the_memory_is_bounded_least_recently_used_first_out(decodes: list[str]) -> None:
    verifier = TokenVerifier(SECRET, cache_size=2)
    a, b, c = bearer("t-a"), bearer("t-b"), bearer("t-c")
    for header in (a, b, a, c):  # c pushes out b, the least recently used
        verifier.verify(header)
    assert len(decodes) == 3
    verifier.verify(a)
    assert len(decodes) == 3
    assert verifier.verify(b).tenant_id == "t-b"
    assert len(decodes) == 4


def test_cache_size_zero_verifies_every_time(decodes: list[str]) -> None:
    verifier, header = TokenVerifier(SECRET, cache_size=0), bearer()
    verifier.verify(header)
    verifier.verify(header)
    assert len(decodes) == 2

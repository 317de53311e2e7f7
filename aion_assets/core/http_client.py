"""One retrying HTTP sender for the project's API clients (memory, registry).

The rules, shared by every client so that they cannot drift apart:

- a connection error (refused, reset, timed out) or a 500/502/503/504 is retried, after a wait
  that doubles with each attempt (``backoff``, ``2 * backoff``, ...), times a jitter factor
  drawn in [0.5, 1.5) so that many clients do not retry in step, and capped at ``max_delay``;
- a call gives up after ``max_retries`` retries, or as soon as the next wait would take the
  total waited past ``max_total_delay``, whichever comes first;
- any other status of 400 or more (a 4xx is the caller's mistake) is never retried;
- a call that fails raises :class:`ApiClientError` (or the subclass the client names) carrying
  the status, the server's decoded error body and message, and the number of attempts.

Retrying is only safe for requests the server treats as idempotent; the clients make their
writes so (ids chosen before the first attempt, compare-and-set versions).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from aion_assets.core.errors import AionError

#: Statuses that mean "the server or what is behind it is failing right now": worth retrying.
RETRY_STATUSES = frozenset({500, 502, 503, 504})
# 2**62 seconds is far past any cap; a larger exponent would overflow the float conversion.
_MAX_EXPONENT = 62


class ApiClientError(AionError):
    """An API refused a request (4xx or another non-retried status), or kept failing after every retry.

    Attributes:
        status: HTTP status of the last answer (None when the server was never reached).
        body: the decoded JSON error body (or the raw text when it was not JSON), when there was one.
        attempts: how many requests were sent (1 for a 4xx: those are never retried).
    """

    def __init__(self, message: str, status: int | None = None, body: Any = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.status, self.body, self.attempts = status, body, attempts

    @property
    def field(self) -> str | None:
        """The invalid field the server named, if any."""
        return self.body.get("field") if isinstance(self.body, dict) else None

    @property
    def message(self) -> str:
        """The server's message (or this error's text when the body had none)."""
        if isinstance(self.body, dict) and self.body.get("message"):
            return str(self.body["message"])
        return str(self)


@dataclass(frozen=True)
class RetryPolicy:
    """How long a call keeps trying.

    Attributes:
        max_retries: attempts after the first (0: never retry).
        backoff: the first wait, in seconds; it doubles with each attempt, times a jitter factor.
        max_delay: cap of one wait, in seconds.
        max_total_delay: cap of all waits of one call, in seconds.

    Raises:
        ValueError: a negative number, or a value that is not finite.
    """

    max_retries: int = 5
    backoff: float = 0.2
    max_delay: float = 10.0
    max_total_delay: float = 60.0

    def __post_init__(self) -> None:
        for name in ("max_retries", "backoff", "max_delay", "max_total_delay"):
            value = getattr(self, name)
            if not 0 <= value < float("inf"):
                raise ValueError(f"{name} must be a finite number >= 0, not {value!r}")

    def delay(self, attempt: int, jitter: float) -> float:
        """The wait after failed attempt ATTEMPT (1 for the first), for a JITTER drawn in [0, 1)."""
        exponent = min(attempt - 1, _MAX_EXPONENT)
        return float(min(self.max_delay, self.backoff * 2**exponent * (0.5 + jitter)))


class RetryingHttpClient:
    """An httpx client whose :meth:`request` applies a :class:`RetryPolicy`.

    Args:
        base_url: e.g. ``http://127.0.0.1:8080``.
        headers: sent with every request (e.g. the bearer token).
        policy: the retry policy.
        timeout: per-request timeout in seconds (each attempt has its own).
        transport: optional httpx transport.
        error: the :class:`ApiClientError` subclass raised, so that each client keeps its own type.
        sleep: how to wait (``time.sleep``); a caller may pass one that also records the waits.
        jitter: returns a number in [0, 1) per wait (``random.random``); seed it to replay a run.
    """

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        policy: RetryPolicy | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        error: type[ApiClientError] = ApiClientError,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.policy = policy if policy is not None else RetryPolicy()
        self._error = error
        self._sleep = sleep
        self._jitter = jitter
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout, transport=transport)

    @property
    def timeout(self) -> httpx.Timeout:
        """The per-request timeout."""
        return self._http.timeout

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> RetryingHttpClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send METHOD PATH (KWARGS as for ``httpx.Client.request``), retrying as the policy says.

        Returns:
            The first answer with a status under 400.

        Raises:
            ApiClientError: (the client's subclass) at once for a status that is not retried,
                with ``attempts`` 1 when it came first; after the last attempt for a retried
                status (``status`` set) or a connection error (``status`` None, the httpx error
                as ``__cause__``). The message names the method, the path, the status and the
                server's message.
        """
        policy = self.policy
        attempts, waited = 0, 0.0
        while True:
            attempts += 1
            status: int | None = None
            body: Any = None
            error: Exception | None = None
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                error, what = exc, repr(exc)
            else:
                if response.status_code < 400:
                    return response
                status, body = response.status_code, _json_or_text(response)
                message = body.get("message") if isinstance(body, dict) else str(body)
                what = f"HTTP {status}: {message}"
                if status not in RETRY_STATUSES:
                    raise self._error(f"{method} {path}: {what}", status, body, attempts)
            wait = policy.delay(attempts, self._jitter())
            if attempts > policy.max_retries or waited + wait > policy.max_total_delay:
                what = f"{what} after {attempts} attempts"
                raise self._error(f"{method} {path}: {what}", status, body, attempts) from error
            self._sleep(wait)
            waited += wait


def _json_or_text(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text

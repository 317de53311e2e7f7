"""Typed HTTP client of the memory API, with safe retries.

Every write carries an id chosen on the client before the first attempt, so a retry after
a timeout or a 5xx can never store a row twice: the server treats a known id as a replay.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx

from aion_assets.core.http_client import RETRY_STATUSES, ApiClientError, RetryingHttpClient, RetryPolicy
from aion_assets.memory.models import EditStatus, Interaction, SelfEdit, SelfEditPage

__all__ = ["RETRY_STATUSES", "MemoryApiError", "MemoryClient"]


class MemoryApiError(ApiClientError):
    """The memory API refused the request (4xx), or kept failing after every retry.

    Attributes (from :class:`~aion_assets.core.http_client.ApiClientError`):
        status: HTTP status (None when the server was never reached).
        body: the decoded JSON error body, when there was one.
        attempts: how many requests were sent (1 for a 4xx: those are never retried).
        field, message: the invalid field and the message the server named, if any.
    """


class MemoryClient:
    """Client of the memory API.

    Args:
        base_url: e.g. ``http://127.0.0.1:8080``.
        token: a bearer JWT (``aion token`` mints one for development).
        max_retries: attempts after the first on connection errors and 500/502/503/504. A 4xx
            is the caller's mistake and is never retried.
        backoff: first delay in seconds; doubles each attempt, with jitter (x0.5 to x1.5).
        max_delay: cap of one delay, in seconds.
        max_total_delay: cap of all delays of one call, in seconds: the call gives up when the
            next delay would pass it, whatever MAX_RETRIES says.
        timeout: per-request timeout in seconds.
        transport: optional httpx transport (tests use ASGITransport / MockTransport).

    The retry rules are :mod:`aion_assets.core.http_client`'s (shared with the registry client).

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
            error=MemoryApiError,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> MemoryClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self._http.request(method, path, **kwargs)

    # -- endpoints -----------------------------------------------------------------------

    def add_interactions(self, items: Sequence[Mapping[str, Any]]) -> list[Interaction]:
        """Store a batch (all or nothing); items without an ``id`` get one before sending."""
        payload = [_with_id(item) for item in items]
        response = self._request("POST", "/interactions", json=payload)
        return [Interaction.model_validate(r) for r in response.json()]

    def add_interaction(self, item: Mapping[str, Any]) -> Interaction:
        """Store one interaction (an id is assigned first when missing)."""
        response = self._request("POST", "/interactions", json=_with_id(item))
        return Interaction.model_validate(response.json())

    def get_interaction(self, interaction_id: uuid.UUID | str) -> Interaction:
        """Read one interaction of the token's tenant."""
        return Interaction.model_validate(self._request("GET", f"/interactions/{interaction_id}").json())

    def add_self_edit(self, edit: Mapping[str, Any]) -> SelfEdit:
        """Record a self-edit (an id is assigned first when missing)."""
        return SelfEdit.model_validate(self._request("POST", "/self-edits", json=_with_id(edit)).json())

    def review(
        self, edit_id: uuid.UUID | str, decision: EditStatus | str, *, note: str | None = None,
        edited_output: str | None = None,
    ) -> SelfEdit:
        """Approve or reject a self-edit (reviewer role); repeating a decision is harmless."""
        decision = EditStatus(decision)
        if decision is EditStatus.pending:
            raise ValueError("decision must be approved or rejected")
        verb = "approve" if decision is EditStatus.approved else "reject"
        body = {k: v for k, v in {"note": note, "edited_output": edited_output}.items() if v is not None}
        response = self._request("POST", f"/self-edits/{edit_id}/{verb}", json=body or None)
        return SelfEdit.model_validate(response.json())

    def list_self_edits(
        self, *, status: EditStatus | str | None = None, agent_id: str | None = None, limit: int = 50,
        cursor: str | None = None, editor_type: str | None = None, reason_code: str | None = None,
        min_reward: float | None = None, max_reward: float | None = None,
    ) -> SelfEditPage:
        """One page of self-edits, oldest first; every filter left None is not applied."""
        params = {
            "status": status, "agent_id": agent_id, "editor_type": editor_type, "reason_code": reason_code,
            "min_reward": min_reward, "max_reward": max_reward, "limit": limit, "cursor": cursor,
        }
        response = self._request("GET", "/self-edits", params={k: v for k, v in params.items() if v is not None})
        return SelfEditPage.model_validate(response.json())

    def get_self_edit(self, edit_id: uuid.UUID | str) -> SelfEdit:
        """Read one self-edit of the token's tenant (MemoryApiError 404 when absent or another tenant's)."""
        return SelfEdit.model_validate(self._request("GET", f"/self-edits/{edit_id}").json())

    def iter_self_edits(self, **filters: Any) -> Iterator[SelfEdit]:
        """Every self-edit matching FILTERS, following cursors."""
        cursor = None
        while True:
            page = self.list_self_edits(cursor=cursor, **filters)
            yield from page.items
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def healthz(self) -> dict[str, Any]:
        """The service's health (raises MemoryApiError when unavailable after retries)."""
        return self._request("GET", "/healthz").json()  # type: ignore[no-any-return]


def _with_id(item: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(item)
    out.setdefault("id", str(uuid.uuid4()))
    if isinstance(out["id"], uuid.UUID):
        out["id"] = str(out["id"])
    for key, value in list(out.items()):
        if hasattr(value, "isoformat"):
            out[key] = value.isoformat()
    return out


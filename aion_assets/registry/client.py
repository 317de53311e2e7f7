"""Routing client for gateways: which model serves (tenant, agent), answered from memory.

:class:`RouteClient` keeps every route of its tenants in an in-memory table that a
background thread refreshes from the registry API (``GET /routes``, one call per token).
``resolve`` only reads that table: after warm-up it never waits on the network.

Outages:
- Registry unreachable or failing (API down, database down: 5xx): a refresh that fails
  keeps the last good table of that tenant; ``last_error`` says why, ``age_seconds`` grows.
- Gateway restarted during an outage: every good table is also written to ``cache_path``
  (write to a temporary file, fsync, rename: a crash leaves the old file or the new one,
  never a torn one) and read back at start, so the gateway resolves before it can reach
  the registry.

Observability: ``stats()`` (counts, ages, last error), and Prometheus gauges on the registry
given (``prometheus_client.REGISTRY`` by default), labelled with the client's ``name``:
``aion_route_table_age_seconds`` (seconds since the oldest tenant table was fetched; +Inf
before any), ``aion_route_table_routes`` and ``aion_route_refresh_failures``.

This module holds the client (table, refresher thread, resolve); the rest is beside it:
``registry.routing`` (the types it answers, the errors, the checks of a route row),
``registry.route_cache`` (the persisted file) and ``registry.route_metrics`` (the gauges).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
from prometheus_client import REGISTRY, CollectorRegistry

from aion_assets.registry.route_cache import CACHE_FORMAT, Segments, load_segments, save_segments
from aion_assets.registry.route_metrics import ClientSeries
from aion_assets.registry.routing import (
    ResolvedRoute,
    RouteClientError,
    RouteClientStats,
    UnknownRouteError,
    checked,
    resolved,
    tenant_of,
)

# The client's public names, importable from here as before the split.
__all__ = [
    "CACHE_FORMAT",
    "ResolvedRoute",
    "RouteClient",
    "RouteClientError",
    "RouteClientStats",
    "UnknownRouteError",
]

log = logging.getLogger(__name__)


class RouteClient:
    """In-memory route table of one or more tenants, refreshed in the background.

    Args:
        base_url: the registry API, e.g. ``http://registry:8080``.
        tokens: one bearer token per tenant this gateway serves (any role can read routes).
        cache_path: file the last good table is persisted to and loaded from at start
            (None: memory only, a restart during an outage then has no routes).
        refresh_interval: seconds between background refreshes.
        default_model: model name answered for an agent without a route (None: raise
            UnknownRouteError instead).
        timeout: per-request timeout of a refresh, in seconds.
        transport: optional httpx transport (tests).
        name: label of this client's Prometheus series (unique per metrics registry).
        metrics_registry: where the gauges go (default: ``prometheus_client.REGISTRY``).

    Use ``with RouteClient(...) as routes:`` or call :meth:`start` and :meth:`close`.

    Raises:
        ValueError: no token, a token without a tenant, or a refresh interval that is not positive.
    """

    def __init__(
        self,
        base_url: str,
        tokens: str | Sequence[str],
        *,
        cache_path: str | Path | None = None,
        refresh_interval: float = 5.0,
        default_model: str | None = None,
        timeout: float = 2.0,
        transport: httpx.BaseTransport | None = None,
        name: str = "default",
        metrics_registry: CollectorRegistry | None = None,
    ) -> None:
        token_list = [tokens] if isinstance(tokens, str) else list(tokens)
        if not token_list:
            raise ValueError("give at least one token")
        self._tokens = {tenant_of(tok): tok for tok in token_list}
        self.cache_path = Path(cache_path) if cache_path is not None else None
        self._refresh_interval = 0.0
        self._wake = threading.Event()  # cuts the background wait short (interval changed, close)
        self.refresh_interval = refresh_interval
        self.default_model = default_model
        self.name = name
        self._metrics_registry = metrics_registry if metrics_registry is not None else REGISTRY
        self._series: ClientSeries | None = None
        self._refreshes = self._failures = 0
        self._refreshing = False
        self._last_refresh_at: float | None = None
        self._last_success_at: float | None = None
        self._last_attempt = -math.inf  # time.monotonic() of the last refresh's end
        self._http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport)
        # tenant -> (wall-clock time of the fetch, the routes as the API sent them)
        self._segments: Segments = {}
        self._table: dict[tuple[str, str], ResolvedRoute] = {}
        self._lock = threading.Lock()  # serializes refreshes and cache writes, never resolve()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.loaded_from_disk = False

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, *, warm_up: bool = True) -> RouteClient:
        """Load the persisted table, refresh once (WARM_UP), then refresh in the background.

        A failed warm-up is not an error: the client answers from the persisted table (or,
        without one, raises UnknownRouteError / answers the default model) until a refresh
        succeeds.

        Raises:
            ValueError: another started client with the same ``name`` exports to the same metrics registry.
        """
        self._export_metrics()
        self._load_cache()
        if warm_up:
            self.refresh()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="route-client-refresh", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop the background refresh, close the HTTP pool and withdraw this client's metric series."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self._http.timeout.read or 10.0)
            self._thread = None
        self._http.close()
        self._withdraw_metrics()

    def __enter__(self) -> RouteClient:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def refresh_interval(self) -> float:
        """Seconds between the end of one background refresh and the start of the next."""
        return self._refresh_interval

    @refresh_interval.setter
    def refresh_interval(self, seconds: float) -> None:
        if not seconds > 0 or math.isinf(seconds):
            raise ValueError("refresh_interval must be a positive number of seconds")
        self._refresh_interval = float(seconds)
        self._wake.set()  # a running refresher re-reads the interval now, not after the old one

    def _run(self) -> None:
        while not self._stop.is_set():
            remaining = self._last_attempt + self._refresh_interval - time.monotonic()
            if remaining > 0:
                self._wake.wait(remaining)
                self._wake.clear()
                continue
            try:
                self.refresh()
            except Exception:  # the refresher must outlive any surprise; the table stays as it was
                log.exception("route refresh failed unexpectedly")
                self._last_attempt = time.monotonic()

    # -- metrics -------------------------------------------------------------------------

    def _export_metrics(self) -> None:
        if self._series is None:
            self._series = ClientSeries(
                self._metrics_registry, self.name,
                age=lambda: self.age_seconds, routes=lambda: len(self._table), failures=lambda: self._failures,
            )

    def _withdraw_metrics(self) -> None:
        series, self._series = self._series, None
        if series is not None:
            series.withdraw()

    # -- reads ---------------------------------------------------------------------------

    def resolve(self, tenant_id: str, agent_id: str) -> ResolvedRoute:
        """The model serving AGENT_ID of TENANT_ID, from memory (no I/O).

        Raises:
            UnknownRouteError: no such route and no default model configured.
        """
        hit = self._table.get((tenant_id, agent_id))
        if hit is not None:
            return hit
        if self.default_model is not None:
            return ResolvedRoute(
                tenant_id=tenant_id,
                agent_id=agent_id,
                model_name=self.default_model,
                model_id=None,
                adapter_uri=None,
                fallback_model_name=None,
                fallback_adapter_uri=None,
                version=0,
                from_default=True,
            )
        if tenant_id not in self._segments:
            known = ", ".join(sorted(self._tokens))
            raise UnknownRouteError(
                f"no route table for tenant {tenant_id!r} (this client serves {known}; "
                f"last error: {self.last_error or 'none'})"
            )
        raise UnknownRouteError(
            f"tenant {tenant_id!r} has no route for agent {agent_id!r} (table {self.age_seconds:.0f}s old); "
            "set one with POST /routes or configure default_model"
        )

    @property
    def age_seconds(self) -> float:
        """Seconds since the oldest tenant table was fetched (infinity before any table)."""
        segments = self._segments
        if not segments or len(segments) < len(self._tokens):
            return math.inf
        return max(0.0, time.time() - min(fetched for fetched, _ in segments.values()))

    def routes(self) -> list[ResolvedRoute]:
        """Every route in the table (a snapshot), by tenant and agent."""
        table = self._table
        return [table[k] for k in sorted(table)]

    def stats(self) -> RouteClientStats:
        """What the client holds and how its refreshes went (no I/O, no lock: never waits on a refresh)."""
        segments, now = self._segments, time.time()
        return RouteClientStats(
            routes=len(self._table),
            tenants=len(self._tokens),
            tenants_with_table=len(segments),
            age_seconds=self.age_seconds,
            tenant_age_seconds={t: max(0.0, now - at) for t, (at, _) in sorted(segments.items())},
            refresh_interval=self._refresh_interval,
            refreshes=self._refreshes,
            refresh_failures=self._failures,
            refreshing=self._refreshing,
            last_refresh_at=self._last_refresh_at,
            last_success_at=self._last_success_at,
            last_error=self.last_error,
            loaded_from_disk=self.loaded_from_disk,
        )

    # -- refresh and persistence ---------------------------------------------------------

    def refresh(self) -> bool:
        """Fetch every tenant's routes now; keep a tenant's last good table when its fetch fails.

        Returns:
            True when every tenant's fetch succeeded.
        """
        with self._lock:
            self._refreshing = True
            try:
                return self._refresh_locked()
            finally:
                self._refreshing = False
                self._refreshes += 1
                self._last_refresh_at = time.time()
                self._last_attempt = time.monotonic()

    def _refresh_locked(self) -> bool:
        ok, errors = True, []
        fetched: Segments = {}
        for tenant, token in self._tokens.items():
            try:
                response = self._http.get("/routes", headers={"Authorization": f"Bearer {token}"})
                if response.status_code != 200:
                    raise RouteClientError(f"HTTP {response.status_code}: {response.text[:200]}")
                rows = response.json()
                if not isinstance(rows, list):
                    raise RouteClientError("GET /routes did not answer a JSON array")
                fetched[tenant] = (time.time(), [checked(row, tenant) for row in rows])
            except (httpx.HTTPError, RouteClientError, ValueError, KeyError, TypeError) as exc:
                ok = False
                errors.append(f"tenant {tenant}: {exc}")
        if errors:
            self._failures += 1
            self.last_error = "; ".join(errors)
            log.warning("route refresh kept the last good table: %s", self.last_error)
        else:
            self._last_success_at = time.time()
            self.last_error = None
        if fetched:
            self._install({**self._segments, **fetched})
            self._save_cache()
        return ok

    def _install(self, segments: Segments) -> None:
        table = {
            (row["tenant_id"], row["agent_id"]): resolved(row) for _, rows in segments.values() for row in rows
        }
        # Two reference swaps: resolve() sees the old table or the new one, never a half-built one.
        self._table = table
        self._segments = segments

    def _save_cache(self) -> None:
        if self.cache_path is not None:
            save_segments(self.cache_path, self._segments)

    def _load_cache(self) -> None:
        segments = load_segments(self.cache_path, self._tokens)
        if segments is None:
            return
        with self._lock:
            if not self._segments:
                self._install(segments)
                self.loaded_from_disk = bool(segments)

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
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
from prometheus_client import REGISTRY, CollectorRegistry, Gauge

log = logging.getLogger(__name__)
CACHE_FORMAT = 1


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


@dataclass
class _Exported:
    """The gauges of one Prometheus registry, shared by the clients exporting to it (one label each)."""

    age: Gauge
    routes: Gauge
    failures: Gauge
    names: set[str] = field(default_factory=set)


_EXPORTED: weakref.WeakKeyDictionary[CollectorRegistry, _Exported] = weakref.WeakKeyDictionary()
_EXPORTED_LOCK = threading.Lock()


def _exported(registry: CollectorRegistry) -> _Exported:
    with _EXPORTED_LOCK:
        found = _EXPORTED.get(registry)
        if found is None:
            labels = ["client"]
            found = _EXPORTED[registry] = _Exported(
                age=Gauge("aion_route_table_age_seconds", "Seconds since the oldest tenant route table was fetched "
                          "(+Inf before any table).", labels, registry=registry),
                routes=Gauge("aion_route_table_routes", "Routes in the in-memory table.", labels, registry=registry),
                failures=Gauge("aion_route_refresh_failures", "Route refreshes that failed since the client started.",
                               labels, registry=registry),
            )
        return found


def _tenant_of(token: str) -> str:
    """The tenant a token is for (read without verifying: the registry verifies it)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise ValueError(f"token is not a JWT: {exc}") from exc
    tenant = claims.get("tenant_id")
    if not isinstance(tenant, str) or not tenant:
        raise ValueError("token has no tenant_id claim")
    return tenant


def _resolved(row: Mapping[str, Any]) -> ResolvedRoute:
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
        self._tokens = {_tenant_of(tok): tok for tok in token_list}
        self.cache_path = Path(cache_path) if cache_path is not None else None
        self._refresh_interval = 0.0
        self._wake = threading.Event()  # cuts the background wait short (interval changed, close)
        self.refresh_interval = refresh_interval
        self.default_model = default_model
        self.name = name
        self._metrics_registry = metrics_registry if metrics_registry is not None else REGISTRY
        self._exported: _Exported | None = None
        self._refreshes = self._failures = 0
        self._refreshing = False
        self._last_refresh_at: float | None = None
        self._last_success_at: float | None = None
        self._last_attempt = -math.inf  # time.monotonic() of the last refresh's end
        self._http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport)
        # tenant -> (wall-clock time of the fetch, the routes as the API sent them)
        self._segments: dict[str, tuple[float, list[dict[str, Any]]]] = {}
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
        if self._exported is not None:
            return
        exported = _exported(self._metrics_registry)
        with _EXPORTED_LOCK:
            if self.name in exported.names:
                raise ValueError(
                    f"a started RouteClient named {self.name!r} already exports metrics to this registry; "
                    "give each client its own name="
                )
            exported.names.add(self.name)
        exported.age.labels(self.name).set_function(lambda: self.age_seconds)
        exported.routes.labels(self.name).set_function(lambda: len(self._table))
        exported.failures.labels(self.name).set_function(lambda: self._failures)
        self._exported = exported

    def _withdraw_metrics(self) -> None:
        exported, self._exported = self._exported, None
        if exported is None:
            return
        with _EXPORTED_LOCK:
            exported.names.discard(self.name)
        for gauge in (exported.age, exported.routes, exported.failures):
            with contextlib.suppress(KeyError):
                gauge.remove(self.name)

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
        fetched: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        for tenant, token in self._tokens.items():
            try:
                response = self._http.get("/routes", headers={"Authorization": f"Bearer {token}"})
                if response.status_code != 200:
                    raise RouteClientError(f"HTTP {response.status_code}: {response.text[:200]}")
                rows = response.json()
                if not isinstance(rows, list):
                    raise RouteClientError("GET /routes did not answer a JSON array")
                fetched[tenant] = (time.time(), [_checked(row, tenant) for row in rows])
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

    def _install(self, segments: dict[str, tuple[float, list[dict[str, Any]]]]) -> None:
        table = {
            (row["tenant_id"], row["agent_id"]): _resolved(row) for _, rows in segments.values() for row in rows
        }
        # Two reference swaps: resolve() sees the old table or the new one, never a half-built one.
        self._table = table
        self._segments = segments

    def _save_cache(self) -> None:
        if self.cache_path is None:
            return
        doc = {
            "format": CACHE_FORMAT,
            "tenants": {t: {"fetched_at": at, "routes": rows} for t, (at, rows) in self._segments.items()},
        }
        path = self.cache_path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(doc, handle, separators=(",", ":"))
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            with contextlib.suppress(OSError):  # make the rename itself durable (POSIX)
                dir_fd = os.open(path.parent, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
        except OSError as exc:
            # A full or read-only disk must not stop routing from memory.
            log.warning("could not persist the route table to %s: %s", path, exc)

    def _load_cache(self) -> None:
        path = self.cache_path
        if path is None or not path.exists():
            return
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if doc.get("format") != CACHE_FORMAT:
                raise ValueError(f"format {doc.get('format')!r}, expected {CACHE_FORMAT}")
            segments = {
                tenant: (float(seg["fetched_at"]), [_checked(row, tenant) for row in seg["routes"]])
                for tenant, seg in doc["tenants"].items()
                if tenant in self._tokens  # routes of tenants this client no longer serves are dropped
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("ignoring the persisted route table %s: %s", path, exc)
            return
        with self._lock:
            if not self._segments:
                self._install(segments)
                self.loaded_from_disk = bool(segments)


def _checked(row: Any, tenant: str) -> dict[str, Any]:
    """ROW if it is a route of TENANT with the fields resolve() needs; ValueError otherwise."""
    if not isinstance(row, dict):
        raise ValueError("a route is not a JSON object")
    if row.get("tenant_id") != tenant:
        raise ValueError(f"a route of tenant {row.get('tenant_id')!r} came with the token of {tenant!r}")
    _resolved(row)  # raises KeyError/ValueError/TypeError on a malformed row
    return row


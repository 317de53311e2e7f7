"""Prometheus gauges of the routing clients (``registry.client.RouteClient``), one series per client name.

On the metrics registry given (``prometheus_client.REGISTRY`` by default), labelled ``client``:
``aion_route_table_age_seconds`` (seconds since the oldest tenant table was fetched; +Inf before
any), ``aion_route_table_routes`` and ``aion_route_refresh_failures``. The gauges of one metrics
registry are created once and shared by every client exporting to it; a started client's name is
unique per metrics registry, and its series are withdrawn when it closes.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Gauge


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


class ClientSeries:
    """The series of one client name on one metrics registry, read from the client when scraped.

    Args:
        registry: the Prometheus registry.
        name: the client's label.
        age, routes, failures: called at each scrape (no I/O, no lock).

    Raises:
        ValueError: another live series set already has NAME on REGISTRY.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        name: str,
        *,
        age: Callable[[], float],
        routes: Callable[[], float],
        failures: Callable[[], float],
    ) -> None:
        exported = _exported(registry)
        with _EXPORTED_LOCK:
            if name in exported.names:
                raise ValueError(
                    f"a started RouteClient named {name!r} already exports metrics to this registry; "
                    "give each client its own name="
                )
            exported.names.add(name)
        exported.age.labels(name).set_function(age)
        exported.routes.labels(name).set_function(routes)
        exported.failures.labels(name).set_function(failures)
        self._exported: _Exported | None = exported
        self.name = name

    def withdraw(self) -> None:
        """Remove the series (idempotent); the name is free again on the registry."""
        exported, self._exported = self._exported, None
        if exported is None:
            return
        with _EXPORTED_LOCK:
            exported.names.discard(self.name)
        for gauge in (exported.age, exported.routes, exported.failures):
            with contextlib.suppress(KeyError):
                gauge.remove(self.name)

"""The API's per-worker cache of route reads, kept true by PostgreSQL's ``NOTIFY``.

``GET /routes/{agent_id}`` is a gateway's hot path. Answered from the database, each read wakes a
database backend besides the API worker; on a small machine (2 cores: the load generator, two
API workers and their backends), those extra wake-ups are what pushed the read's p99 from
milliseconds to hundreds of milliseconds (docs/benchmarks.md). Served from this cache, a read is a
dictionary lookup in the worker's event loop.

How it stays true:

* Migration 0006 puts a trigger on ``aion_registry.routes``: every insert, update or delete sends
  ``NOTIFY aion_registry_routes, '<tenant>/<agent>'`` in the writing transaction, whoever writes
  (this API, another worker, the CLI, the route_table asset, the regression sensor, SQL by hand).
* A thread of each worker holds one connection that ``LISTEN``s on that channel and marks the
  named route dirty: its next read goes to the database, and the answer refills the entry.
* The cache serves only while that connection is up. It starts empty after every (re)connect,
  because notifications sent while it was down are lost; while it is down, every read goes to
  the database (correct, only slower). A load that raced with a notification is not kept.
* A write through this worker's own API forgets the route before it answers (``forget``), so a
  client reads its own write on the same worker at once. Another worker or process learns of it
  when PostgreSQL delivers the notification, a few milliseconds after the commit: a read there in
  between returns the previous version of the route (its ``version`` field says which). Writes are
  unaffected: they name the version they replace and get 409 when it is not current.

What it holds: for each tenant read since the connection came up, all of the tenant's routes
(loaded once with one query, under the tenant's row-level security), as the JSON bytes the
endpoint sends. Tenants beyond ``max_routes`` routes in all are not cached (read from the database).
SQLite has no channel, so the cache exists only on PostgreSQL.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Final

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import Engine

from aion_assets.core.errors import NotFoundError
from aion_assets.registry.store import RegistryStore

log = logging.getLogger(__name__)

CHANNEL: Final = "aion_registry_routes"
#: The listener's ``application_name`` (how an operator finds it in ``pg_stat_activity``).
APPLICATION_NAME: Final = "aion-route-reads"
#: What ``cached`` returns when it cannot answer (the caller then calls ``read`` in a thread).
MISS: Final = object()
#: How long the listener waits for a notification before it looks at its stop flag again.
POLL_SECONDS: Final = 0.5
#: The longest wait between two attempts to reconnect the listener.
MAX_RECONNECT_SECONDS: Final = 30.0


@dataclass
class _Tenant:
    routes: dict[str, bytes]
    dirty: set[str] = field(default_factory=set)


class RouteReads:
    """Route reads of one API worker, answered from memory while a ``LISTEN`` connection is up.

    Args:
        store: the registry store that reads on a miss.
        engine: the PostgreSQL engine whose connection parameters the listener uses.
        max_routes: the most routes held in all (a tenant that would go beyond is read from the database).
        reconnect_seconds: the wait between attempts when the listener's connection is lost.
        check_seconds: how often an idle listener checks that its connection is alive.
    """

    def __init__(
        self,
        store: RegistryStore,
        engine: Engine,
        *,
        max_routes: int = 200_000,
        reconnect_seconds: float = 1.0,
        check_seconds: float = 10.0,
    ) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("the route read cache needs PostgreSQL (LISTEN/NOTIFY)")
        self._store = store
        self._engine = engine
        self._max_routes = max_routes
        self._reconnect_seconds = reconnect_seconds
        self._check_seconds = check_seconds
        self._lock = threading.Lock()
        self._tenants: dict[str, _Tenant] = {}
        self._generation: dict[str, int] = {}
        self._held = 0
        self._loading: set[str] = set()
        self._live = False
        self._epoch = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._up = threading.Event()
        self.counts = {"hit": 0, "miss": 0, "bypass": 0}

    # -- reads -------------------------------------------------------------------------------

    def cached(self, tenant_id: str, agent_id: str) -> bytes | object | None:
        """The route's JSON from memory; None when the tenant has no such route; MISS when unknown here.

        Never blocks on the network: safe to call in the event loop.
        """
        with self._lock:
            if not self._live:
                self.counts["bypass"] += 1
                return MISS
            tenant = self._tenants.get(tenant_id)
            if tenant is None or agent_id in tenant.dirty:
                self.counts["miss"] += 1
                return MISS
            self.counts["hit"] += 1
            return tenant.routes.get(agent_id)

    def read(self, tenant_id: str, agent_id: str) -> bytes:
        """The route's JSON from the database, keeping what was read when it is still current (blocks).

        Raises:
            NotFoundError: the tenant has no route for AGENT_ID.
            StoreUnavailableError: the database cannot be reached.
        """
        with self._lock:
            epoch, generation = self._epoch, self._generation.get(tenant_id, 0)
            load = self._live and tenant_id not in self._tenants and tenant_id not in self._loading
            if load:
                self._loading.add(tenant_id)
        if load:
            try:
                listed = self._store.list_routes(tenant_id)
                routes = {route.agent_id: route.model_dump_json().encode() for route in listed}
            finally:
                with self._lock:
                    self._loading.discard(tenant_id)
            self._keep_tenant(tenant_id, routes, epoch, generation)
            found = routes.get(agent_id)
        else:
            try:
                found = self._store.get_route(tenant_id, agent_id).model_dump_json().encode()
            except NotFoundError:
                found = None
            self._keep_route(tenant_id, agent_id, found, epoch, generation)
        if found is None:
            raise NotFoundError(f"no route for agent {agent_id}")
        return found

    def _keep_tenant(self, tenant_id: str, routes: dict[str, bytes], epoch: int, generation: int) -> None:
        with self._lock:
            current = self._live and self._epoch == epoch and self._generation.get(tenant_id, 0) == generation
            if current and tenant_id not in self._tenants and self._held + len(routes) <= self._max_routes:
                self._tenants[tenant_id] = _Tenant(routes)
                self._held += len(routes)

    def _keep_route(self, tenant_id: str, agent_id: str, found: bytes | None, epoch: int, generation: int) -> None:
        with self._lock:
            tenant = self._tenants.get(tenant_id)
            current = self._live and self._epoch == epoch and self._generation.get(tenant_id, 0) == generation
            if tenant is None or not current:
                return
            before = tenant.routes.pop(agent_id, None)
            if found is not None:
                tenant.routes[agent_id] = found
            self._held += (found is not None) - (before is not None)
            tenant.dirty.discard(agent_id)

    # -- changes -----------------------------------------------------------------------------

    def forget(self, tenant_id: str, agent_id: str) -> None:
        """Mark a route changed (a notification, or a write through this worker's API)."""
        with self._lock:
            self._generation[tenant_id] = self._generation.get(tenant_id, 0) + 1
            tenant = self._tenants.get(tenant_id)
            if tenant is not None:
                tenant.dirty.add(agent_id)

    def _notified(self, payload: str) -> None:
        tenant_id, _, agent_id = payload.rpartition("/")  # agent ids have no "/", tenant ids may
        if tenant_id:
            self.forget(tenant_id, agent_id)
        else:  # not ours: forget everything rather than guess
            self._reset(live=self._live)

    def _reset(self, *, live: bool) -> None:
        with self._lock:
            self._tenants.clear()
            self._held = 0
            self._epoch += 1
            self._live = live
        if live:
            self._up.set()
        else:
            self._up.clear()

    # -- the listener ------------------------------------------------------------------------

    @property
    def live(self) -> bool:
        """Whether the listener is connected (reads may be answered from memory)."""
        return self._live

    def start(self, *, wait_seconds: float = 5.0) -> None:
        """Start the listener thread; wait up to WAIT_SECONDS for it to connect (reads bypass until then)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._listen, name="aion-route-reads", daemon=True)
        self._thread.start()
        self._up.wait(wait_seconds)

    def stop(self) -> None:
        """Stop the listener (within ``POLL_SECONDS``) and forget everything."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=POLL_SECONDS + 10)
            self._thread = None
        self._reset(live=False)

    def _connect(self) -> Any:
        cargs, cparams = self._engine.dialect.create_connect_args(self._engine.url)
        cparams["application_name"] = APPLICATION_NAME
        conn = self._engine.dialect.loaded_dbapi.connect(*cargs, **cparams)
        conn.autocommit = True
        conn.execute(f"LISTEN {CHANNEL}")
        return conn

    def _listen(self) -> None:
        wait, warned = self._reconnect_seconds, False
        while not self._stop.is_set():
            conn = None
            try:
                conn = self._connect()
                # Empty, then live: anything loaded before LISTEN took effect may have missed a change.
                self._reset(live=True)
                log.info("route read cache listening on %s", CHANNEL)
                wait, warned = self._reconnect_seconds, False
                checked = time.monotonic()
                while not self._stop.is_set():
                    for notice in conn.notifies(timeout=POLL_SECONDS, stop_after=1000):
                        self._notified(notice.payload)
                    if time.monotonic() - checked >= self._check_seconds:
                        conn.execute("SELECT 1")  # a connection that died quietly raises here
                        checked = time.monotonic()
            except Exception as exc:  # the thread must outlive any failure; reads bypass meanwhile
                if not self._stop.is_set():
                    # Once per outage; the retries back off up to MAX_RECONNECT_SECONDS.
                    (log.debug if warned else log.warning)(
                        "route read cache: no listener connection (%s); reads go to the database", exc
                    )
                    warned = True
            finally:
                self._reset(live=False)
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:  # already broken
                        pass
            self._stop.wait(wait)
            wait = min(wait * 2, MAX_RECONNECT_SECONDS)


async def route_json(cache: RouteReads | None, store: RegistryStore, tenant_id: str, agent_id: str) -> bytes:
    """The route's JSON for ``GET /routes/{agent_id}``: from CACHE's memory when it can, else read in a thread.

    Raises:
        NotFoundError: the tenant has no route for AGENT_ID.
    """
    if cache is None:
        route = await run_in_threadpool(store.get_route, tenant_id, agent_id)
        return route.model_dump_json().encode()
    found = cache.cached(tenant_id, agent_id)  # memory only: no thread, no network
    if found is None:
        raise NotFoundError(f"no route for agent {agent_id}")
    if isinstance(found, bytes):
        return found
    return await run_in_threadpool(cache.read, tenant_id, agent_id)

"""The registry store: model versions, their status, routes and the audit log.

One abstract store (:class:`RegistryStore`, MLflow's registry store is the model: every
method documented, driver errors turned into the project's errors) and its SQL
implementation (``registry.sql_store.SqlRegistryStore``, SQLite or PostgreSQL).

Every method takes the caller's tenant and runs in one transaction scoped to it
(``tenant_transaction``), so on PostgreSQL row-level security applies on top of the
explicit ``tenant_id`` filters (the only guard on SQLite). Every write appends an audit
entry in the same transaction: a change without its audit entry is never committed.

Reads run in read-only transactions (SQLite begins them DEFERRED, so a read never queues
behind a writer's lock; PostgreSQL begins them READ ONLY).

Concurrency: route writes are compare-and-set on the route's version, with the row locked
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serializes writers),
so of two writers naming the same version exactly one wins. Two registrations racing on
one manifest or one name collide on a unique constraint; the loser retries and then finds
the winner's row (same manifest) or takes the next name.
"""

from __future__ import annotations

import abc
import uuid

from aion_assets.registry.models import (
    AuditEntry,
    Deployment,
    DeploymentIn,
    EvaluationImport,
    EvaluationImportIn,
    ModelStatus,
    ModelVersion,
    ModelVersionIn,
    Route,
    RouteIn,
)

REGISTER_ATTEMPTS = 5


class RegistryStore(abc.ABC):
    """What the registry offers, whatever stores it. Every method is scoped to one tenant."""

    @abc.abstractmethod
    def register_version(self, tenant_id: str, item: ModelVersionIn, actor: str) -> tuple[ModelVersion, bool]:
        """Register a version of TENANT_ID, content-addressed by its manifest hash.

        Args:
            tenant_id: the caller's tenant.
            item: the validated version; its name is chosen here (see ``naming``).
            actor: who registers it (recorded as ``created_by`` and in the audit log).

        Returns:
            The version and whether it was newly created. Registering a manifest already
            registered returns the stored version unchanged (False), whatever else ITEM says.

        Raises:
            NotFoundError: ``parent_id`` is not a version of this tenant.
            ConflictError: the registration kept colliding with concurrent ones.
        """

    @abc.abstractmethod
    def get_version(self, tenant_id: str, model_id: uuid.UUID) -> ModelVersion:
        """One version of TENANT_ID with its metrics.

        Raises:
            NotFoundError: absent, or another tenant's (the two are not told apart).
        """

    @abc.abstractmethod
    def list_versions(
        self,
        tenant_id: str,
        *,
        domain: str | None = None,
        status: ModelStatus | None = None,
        limit: int = 100,
    ) -> list[ModelVersion]:
        """TENANT_ID's versions, newest first, optionally only one domain and/or status."""

    @abc.abstractmethod
    def transition(
        self,
        tenant_id: str,
        model_id: uuid.UUID,
        target: ModelStatus,
        actor: str,
        *,
        reason: str | None = None,
        four_eyes: bool = False,
    ) -> ModelVersion:
        """Move a version to TARGET along the allowed transitions (``models.TRANSITIONS``).

        Moving a version to the status it already has is a no-op that returns it.

        Args:
            four_eyes: refuse when ACTOR created the version or asked for its approval.

        Returns:
            The version after the move.

        Raises:
            NotFoundError: no such version for this tenant.
            ConflictError: the transition is not allowed (the message says why and what is),
                or a promoted version to retire still serves a route.
            ForbiddenError: FOUR_EYES and ACTOR is the version's creator or requester.
        """

    @abc.abstractmethod
    def set_route(self, tenant_id: str, route: RouteIn, actor: str) -> Route:
        """Create or replace the route of ``route.agent_id`` if it is at ``route.expected_version``.

        Returns:
            The route as stored, at its new version.

        Raises:
            NotFoundError: a named model is not a version of this tenant.
            ConflictError: the route is not at ``expected_version`` (a concurrent write won),
                or a named model is not promoted.
        """

    @abc.abstractmethod
    def get_route(self, tenant_id: str, agent_id: str) -> Route:
        """The route of AGENT_ID. Raises NotFoundError when there is none for this tenant."""

    @abc.abstractmethod
    def list_routes(self, tenant_id: str) -> list[Route]:
        """Every route of TENANT_ID, by agent id."""

    @abc.abstractmethod
    def rollback_route(
        self,
        tenant_id: str,
        agent_id: str,
        actor: str,
        *,
        expected_version: int | None = None,
        reason: str | None = None,
        deploy_webhook_url: str | None = None,
    ) -> Route:
        """Put the route's fallback back as its default.

        The version the route leaves is marked ``retired`` unless another route of the
        tenant still uses it (retiring a version that serves elsewhere would be false).

        Args:
            deploy_webhook_url: when given, the deployment trigger of the new route version
                (``webhooks.deploy_trigger``, ``cause.action`` ``rollback``) is queued for it in the
                webhook outbox in the same transaction as the route change: a committed rollback
                always has its trigger queued, a failed one never does. Delivery is the outbox's.

        Returns:
            The route after the rollback (no fallback: the one it had is now the default).

        Raises:
            NotFoundError: no route for AGENT_ID.
            ConflictError: the route has no fallback, or is not at EXPECTED_VERSION.
        """

    @abc.abstractmethod
    def import_evaluation(
        self, tenant_id: str, item: EvaluationImportIn, actor: str
    ) -> tuple[EvaluationImport, bool]:
        """Store an evaluation computed outside the pipeline as metrics ``<source>/<name>`` of a version.

        Idempotent by ``item.import_id``: the same summary sent again returns the stored import
        unchanged (False); a metric, once stored, is never replaced.

        Returns:
            The import as stored and whether it was new.

        Raises:
            NotFoundError: ``model_id`` is not a version of this tenant.
            ConflictError: ``import_id`` was used for another summary, or the version already
                has one of the metrics (from another import of the same source).
        """

    @abc.abstractmethod
    def set_deployment(self, tenant_id: str, item: DeploymentIn, actor: str) -> Deployment:
        """Create or replace the deployment of ``item.model_id`` in ``item.environment``.

        A write that changes nothing is not audited; any other is, with before and after.

        Returns:
            The deployment as stored.

        Raises:
            NotFoundError: ``model_id`` is not a version of this tenant.
            ConflictError: replicas asked for a retired or rejected version (only 0 is allowed).
        """

    @abc.abstractmethod
    def list_deployments(
        self, tenant_id: str, *, model_id: uuid.UUID | None = None, environment: str | None = None
    ) -> list[Deployment]:
        """TENANT_ID's deployments by model name and environment, optionally of one version and/or environment."""

    @abc.abstractmethod
    def list_audit(
        self, tenant_id: str, *, action: str | None = None, subject: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """TENANT_ID's audit entries, newest first, optionally one action and/or subject."""


# -- rows -> domain objects ---------------------------------------------------------------



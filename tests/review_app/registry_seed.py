"""Registry rows of the console tests, written through the registry API (as the pipeline and an admin would)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aion_assets.registry.http_client import RegistryClient
from aion_assets.registry.models import ModelVersion, Route

from .conftest import token

#: name -> (value, ci_low, ci_high); None bounds: no interval.
Metrics = Mapping[str, tuple[float, float | None, float | None]]


@dataclass
class RegistrySeeder:
    """Registers versions, approves them and sets routes of a tenant through the API."""

    base: str

    def client(self, tenant: str, *roles: str, subject: str) -> RegistryClient:
        """A registry client of TENANT with ROLES, acting as SUBJECT."""
        return RegistryClient(self.base, token(tenant, *roles, subject=subject), max_retries=0)

    def version(self, tenant: str, metrics: Metrics, *, domain: str = "support", by: str = "pipeline",
                status: str = "pending_approval", parent: ModelVersion | None = None,
                **fields: Any) -> ModelVersion:
        """Register a version of TENANT as BY (an admin), with METRICS, waiting for approval by default."""
        body: dict[str, object] = {
            "manifest_sha256": uuid.uuid4().hex * 2,
            "adapter_uri": f"file:///adapters/{uuid.uuid4().hex}",
            "base_model": "qwen2.5-0.5b",
            "domain": domain,
            "status": status,
            "parent_id": str(parent.id) if parent else None,
            "dataset_version": f"ds-{uuid.uuid4().hex[:6]}",
            "evaluation_run_id": f"eval-{uuid.uuid4().hex[:6]}",
            "source_edit_count": 40,
            "metrics": [{"name": n, "value": v, "ci_low": lo, "ci_high": hi} for n, (v, lo, hi) in metrics.items()],
        }
        with self.client(tenant, "admin", subject=by) as rc:
            return rc.register_model(body | fields)

    def promoted(self, tenant: str, metrics: Metrics, *, domain: str = "support", parent: ModelVersion | None = None,
                 **fields: Any) -> ModelVersion:
        """A promoted version of TENANT: registered by ``pipeline``, approved by ``release-manager``."""
        version = self.version(tenant, metrics, domain=domain, parent=parent, **fields)
        with self.client(tenant, "reviewer", subject="release-manager") as rc:
            return rc.approve(version.id, reason="seeded")

    def route(self, tenant: str, agent: str, default: ModelVersion, fallback: ModelVersion | None) -> Route:
        """Create the route of AGENT (as an admin ``ops``)."""
        with self.client(tenant, "admin", subject="ops") as rc:
            return rc.set_route({"agent_id": agent, "default_model_id": default.id,
                                 "fallback_model_id": fallback.id if fallback else None, "expected_version": 0})

    def read(self, tenant: str, model_id: object) -> ModelVersion:
        """A version as stored, read through the API."""
        with self.client(tenant, "reader", subject="check") as rc:
            return rc.get_model(str(model_id))

    def read_route(self, tenant: str, agent: str) -> Route:
        """A route as stored, read through the API."""
        with self.client(tenant, "reader", subject="check") as rc:
            return rc.get_route(agent)

"""``seal/promotion_decision``: the evaluated candidate is registered as promoted, pending or rejected.

Partitioned like ``seal/evaluation_report`` (one partition per ``tenant/domain``). It reads the
adapter through its :class:`~aion_assets.seal.refs.AdapterRef` and the evaluation of that very
adapter (a report of another adapter is refused: evaluate the latest adapter first), pinned to the
package trained (``seal.pinning``: the evaluation's ``manifest_sha256`` and the manifest the store
holds must both be the one ``seal/lora_adapter`` recorded, else nothing is registered), decides with
:func:`aion_assets.seal.promotion.decide` under the tenant/domain's ``promotion:`` thresholds, and
writes the outcome to the registry (see :mod:`aion_assets.seal.promotion` for the crash-safety
argument). Its blocking check ``promotion_passed`` stops ``registry/route_table`` in the same run
when the candidate is rejected.

Runs: the learning run ends with ``seal/evaluation_report``, whose blocking gate would skip this
asset in the same run. Its automation condition (``after_evaluation``, evaluated by the
``aion_automation`` sensor) requests it in a run of its own once a new evaluation lands, so a
failed gate is still recorded (rejected, with an alert): that run reads the gate's verdict from
the report's metadata. ``registry/route_table`` follows only after a decision whose blocking
check passed.
"""

import json
from dataclasses import dataclass
from typing import Any

import dagster as dg

from aion_assets.core.errors import ArtifactError, NotFoundError
from aion_assets.core.resources import ArtifactStoreResource
from aion_assets.memory.resources import MemoryStoreResource
from aion_assets.registry.alerts import alertmanager_payload
from aion_assets.registry.models import ModelVersion
from aion_assets.registry.resources import RegistryResource
from aion_assets.seal.assets import evaluation_report, lora_adapter
from aion_assets.seal.partitions import split_partition_key, tenant_domain_partitions
from aion_assets.seal.pinning import MANIFEST_SHA256, check_pinned, pinned_adapter
from aion_assets.seal.promotion import Candidate, Decision, agents_of, apply_decision, decide, serving_version
from aion_assets.seal.resources import SealResource

GROUP = "seal"
PREFIX = ["seal"]
CHECK_NAME = "promotion_passed"
#: Decide as soon as an evaluation lands, in a run of its own when the evaluation's gate failed (so a
#: failed candidate is still recorded as rejected and alerted on); evaluated by ``aion_automation``.
AFTER_EVALUATION = dg.AutomationCondition.eager().with_label("after_evaluation")
ALERT_NAME = "AionPromotionRejected"


@dataclass(frozen=True)
class EvaluationRef:
    """What ``seal/evaluation_report`` tells the promotion: which adapter, the summary, the gate, the run."""

    candidate: str
    baseline: str
    dataset_version: str
    summary: dict[str, Any]
    gate_passed: bool
    run_id: str
    report_uri: str | None
    #: The content address of the package that was evaluated (None: recorded by an older version).
    manifest_sha256: str | None = None


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, dg.MetadataValue) else value


def _record(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str) -> Any:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        raise NotFoundError(
            f"{key.to_user_string()} has no materialization of partition {partition!r}; materialize it first"
        )
    return records[0]


def latest_evaluation(instance: dg.DagsterInstance, partition: str) -> EvaluationRef:
    """The latest ``seal/evaluation_report`` of PARTITION.

    Raises:
        NotFoundError: never evaluated.
        ArtifactError: the metadata lacks a key (recorded by an older version).
    """
    record = _record(instance, evaluation_report.key, partition)
    meta = {k: _plain(v) for k, v in record.asset_materialization.metadata.items()}
    missing = [k for k in ("candidate", "baseline", "dataset_version", "summary", "gate_passed") if meta.get(k) is None]
    if missing:
        raise ArtifactError(
            f"seal/evaluation_report partition {partition!r}: the metadata has no {', '.join(missing)}; "
            "materialize it again"
        )
    summary = meta["summary"]
    if isinstance(summary, str):
        summary = json.loads(summary)
    return EvaluationRef(
        candidate=str(meta["candidate"]),
        baseline=str(meta["baseline"]),
        dataset_version=str(meta["dataset_version"]),
        summary=summary,
        gate_passed=bool(meta["gate_passed"]),
        run_id=record.run_id,
        report_uri=meta.get("report_uri"),
        manifest_sha256=meta.get(MANIFEST_SHA256),
    )


def _source_edit_count(artifacts: ArtifactStoreResource, tenant_id: str, domain: str, dataset: str) -> int | None:
    from aion_assets.registry.lineage import manifest_key

    try:
        doc = json.loads(artifacts.get_store().get_bytes(manifest_key(tenant_id, domain, dataset)))
    except (ArtifactError, NotFoundError, ValueError, OSError):
        return None  # lineage then says why the ids are missing; the count is optional
    ids = doc.get("source_edit_ids") if isinstance(doc, dict) else None
    return len(ids) if isinstance(ids, list) else None


def _alert(tenant_id: str, domain: str, version: ModelVersion, decision: Decision) -> dict[str, Any]:
    return alertmanager_payload(
        ALERT_NAME,
        {"severity": "warning", "tenant": tenant_id, "domain": domain, "model": version.name},
        {
            "summary": f"candidate {version.name} of {tenant_id}/{domain} was not promoted",
            "description": "; ".join(decision.reasons),
            "model_id": str(version.id),
            "evaluation_run_id": version.evaluation_run_id or "",
        },
        starts_at=version.created_at,
    )


@dg.asset(
    key_prefix=PREFIX,
    group_name=GROUP,
    deps=[evaluation_report],
    partitions_def=tenant_domain_partitions,
    kinds={"postgres"},
    automation_condition=AFTER_EVALUATION,
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_NAME,
            asset=dg.AssetKey([*PREFIX, "promotion_decision"]),
            blocking=True,
            description="The candidate met the promotion thresholds; a rejected candidate stops the route table.",
        )
    ],
)
def promotion_decision(
    context: dg.AssetExecutionContext,
    memory: MemoryStoreResource,
    artifacts: ArtifactStoreResource,
    seal: SealResource,
    registry: RegistryResource,
) -> dg.MaterializeResult:
    """Promotion decision on the evaluated adapter, registered in the model registry with its reasons."""
    partition = context.partition_key
    tenant_id, domain = split_partition_key(partition)
    pinned = pinned_adapter(context.instance, lora_adapter.key, partition)
    adapter, manifest = pinned.ref, pinned.manifest_sha256
    evaluation = latest_evaluation(context.instance, partition)
    if evaluation.candidate != adapter.version:
        raise ArtifactError(
            f"{partition}: the latest evaluation is of {evaluation.candidate}, not of the latest adapter "
            f"{adapter.version}; materialize seal/evaluation_report first"
        )
    if evaluation.manifest_sha256 != manifest:
        raise ArtifactError(
            f"{partition}: the latest evaluation of {adapter.version} evaluated the package with manifest sha256 "
            f"{evaluation.manifest_sha256}, the adapter records {manifest}; materialize seal/evaluation_report again"
        )
    # What is registered under this content address must be what the store holds at adapter_uri.
    check_pinned(artifacts.get_store(), pinned)
    thresholds = seal.load_config().promotion_for(tenant_id, domain)
    decision = decide(evaluation.summary, thresholds, gate_passed=evaluation.gate_passed)
    store = registry.get_store()
    tenant = memory.get_store().get_tenant(tenant_id)
    agents = agents_of(tenant.config if tenant is not None else None, domain)
    parent = serving_version(store, tenant_id, domain, agents)
    candidate = Candidate(
        tenant_id=tenant_id,
        domain=domain,
        base_model=adapter.base,
        adapter_uri=adapter.uri,
        manifest_sha256=str(manifest),
        dataset_version=adapter.dataset.version,
        evaluation_run_id=evaluation.run_id or None,
        source_edit_count=_source_edit_count(artifacts, tenant_id, domain, adapter.dataset.version),
        parent_id=parent.id if parent is not None else None,
        description=f"{adapter.version} trained on dataset {adapter.dataset.version}",
    )
    outbox = registry.get_outbox() if registry.alert_webhook_url else None
    url = registry.alert_webhook_url

    def enqueue(version: ModelVersion, why: Decision) -> bool:
        assert outbox is not None and url is not None
        return outbox.enqueue(
            tenant_id, f"promotion.rejected:{version.id}", "alert", url, _alert(tenant_id, domain, version, why)
        )

    outcome = apply_decision(
        store, candidate, decision, thresholds, actor=registry.actor, enqueue_alert=enqueue if outbox else None
    )
    delivered = None
    if outbox is not None and outcome.alert_queued:
        # One immediate try; a receiver that is down leaves it to the webhook sensor's retries.
        delivered = outbox.drain(tenant_id).delivered > 0
    verdict = "passed" if decision.passed else "failed"
    context.log.info(
        f"{partition}: candidate {adapter.version} {verdict} -> {outcome.status.value}"
        f"{' (dry run: nothing registered)' if thresholds.dry_run else ''}; reasons: {list(decision.reasons)}"
    )
    version = outcome.version
    return dg.MaterializeResult(
        metadata={
            "decision": dg.MetadataValue.json(decision.to_metadata()),
            "passed": decision.passed,
            "reasons": dg.MetadataValue.md("\n".join(f"- {r}" for r in decision.reasons) or "none"),
            "status": outcome.status.value,
            "dry_run": thresholds.dry_run,
            "auto_promote": thresholds.auto_promote,
            "candidate": adapter.version,
            "baseline": evaluation.baseline,
            "model_id": str(version.id) if version is not None else None,
            "model_name": version.name if version is not None else None,
            "newly_registered": outcome.created,
            "parent_id": str(parent.id) if parent is not None else None,
            "agents": dg.MetadataValue.json(agents),
            "evaluation_run_id": evaluation.run_id,
            "alert_queued": outcome.alert_queued,
            "alert_delivered": delivered,
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=CHECK_NAME,
                passed=decision.passed,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={
                    "status": outcome.status.value,
                    "reasons": dg.MetadataValue.md("\n".join(f"- {r}" for r in decision.reasons) or "none"),
                },
            )
        ],
    )


assets = [promotion_decision]

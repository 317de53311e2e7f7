"""``seal/promotion_decision`` -> ``registry/route_table`` through ``dg.materialize``, on SQLite and PostgreSQL.

Protects: the decision path after an evaluation. A better candidate is registered as promoted and
routed (the previous one becomes the fallback and the new version's parent); a worse one (failed
evaluation gate, or a gain inside the noise) is registered as rejected, raises an Alertmanager alert
that a real HTTP receiver gets, signed, and never reaches a route: the blocking checks stop
``route_table`` in the same run; auto-promotion off leaves it pending until a reviewer approves,
and the approvals sensor then requests the route table run; dry run changes nothing; the audit
chain route -> model -> evaluation run -> dataset -> source edits is complete.

The adapter and its evaluation are stand-in assets under the real keys (``seal/lora_adapter``,
``seal/evaluation_report`` with its blocking gate) that record the metadata the real ones record:
the code under test (decision, registry writes, routes, outbox, sensor) is the real one, without a
model in the loop.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from aion_assets.core.artifacts import artifact_store_from_uri
from aion_assets.core.resources import ArtifactStoreResource
from aion_assets.memory.resources import MemoryStoreResource
from aion_assets.registry.assets import route_table
from aion_assets.registry.lineage import manifest_key, model_detail
from aion_assets.registry.models import ModelStatus
from aion_assets.registry.resources import RegistryResource
from aion_assets.registry.sensors import approved_promotions_sensor
from aion_assets.registry.sql_store import SqlRegistryStore
from aion_assets.registry.webhooks import SIGNATURE_HEADER, verify
from aion_assets.seal.assets import CHECK_NAME, evaluation_report, lora_adapter
from aion_assets.seal.partitions import TENANT_DOMAINS, tenant_domain_partitions
from aion_assets.seal.promotion_assets import promotion_decision
from aion_assets.seal.refs import AdapterRef, DatasetRef
from aion_assets.seal.resources import SealResource
from tests.conftest import Database

pytestmark = pytest.mark.filterwarnings("ignore::dagster.PreviewWarning")

SECRET = "webhook-secret-for-tests"
DOMAIN = "support"
BASE = {"rougeL_body": 0.30, "fact_recall": 0.50, "style": 0.80, "bleu_body": 0.20}

#: What the stand-in upstream assets record in the next run (set by each test).
UPSTREAM: dict[str, Any] = {}


def summary(gain: float, ci: tuple[float, float], fact_recall: float = 0.6) -> dict[str, Any]:
    """An evaluation summary: candidate = baseline + GAIN on rougeL_body (interval CI)."""
    cand = {**BASE, "rougeL_body": BASE["rougeL_body"] + gain, "fact_recall": fact_recall}
    return {
        "dataset_id": "x",
        "models": {
            "baseline": {"model_version": "serving", "metrics": BASE},
            "candidate": {"model_version": "cand", "metrics": cand},
            "control": {"model_version": "control", "metrics": BASE},
        },
        "vs_baseline": {"rougeL_body": {"diff": gain, "low": ci[0], "high": ci[1]}},
    }


GOOD = summary(0.10, (0.05, 0.15))
NOISE = summary(0.02, (-0.01, 0.05))
#: What a zeroed adapter scores: the base model's answers, minus nothing; key facts lost.
BROKEN = summary(-0.05, (-0.08, -0.02), fact_recall=0.2)


@dg.asset(key=lora_adapter.key, partitions_def=tenant_domain_partitions, group_name="seal")
def standin_adapter() -> dg.MaterializeResult:
    """Records what seal/lora_adapter records."""
    return dg.MaterializeResult(metadata=UPSTREAM["adapter"])


@dg.asset(
    key=evaluation_report.key,
    deps=[lora_adapter.key],
    partitions_def=tenant_domain_partitions,
    group_name="seal",
    check_specs=[dg.AssetCheckSpec(CHECK_NAME, asset=evaluation_report.key, blocking=True)],
)
def standin_evaluation() -> Iterator[Any]:
    """Records what seal/evaluation_report records, with its blocking gate."""
    yield dg.MaterializeResult(
        metadata=UPSTREAM["evaluation"],
        check_results=[
            dg.AssetCheckResult(
                check_name=CHECK_NAME,
                passed=UPSTREAM["evaluation"]["gate_passed"],
                severity=dg.AssetCheckSeverity.ERROR,
            )
        ],
    )


ALL = [standin_adapter, standin_evaluation, promotion_decision, route_table]


class Receiver:
    """A real HTTP webhook receiver on a loopback port; answers 503 while ``down``."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.down = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if outer.down:
                    self.send_response(503)
                else:
                    outer.received.append((dict(self.headers), body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver for the test."""
    r = Receiver()
    yield r
    r.close()


class Path_:
    """Resources, instance and helpers of one test's decision path."""

    def __init__(
        self, database: Database, tmp_path: Path, tenant: str, receiver: Receiver, instance: dg.DagsterInstance
    ) -> None:
        self.tenant = tenant
        self.partition = f"{tenant}/{DOMAIN}"
        self.artifacts_uri = (tmp_path / "artifacts").as_uri()
        self.config_path = tmp_path / "seal.yaml"
        self.set_promotion({})
        self.database_url, self.receiver_url = database.url, receiver.url
        self.registry = self._registry()
        self.resources = {
            "memory": MemoryStoreResource(database_url=database.url, pool_size=1),
            "artifacts": ArtifactStoreResource(uri=self.artifacts_uri),
            "seal": SealResource(config_path=str(self.config_path), home=str(tmp_path / "home")),
            "registry": self.registry,
        }
        self.instance = instance
        self.instance.add_dynamic_partitions(TENANT_DOMAINS, [self.partition])
        self.store: SqlRegistryStore = self.registry.get_store()

    def _registry(self, **more: Any) -> RegistryResource:
        return RegistryResource(
            database_url=self.database_url,
            alert_webhook_url=self.receiver_url,
            webhook_secret=SECRET,
            webhook_base_delay=0.001,
            **more,
        )

    def use_registry(self, **more: Any) -> None:
        """Rebuild the registry resource with MORE settings."""
        self.registry.get_store().engine.dispose()
        self.registry = self.resources["registry"] = self._registry(**more)
        self.store = self.registry.get_store()

    def set_promotion(self, promotion: dict[str, Any]) -> None:
        doc = {"tenants": {self.tenant: {"promotion": promotion}}} if promotion else {}
        self.config_path.write_text(yaml.safe_dump(doc))

    def candidate(self, name: str, evaluation: dict[str, Any], *, gate_passed: bool = True) -> str:
        """Set the next run's adapter NAME (fresh weights) with EVALUATION; returns its manifest hash."""
        # The package's manifest in the store: the promotion checks it still hashes to what was recorded.
        manifest_bytes = json.dumps({"tenant": self.tenant, "version": name}).encode()
        manifest = hashlib.sha256(manifest_bytes).hexdigest()
        dataset = DatasetRef(
            version=f"ds-{name}",
            content_hash="0" * 64,
            train_key=f"datasets/{self.tenant}/{DOMAIN}/ds-{name}/train.jsonl",
            eval_key=f"datasets/{self.tenant}/{DOMAIN}/ds-{name}/eval.jsonl",
            uri=f"{self.artifacts_uri}/datasets/{self.tenant}/{DOMAIN}/ds-{name}",
            min_reward=0.5,
            min_rows=1,
        )
        adapter = AdapterRef(
            version=name,
            prefix=f"seal-adapters/{name}",
            uri=f"{self.artifacts_uri}/seal-adapters/{name}",
            base="aion-base",
            base_sha256="1" * 64,
            dataset=dataset,
        )
        # The dataset's manifest, as seal/sft_dataset writes it (the lineage reads the edit ids there).
        store = artifact_store_from_uri(self.artifacts_uri)
        store.put_bytes(f"{adapter.prefix}/manifest.json", manifest_bytes)
        store.put_bytes(
            manifest_key(self.tenant, DOMAIN, dataset.version),
            json.dumps(
                {"tenant_id": self.tenant, "version": dataset.version, "source_edit_ids": [f"{name}-e1", f"{name}-e2"]}
            ).encode(),
        )
        UPSTREAM["adapter"] = {**adapter.to_metadata(), "manifest_sha256": manifest}
        UPSTREAM["evaluation"] = {
            "candidate": name,
            "manifest_sha256": manifest,
            "baseline": "serving",
            "dataset_version": dataset.version,
            "summary": dg.MetadataValue.json(evaluation),
            "gate_passed": gate_passed,
        }
        return manifest

    def run(self, selection: list[Any]) -> dg.ExecuteInJobResult:
        return dg.materialize(
            ALL,
            selection=selection,
            partition_key=self.partition,
            resources=self.resources,
            instance=self.instance,
            raise_on_error=False,
        )

    def decision(self, result: dg.ExecuteInJobResult) -> dict[str, Any]:
        (mat,) = result.asset_materializations_for_node(promotion_decision.op.name)
        return {k: v.value for k, v in mat.metadata.items()}

    def version(self, manifest: str) -> Any:
        found = [v for v in self.store.list_versions(self.tenant) if v.manifest_sha256 == manifest]
        return found[0] if found else None

    def route(self) -> Any:
        routes = self.store.list_routes(self.tenant)
        return routes[0] if routes else None


@pytest.fixture
def path(database: Database, tmp_path: Path, tenant: str, receiver: Receiver) -> Iterator[Path_]:
    # A persistent (temporary) instance: the sensor's partitioned run requests resolve against it.
    with dg.instance_for_test() as instance:
        p = Path_(database, tmp_path, tenant, receiver, instance)
        yield p
        p.registry.get_store().engine.dispose()


def test_better_candidates_are_promoted_and_routed_with_the_previous_as_fallback(path: Path_,
                                                                                  receiver: Receiver) -> None:
    # Route changes are posted as deployment triggers (to the same receiver here; no alert is expected).
    path.use_registry(deploy_webhook_url=receiver.url)
    first = path.candidate("v1", GOOD)
    result = path.run(ALL)
    assert result.success
    meta = path.decision(result)
    assert meta["status"] == "promoted" and meta["passed"] is True and meta["parent_id"] is None
    v1 = path.version(first)
    assert v1.status is ModelStatus.promoted and v1.dataset_version == "ds-v1" and v1.source_edit_count == 2
    assert {m.name for m in v1.metrics} >= {"rougeL_body", "rougeL_body.diff", "fact_recall"}
    route = path.route()
    assert (route.agent_id, route.default_model_id, route.fallback_model_id) == (DOMAIN, v1.id, None)

    second = path.candidate("v2", GOOD)
    assert path.run(ALL).success
    v2 = path.version(second)
    assert v2.status is ModelStatus.promoted and v2.parent_id == v1.id  # parent = what served the route
    route = path.route()
    assert (route.default_model_id, route.fallback_model_id, route.version) == (v2.id, v1.id, 2)

    # Running again changes nothing: same manifest, same version, route not rewritten.
    again = path.run([promotion_decision, route_table])
    assert again.success and path.decision(again)["newly_registered"] is False
    assert path.route().version == 2
    (table,) = again.asset_materializations_for_node(route_table.op.name)
    snapshot_uri = table.metadata["snapshot_uri"].value
    assert table.metadata["snapshot_version"].value == 3
    doc = json.loads(Path(snapshot_uri.removeprefix("file://")).read_text())
    assert doc["snapshot_version"] == 3 and doc["routes"][0]["default_model_id"] == str(v2.id)
    # One signed deployment trigger per route version, none for the unchanged re-run, no alert.
    triggers = [json.loads(body) for headers, body in receiver.received if verify(SECRET.encode(), body,
                                                                                headers[SIGNATURE_HEADER])]
    assert len(triggers) == len(receiver.received) == 2
    assert [(t["event"], t["route_version"], t["default"]["id"]) for t in triggers] == [
        ("route.changed", 1, str(v1.id)),
        ("route.changed", 2, str(v2.id)),
    ]
    assert triggers[1]["fallback"]["id"] == str(v1.id)


def test_a_broken_adapter_is_never_promoted_and_alerts(path: Path_, receiver: Receiver) -> None:
    good = path.candidate("v1", GOOD)
    assert path.run(ALL).success
    serving = path.version(good)

    # The evaluation gate fails: in the same run neither the decision nor the route table runs.
    broken = path.candidate("zeroed", BROKEN, gate_passed=False)
    blocked = path.run(ALL)
    assert not blocked.success
    assert not blocked.asset_materializations_for_node(route_table.op.name)
    assert path.version(broken) is None and path.route().default_model_id == serving.id

    # The decision in a run of its own records the rejection, with the reasons, and alerts.
    decided = path.run([promotion_decision, route_table])
    assert not decided.success  # its blocking check failed ...
    assert not decided.asset_materializations_for_node(route_table.op.name)  # ... so no route table
    meta = path.decision(decided)
    assert meta["status"] == "rejected" and meta["alert_queued"] is True and meta["alert_delivered"] is True
    rejected = path.version(broken)
    assert rejected.status is ModelStatus.rejected
    assert "candidate_not_worse_than_baseline failed" in (rejected.status_reason or "")
    assert path.route().default_model_id == serving.id and path.route().version == 1

    ((headers, body),) = receiver.received
    assert verify(SECRET.encode(), body, headers[SIGNATURE_HEADER])
    alert = json.loads(body)
    assert alert["version"] == "4" and alert["status"] == "firing"
    labels = alert["alerts"][0]["labels"]
    assert (labels["alertname"], labels["tenant"], labels["model"]) == ("AionPromotionRejected", path.tenant,
                                                                       rejected.name)
    assert "fact_recall: dropped" in alert["alerts"][0]["annotations"]["description"]


def test_a_gain_inside_the_noise_is_rejected_and_the_route_table_stays(path: Path_, receiver: Receiver) -> None:
    noisy = path.candidate("v1", NOISE)
    result = path.run(ALL)
    # The evaluation gate passed; the promotion's own blocking check failed and stopped the route table.
    assert not result.success
    assert not result.asset_materializations_for_node(route_table.op.name)
    assert path.version(noisy).status is ModelStatus.rejected and path.route() is None
    assert len(receiver.received) == 1


def test_a_receiver_that_is_down_delays_the_alert_and_never_loses_it(path: Path_, receiver: Receiver) -> None:
    receiver.down = True
    path.candidate("v1", NOISE)
    meta = path.decision(path.run([standin_adapter, standin_evaluation, promotion_decision]))
    assert meta["alert_queued"] is True and meta["alert_delivered"] is False
    outbox = path.registry.get_outbox()
    (entry,) = outbox.entries(path.tenant)
    assert entry.status == "pending" and entry.attempts == 1 and entry.last_error == "HTTP 503"
    receiver.down = False
    while outbox.entries(path.tenant)[0].status == "pending":  # the backoff is a millisecond here
        outbox.drain(path.tenant)
    (entry,) = outbox.entries(path.tenant)
    assert entry.status == "delivered"
    attempts = outbox.attempts(path.tenant, entry.id)
    assert attempts[0].status_code == 503 and attempts[-1].status_code == 200
    assert len(receiver.received) == 1


def test_auto_promotion_off_waits_for_approval_then_the_sensor_routes_it(path: Path_) -> None:
    path.set_promotion({"auto_promote": False})
    manifest = path.candidate("v1", GOOD)
    result = path.run(ALL)
    assert result.success and path.decision(result)["status"] == "pending_approval"
    version = path.version(manifest)
    assert version.status is ModelStatus.pending_approval and path.route() is None

    definitions = dg.Definitions(assets=ALL, sensors=[approved_promotions_sensor], resources=path.resources)

    def tick(cursor: str | None) -> Any:
        with dg.build_sensor_context(
            instance_ref=path.instance.get_ref(),
            cursor=cursor,
            resources={"registry": path.registry},
            definitions=definitions,
        ) as context:
            return approved_promotions_sensor.evaluate_tick(context)

    quiet = tick(None)
    assert not quiet.run_requests and "no approval" in (quiet.skip_message or "")
    path.store.transition(path.tenant, version.id, ModelStatus.promoted, "reviewer", four_eyes=True)
    data = tick(quiet.cursor)
    (request,) = data.run_requests
    assert request.run_key == f"approved:{version.id}" and request.partition_key == path.partition
    assert not tick(data.cursor).run_requests  # the cursor moved on

    assert path.run([route_table]).success
    assert path.route().default_model_id == version.id


def test_dry_run_decides_and_changes_nothing(path: Path_, receiver: Receiver) -> None:
    path.set_promotion({"dry_run": True})
    good = path.candidate("v1", GOOD)
    meta = path.decision(path.run(ALL))
    assert meta["dry_run"] is True and meta["status"] == "promoted" and meta["model_id"] is None
    noisy = path.candidate("v2", NOISE)
    meta = path.decision(path.run([standin_adapter, standin_evaluation, promotion_decision]))
    assert meta["status"] == "rejected" and meta["alert_queued"] is False
    assert path.version(good) is None and path.version(noisy) is None
    assert path.store.list_versions(path.tenant) == [] and path.route() is None
    assert path.registry.get_outbox().entries(path.tenant) == [] and receiver.received == []


def test_rollback_then_the_audit_chain_from_route_to_source_edits(path: Path_) -> None:
    path.candidate("v1", GOOD)
    v1_run = path.run(ALL)
    assert v1_run.success
    second = path.candidate("v2", GOOD)
    v2_run = path.run(ALL)
    assert v2_run.success
    v2 = path.version(second)

    # The chain: route -> model -> evaluation run -> dataset -> source edits.
    route = path.route()
    model = path.store.get_version(path.tenant, route.default_model_id)
    assert model.id == v2.id
    (evaluation,) = v2_run.asset_materializations_for_node(standin_evaluation.op.name)
    assert model.evaluation_run_id == v2_run.run_id and evaluation.metadata["dataset_version"].value == "ds-v2"
    detail = model_detail(path.store, artifact_store_from_uri(path.artifacts_uri), path.tenant, model)
    assert detail.lineage.dataset_version == "ds-v2"
    assert detail.lineage.source_edit_ids == ["v2-e1", "v2-e2"] and detail.lineage.source_edit_ids_error is None
    assert detail.lineage.parent is not None and detail.lineage.parent.id == route.fallback_model_id
    actions = [e.action for e in path.store.list_audit(path.tenant)]
    assert actions.count("model.register") == 2 and actions.count("route.set") == 2

    # Rollback puts v1 back and retires v2.
    after = path.store.rollback_route(path.tenant, DOMAIN, "operator", reason="test")
    assert after.default_model_id == route.fallback_model_id and after.fallback_model_id is None
    assert path.store.get_version(path.tenant, v2.id).status is ModelStatus.retired
    (entry,) = path.store.list_audit(path.tenant, action="route.rollback")
    assert entry.actor == "operator" and entry.after is not None
    assert uuid.UUID(str(entry.after["left_model_id"])) == v2.id


def test_automation_decides_after_a_failed_gate_and_routes_only_after_passed_checks(path: Path_) -> None:
    """The learning run stops at a failed gate; the automation conditions then request the decision
    (in a run of its own, so the rejection is recorded) but the route table only with a passing decision."""
    definitions = dg.Definitions(assets=ALL, resources=path.resources)

    def evaluate(cursor: Any) -> Any:
        return dg.evaluate_automation_conditions(defs=definitions, instance=path.instance, cursor=cursor)

    cursor = evaluate(None).cursor  # the first evaluation only sets the baseline
    path.candidate("zeroed", BROKEN, gate_passed=False)
    assert not path.run([standin_adapter, standin_evaluation]).success  # the learning run, stopped by its gate
    tick = evaluate(cursor)
    assert tick.get_requested_partitions(promotion_decision.key) == {path.partition}
    assert path.decision(path.run([promotion_decision]))["status"] == "rejected"
    tick = evaluate(tick.cursor)
    assert not tick.get_requested_partitions(route_table.key)  # the decision's blocking check failed

    # A good candidate: decided, and once its decision's check passed, the route table is requested.
    path.candidate("v2", GOOD)
    assert path.run([standin_adapter, standin_evaluation]).success
    tick = evaluate(tick.cursor)
    assert tick.get_requested_partitions(promotion_decision.key) == {path.partition}
    assert path.decision(path.run([promotion_decision]))["status"] == "promoted"
    tick = evaluate(tick.cursor)
    assert tick.get_requested_partitions(route_table.key) == {path.partition}

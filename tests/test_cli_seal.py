"""The before/after table that `aion demo` and `aion seal run` print from an evaluation summary."""

from __future__ import annotations

from aion_assets.cli.seal import print_learning


def test_print_learning_renders_the_figures() -> None:
    ci = {"diff": 0.5, "low": 0.4, "high": 0.6}
    out = {
        "checks": {"candidate_not_worse_than_baseline": True},
        "adapter": {"version": "v1", "steps": 10, "train_seconds": 60, "tokens_per_s": 250, "precision": "bf16",
                    "uri": "file:///a"},
        "report": {
            "examples_uri": "file:///r/examples.jsonl",
            "summary": {
                "models": {
                    "baseline": {"metrics": {"rougeL_body": 0.1, "fact_recall": 0.0, "style": 0.0}},
                    "control": {"metrics": {"rougeL_body": 0.1, "fact_recall": 0.0, "style": 1.0}},
                    "candidate": {"metrics": {"rougeL_body": 0.6, "fact_recall": 0.4, "style": 1.0}},
                },
                "vs_baseline": {"rougeL_body": ci},
            },
        },
    }
    lines: list[str] = []
    print_learning(out, echo=lines.append)
    text = "\n".join(lines)
    assert "body ROUGE-L          0.100    0.100      0.600   +0.500 (+0.400 to +0.600)" in text
    assert "+500% relative to the base model" in text and "gate (blocking check): passed" in text
    failed = out | {"checks": {"candidate_not_worse_than_baseline": False}}
    lines.clear()
    print_learning(failed, echo=lines.append)
    assert any("FAILED" in line for line in lines)


def test_demo_results_show_rows_pii_routes_and_the_audit_chain() -> None:
    """`aion demo`'s per-tenant results (``demo.loop.print_results``) from what the loop produced."""
    import uuid
    from datetime import UTC, datetime, timedelta
    from types import SimpleNamespace

    from aion_assets.demo.loop import print_results
    from aion_assets.registry.models import Lineage, ModelStatus

    approved = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
    model_id = uuid.uuid4()
    old = SimpleNamespace(agent_id="support", default_model_name="aion-base+seal-acme~support@2026.11.28",
                          fallback_model_name=None, version=1, updated_at=approved - timedelta(days=1))
    new = SimpleNamespace(agent_id="support", default_model_name="aion-base+seal-acme~support@2026.11.29",
                          fallback_model_name="aion-base+seal-acme~support@2026.11.28", version=2,
                          updated_at=approved + timedelta(seconds=412), default_model_id=model_id)
    # A second agent of the domain, routed for the first time in the same publication a moment earlier.
    email = SimpleNamespace(agent_id="support-email", default_model_name=new.default_model_name,
                            fallback_model_name=None, version=1, updated_at=approved + timedelta(seconds=411),
                            default_model_id=model_id)
    lineage = Lineage(parent=None, dataset_version="abc123", evaluation_run_id="run-1", source_edit_count=3,
                      dataset_manifest_uri="file:///m.json", source_edit_ids=["e1", "e2", "e3", "e4"],
                      source_edit_ids_total=4, source_edit_ids_error=None)
    model = SimpleNamespace(name=new.default_model_name, id=model_id, status=ModelStatus.promoted,
                            adapter_uri="file:///a", lineage=lineage)
    audit = [SimpleNamespace(at=approved + timedelta(seconds=400), action="model.register",
                             subject=f"model:{model_id}", actor="aion")]
    out = {
        "scrub": {"approved_edits_read": 470, "rows_in": 456, "removed_total": 31,
                  "removed_by_type": {"EMAIL_ADDRESS": 12, "PERSON": 19}},
        "dataset": {"version": "abc123", "rows_train": 370, "rows_eval": 86, "reused_existing_version": False},
        "adapter": None, "report": None, "checks": {},
        "decision": {"status": "promoted", "model_name": new.default_model_name, "reasons": "none"},
        "routes_before": [old], "routes_after": [email, new], "model": model, "audit": audit, "evaluation_rows": 42,
        "last_approval": approved, "failed": False,
    }
    lines: list[str] = []
    print_results("acme/support", out, echo=lines.append)
    text = "\n".join(lines)
    assert "rows kept 456; PII values removed 31 (EMAIL_ADDRESS 12, PERSON 19)" in text
    assert "dataset abc123: 370 train / 86 eval rows" in text
    assert "promotion decision: promoted aion-base+seal-acme~support@2026.11.29" in text
    before, after = text.split("route table after:")
    assert "support: aion-base+seal-acme~support@2026.11.28 (route version 1)" in before
    assert "fallback aion-base+seal-acme~support@2026.11.28 (route version 2)" in after
    assert "support-email: aion-base+seal-acme~support@2026.11.29 (route version 1)" in after
    assert "support-email" not in before
    assert "-> evaluation run run-1 (42 rows in the evaluations table)" in text
    assert "-> 4 source self-edits: e1, e2, e3, ..." in text
    # The latest route change of the publication counts.
    assert "time from the last approval to the route change (support-email, support): 412 s" in text

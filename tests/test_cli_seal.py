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

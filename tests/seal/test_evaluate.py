"""Protects the evaluation suite end to end on a tiny random Llama: three report rows (baseline,
candidate, style-only control) from real generation with PEFT adapters, per-example results,
the evaluations-table rows, the markdown table, the base model left unchanged after adapters
were attached, and the gate's decisions on synthetic reports."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

torch = pytest.importorskip("torch")

from aion_assets.core.errors import ArtifactError, ConfigError  # noqa: E402
from aion_assets.demo import generate_demo_domain  # noqa: E402
from aion_assets.seal.evaluation.bootstrap import paired_bootstrap  # noqa: E402
from aion_assets.seal.evaluation.evaluate import evaluate_candidate  # noqa: E402
from aion_assets.seal.evaluation.generation import generate_answers  # noqa: E402
from aion_assets.seal.evaluation.items import items_from_rows, items_from_scenarios  # noqa: E402
from aion_assets.seal.evaluation.metrics import METRICS  # noqa: E402
from aion_assets.seal.evaluation.report import EvaluationReport, ModelResult, gate  # noqa: E402
from aion_assets.seal.evaluation.scenarios import load_for  # noqa: E402

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def _tiny_tokenizer(texts: list[str]):
    """A byte-level BPE tokenizer trained offline on TEXTS, as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token=None
    )


@pytest.fixture(scope="module")
def domain():
    return generate_demo_domain(seed=3, n_facts=12, paraphrases_per_question=3)


@pytest.fixture(scope="module")
def tiny(domain):
    """(model, tokenizer): a 2-layer random Llama with a tokenizer trained on the demo texts."""
    from transformers import LlamaConfig, LlamaForCausalLM

    texts = [e.interaction["input_text"] for e in domain.examples]
    texts += [e.self_edit["edited_output"] for e in domain.examples]
    tokenizer = _tiny_tokenizer(texts)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).eval()
    return model, tokenizer


def _adapter(model, path: Path, seed: int) -> Path:
    """Save a LoRA adapter with random (non-zero) weights, so it changes the model's answers."""
    import copy

    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    peft_model = get_peft_model(
        copy.deepcopy(model),
        LoraConfig(
            r=4, lora_alpha=64, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False
        ),
    )
    peft_model.save_pretrained(str(path))
    return path


def test_generate_answers_is_deterministic_and_batch_independent(tiny, domain) -> None:
    model, tokenizer = tiny
    prompts = [e.interaction["input_text"] for e in domain.examples[:5]]
    a = generate_answers(model, tokenizer, prompts, max_new_tokens=8, batch_size=2)
    b = generate_answers(model, tokenizer, prompts, max_new_tokens=8, batch_size=5)
    single = [generate_answers(model, tokenizer, [p], max_new_tokens=8)[0] for p in prompts]
    assert a == b
    # Left padding: an answer does not depend on what else is in its batch.
    assert a == single
    assert all(isinstance(x, str) for x in a)
    assert tokenizer.padding_side == "right"  # restored


def test_items_from_rows_keep_system_prompt_and_facts(domain) -> None:
    rows = domain.curated_rows(split="eval")
    items = items_from_rows(rows)
    assert len(items) == len(rows)
    first = items[0]
    assert first.messages[0] == ("system", domain.spec.system_prompt)
    assert first.messages[-1][0] == "user"
    assert first.reference == rows[0]["response"]
    assert first.facts == tuple(rows[0]["metadata"]["facts"])
    with pytest.raises(ConfigError, match="row 0"):
        items_from_rows([{"prompt": "hi"}])


def test_evaluate_candidate_end_to_end(tiny, domain, tmp_path: Path) -> None:
    model, tokenizer = tiny
    before = {k: v.clone() for k, v in model.state_dict().items()}
    adapter = _adapter(model, tmp_path / "cand", seed=1)
    rows = domain.curated_rows(split="eval")[:6]
    suite = load_for("acme", "support")
    report = evaluate_candidate(
        model,
        adapter,
        None,
        rows,
        suite.scenarios[:3],
        domain.style,
        tokenizer=tokenizer,
        system_prompt=domain.spec.system_prompt,
        model_version="aion-base+seal-acme-support@test",
        baseline_version="aion-base",
        dataset_id="acme/support@test",
        max_new_tokens=12,
        n_resamples=200,
        consistency="bow",
    )
    assert set(report.models) == {"baseline", "candidate", "control"}
    for role in ("baseline", "candidate", "control"):
        result = report.models[role]
        assert len(result.examples) == len(rows) + 3
        assert set(METRICS) <= set(result.metrics)
        assert result.metrics["scenario_pass_rate"] is not None
    base_answers = [e["answer"] for e in report.baseline.examples]
    cand_answers = [e["answer"] for e in report.candidate.examples]
    assert base_answers != cand_answers  # the adapter was really applied
    # The control is the baseline's answers in the house frame: style holds everywhere.
    assert report.control.metrics["style"] == 1.0
    assert all(e["answer"].startswith(domain.style.greeting) for e in report.control.examples)
    assert set(report.diffs) >= {"rougeL_body", "fact_recall", "style"}
    # The base model is given back unchanged (adapters unloaded, nothing merged).
    assert not any("lora" in k for k in model.state_dict())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())

    rows_out = report.to_rows(run_id="run-1")
    assert {r["model_version"] for r in rows_out} == {
        "aion-base",
        "aion-base+seal-acme-support@test",
        "aion-base+style-control",
    }
    assert all(r["dataset_id"] == "acme/support@test" and r["run_id"] == "run-1" for r in rows_out)
    cand_rouge = next(
        r for r in rows_out if r["metric_name"] == "rougeL_body" and r["metadata"]["role"] == "candidate"
    )
    assert "vs_baseline" in cand_rouge["metadata"] and "vs_control" in cand_rouge["metadata"]
    md = report.to_markdown()
    assert "| rougeL_body |" in md and "scenario_pass_rate" in md
    out = report.write_examples_jsonl(tmp_path / "examples.jsonl")
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 3 * (len(rows) + 3)
    assert {x["role"] for x in lines} == {"baseline", "candidate", "control"}
    json.dumps(report.summary())  # metadata must be JSON-serializable


def test_evaluate_with_a_baseline_adapter(tiny, domain, tmp_path: Path) -> None:
    model, tokenizer = tiny
    base_ad = _adapter(model, tmp_path / "base", seed=2)
    cand_ad = _adapter(model, tmp_path / "cand", seed=3)
    rows = domain.curated_rows(split="eval")[:4]
    kwargs = dict(tokenizer=tokenizer, max_new_tokens=8, n_resamples=50, consistency=None)
    with_base = evaluate_candidate(model, cand_ad, base_ad, rows, None, domain.style, **kwargs)
    plain = evaluate_candidate(model, cand_ad, None, rows, None, domain.style, **kwargs)
    # Same candidate either way; the baseline differs because an adapter serves it.
    assert [e["answer"] for e in with_base.candidate.examples] == [
        e["answer"] for e in plain.candidate.examples
    ]
    assert [e["answer"] for e in with_base.baseline.examples] != [
        e["answer"] for e in plain.baseline.examples
    ]
    assert with_base.baseline.metrics["consistency"] is None  # skipped on request
    assert not any("lora" in k for k in model.state_dict())


def test_evaluate_rejects_bad_inputs(tiny, domain, tmp_path: Path) -> None:
    model, tokenizer = tiny
    rows = domain.curated_rows(split="eval")[:2]
    with pytest.raises(ConfigError, match="nothing to evaluate"):
        evaluate_candidate(model, None, None, [], None, domain.style, tokenizer=tokenizer)
    with pytest.raises(ArtifactError, match=r"adapter_config\.json"):
        evaluate_candidate(model, tmp_path, None, rows, None, domain.style, tokenizer=tokenizer)
    with pytest.raises(ConfigError, match="tokenizer"):
        evaluate_candidate(model, None, None, rows, None, domain.style)
    with pytest.raises(ConfigError, match=r"no config\.json"):
        evaluate_candidate(tmp_path, None, None, rows, None, domain.style)


def test_items_from_scenarios_use_the_suite_system_prompt() -> None:
    suite = load_for("acme", "support")
    items = items_from_scenarios(suite, system_prompt="ignored")
    assert items[0].messages[0] == ("system", suite.system_prompt)
    assert items[0].assertions is not None and items[0].source == "scenario"


# ----------------------------------------------------------------------------------------------
# Gate on synthetic reports


def _report(base: dict[str, float], cand: dict[str, float], control: dict[str, float] | None = None):
    def result(role: str, metrics: dict[str, float]) -> ModelResult:
        return ModelResult(role=role, model_version=role, metrics=dict(metrics))

    diffs = {
        k: paired_bootstrap([cand[k]] * 5, [base[k]] * 5, metric=k, n_resamples=20) for k in cand if k in base
    }
    return EvaluationReport(
        dataset_id="d",
        models={
            "baseline": result("baseline", base),
            "candidate": result("candidate", cand),
            "control": result("control", control or base),
        },
        diffs=diffs,
        control_diffs={},
    )


def test_gate_passes_an_improvement_and_tolerates_small_drops() -> None:
    r = _report(
        {"rougeL_body": 0.2, "style": 0.5, "scenario_pass_rate": 0.5},
        {"rougeL_body": 0.5, "style": 0.49, "scenario_pass_rate": 0.5},
    )
    assert gate(r, tolerance=0.02).passed
    result = gate(r, tolerance=0.0)
    assert not result.passed and any(reason.startswith("style:") for reason in result.reasons)
    assert gate(r, tolerance={"style": 0.05}).passed


def test_gate_fails_a_regression_and_a_scenario_drop() -> None:
    r = _report(
        {"rougeL_body": 0.5, "fact_recall": 0.4, "scenario_pass_rate": 0.8},
        {"rougeL_body": 0.3, "fact_recall": 0.4, "scenario_pass_rate": 0.7},
    )
    result = gate(r, tolerance=0.05)
    assert not result.passed
    assert any("rougeL_body" in x and "below baseline" in x for x in result.reasons)
    # The pass rate may not drop at all, whatever the tolerance.
    assert any("scenario_pass_rate dropped" in x for x in result.reasons)
    assert not gate(r, tolerance=0.5).passed


def test_gate_can_require_beating_the_style_control() -> None:
    r = _report({"rougeL_body": 0.1}, {"rougeL_body": 0.3}, control={"rougeL_body": 0.35})
    assert gate(r).passed
    result = gate(r, require_beats_control=["rougeL_body"])
    assert not result.passed and "style-only control" in result.reasons[0]
    missing = gate(r, metrics=["fact_recall"])
    assert not missing.passed and "not measured" in missing.reasons[0]


# ----------------------------------------------------------------------------------------------
# Scenario files


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "acme" / "support.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("scenarios: [", "not valid YAML"),
        ("- a\n- b\n", "expected a mapping"),
        ("scenarios: []\n", "non-empty list"),
        ("scenario:\n  - prompt: hi\n", "unknown top-level key"),
        ("scenarios:\n  - reference: x\n", r"scenarios\[0\]: 'prompt' must be"),
        (
            "scenarios:\n  - prompt: hi\n  - id: two\n    prompt: ''\n",
            r"scenarios\[1\] \(id 'two'\): 'prompt'",
        ),
        (
            "scenarios:\n  - prompt: hi\n    assertions: {must_contain: [1, []]}\n",
            "must_contain must be a list",
        ),
        ("scenarios:\n  - prompt: hi\n    assertions: {regex: ['(']}\n", "not a valid regular expression"),
        ("scenarios:\n  - prompt: hi\n    assertions: {max_length: 0}\n", "max_length must be a positive"),
        ("scenarios:\n  - prompt: hi\n    assertions: {contains: [x]}\n", "unknown assertion"),
        ("scenarios:\n  - {id: a, prompt: x}\n  - {id: a, prompt: y}\n", "duplicate id 'a'"),
        ("tenant: globex\nscenarios:\n  - prompt: hi\n", "tenant is 'globex'"),
        ("style: {greeting: 1}\nscenarios:\n  - prompt: hi\n", "greeting must be a string"),
    ],
)
def test_scenario_file_errors_name_file_and_item(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        load_for("acme", "support", root=tmp_path)
    assert str(path) in str(info.value)


def test_scenario_file_minimal_and_missing(tmp_path: Path) -> None:
    from aion_assets.core.errors import NotFoundError

    _write(tmp_path, "scenarios:\n  - prompt: How much is the VX-1?\n    assertions: {must_contain: $5}\n")
    suite = load_for("acme", "support", root=tmp_path)
    assert suite.scenarios[0].id == "0" and suite.scenarios[0].assertions.must_contain == ("$5",)
    assert suite.scenarios[0].reference is None and suite.style is None
    with pytest.raises(NotFoundError, match="globex/billing"):
        load_for("globex", "billing", root=tmp_path)
    with pytest.raises(ConfigError, match="invalid tenant"):
        load_for("../etc", "x", root=tmp_path)


def test_committed_scenario_files_are_valid() -> None:
    for tenant, domain in (("acme", "support"), ("globex", "billing")):
        suite = load_for(tenant, domain)
        assert len(suite) >= 10 and suite.style is not None and not suite.style.is_empty
        assert all(s.reference and s.facts for s in suite.scenarios)


def test_generation_budget_fits_the_longest_reference(tiny, domain) -> None:
    from aion_assets.seal.evaluation.evaluate import generation_budget

    _, tok = tiny
    items = items_from_rows(domain.curated_rows(split="eval"))
    longest = max(len(tok(it.reference, add_special_tokens=False)["input_ids"]) for it in items)
    needed = int(1.25 * longest) + 8
    assert generation_budget(tok, items, 8) == needed
    assert generation_budget(tok, items, needed + 50) == needed + 50  # never lowered
    assert generation_budget(tok, items, 8, cap=needed - 1) == needed - 1  # capped
    assert generation_budget(tok, items[:0], 24) == 24  # no reference: as configured


def test_evaluation_records_the_fitted_budget(tiny, domain, tmp_path: Path) -> None:
    from aion_assets.seal.evaluation.evaluate import generation_budget

    model, tokenizer = tiny
    rows = domain.curated_rows(split="eval")[:2]
    common = {"tokenizer": tokenizer, "system_prompt": domain.spec.system_prompt, "n_resamples": 50,
              "consistency": None, "max_new_tokens": 8}
    adapter = _adapter(model, tmp_path / "cand", seed=1)
    exact = evaluate_candidate(model, adapter, None, rows, None, domain.style, **common)
    fitted = evaluate_candidate(model, adapter, None, rows, None, domain.style, fit_to_references=True, **common)
    assert exact.config["max_new_tokens"] == 8
    assert fitted.config["max_new_tokens"] == generation_budget(tokenizer, items_from_rows(rows), 8) > 8


def test_balanced_batches_cover_every_prompt_once_in_as_few_even_batches_as_fit() -> None:
    from aion_assets.seal.evaluation.generation import balanced_batches

    assert balanced_batches(0, 8) == []
    assert balanced_batches(50, 48) == [range(0, 25), range(25, 50)]
    assert balanced_batches(48, 48) == [range(0, 48)]
    assert [len(b) for b in balanced_batches(91, 64)] == [46, 45]
    for count in range(1, 120):
        for size in (1, 3, 16, 64):
            batches = balanced_batches(count, size)
            assert [i for b in batches for i in b] == list(range(count))
            assert len(batches) == -(-count // size)
            assert max(len(b) for b in batches) <= size
            assert max(len(b) for b in batches) - min(len(b) for b in batches) <= 1
    with pytest.raises(ConfigError):
        balanced_batches(3, 0)

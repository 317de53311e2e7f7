"""Evaluate a candidate adapter against the serving baseline and a style-only control.

The candidate (base + LoRA adapter) and the baseline (base, or base + the adapter serving the
route today) answer the same held-out eval rows and scenario prompts, greedily with a fixed
seed, with the prompt format used in training (:func:`aion_assets.seal.training.train_data.prompt_text`).
A third row, the control, is the baseline's answers wrapped in the house greeting and sign-off:
if the candidate only learned that frame, it does not beat the control (issue 7).

The prompts come from :mod:`~aion_assets.seal.evaluation.items`, the answers from
:mod:`~aion_assets.seal.evaluation.generation` (models are parameters: a checkpoint folder or a
loaded model and tokenizer; adapter folders must be plain PEFT folders); this module scores
them and compares the rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aion_assets.core.errors import ConfigError
from aion_assets.seal.evaluation.bootstrap import paired_bootstrap
from aion_assets.seal.evaluation.consistency import ConsistencyScorer, EmbeddingConsistency
from aion_assets.seal.evaluation.generation import (
    GENERATION_BATCH_SIZE,
    attach_adapters,
    generate_answers,
    load_model,
    peft_folder,
)
from aion_assets.seal.evaluation.items import EvalItem, items_from_rows, items_from_scenarios
from aion_assets.seal.evaluation.metrics import METRICS, mean_metric, score_examples
from aion_assets.seal.evaluation.report import (
    SCENARIO_PASS_RATE,
    EvaluationReport,
    GateResult,
    ModelResult,
    gate,
)
from aion_assets.seal.evaluation.scenarios import Scenario, ScenarioSuite
from aion_assets.seal.style import HouseStyle

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = [
    "EvaluationReport",
    "GateResult",
    "aggregate",
    "evaluate_candidate",
    "gate",
    "score_answers",
]


# ----------------------------------------------------------------------------------------------
# Scoring


def score_answers(
    items: Sequence[EvalItem],
    answers: Sequence[str],
    style: HouseStyle,
    consistency: ConsistencyScorer | None,
) -> list[dict[str, Any]]:
    """Per-example results: the answer, its metrics where a reference exists, scenario verdicts."""
    if len(items) != len(answers):
        raise ValueError(f"{len(items)} items but {len(answers)} answers")
    results: list[dict[str, Any]] = [
        {"id": it.id, "source": it.source, "prompt": it.prompt, "reference": it.reference, "answer": a}
        for it, a in zip(items, answers, strict=True)
    ]
    with_ref = [i for i, it in enumerate(items) if it.reference]
    scored = score_examples(
        [answers[i] for i in with_ref],
        [items[i].reference or "" for i in with_ref],
        [items[i].facts for i in with_ref],
        style,
        consistency,
    )
    for i, s in zip(with_ref, scored, strict=True):
        results[i].update(s)
    for res, it, a in zip(results, items, answers, strict=True):
        if it.assertions is not None:
            failures = it.assertions.check(a)
            res["passed"] = not failures
            res["failures"] = failures
    return results


def aggregate(results: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    """Means of each metric over the eval examples, and the scenario pass rate."""
    evals = [r for r in results if r["source"] == "eval"]
    metrics: dict[str, float | None] = {m: mean_metric(evals, m) for m in METRICS}
    verdicts = [r["passed"] for r in results if r.get("passed") is not None]
    metrics[SCENARIO_PASS_RATE] = sum(verdicts) / len(verdicts) if verdicts else None
    return metrics


def _paired(
    a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]], n_resamples: int, seed: int
) -> dict[str, Any]:
    out = {}
    for name in [*METRICS, SCENARIO_PASS_RATE]:
        key = "passed" if name == SCENARIO_PASS_RATE else name
        pairs = [
            (float(x[key]), float(y[key]))
            for x, y in zip(a, b, strict=True)
            if x.get(key) is not None
            and y.get(key) is not None
            and (key == "passed" or x["source"] == "eval")
        ]
        if pairs:
            out[name] = paired_bootstrap(
                [p[0] for p in pairs], [p[1] for p in pairs], metric=name, n_resamples=n_resamples, seed=seed
            )
    return out


# ----------------------------------------------------------------------------------------------


#: Room a reference-length answer gets beyond the reference's own token count (a model may say it in
#: more words), plus a few tokens for the end of turn.
REFERENCE_ROOM = 1.25
REFERENCE_SLACK = 8


def generation_budget(tokenizer: Any, items: Sequence[EvalItem], configured: int, cap: int = 2048) -> int:
    """New tokens per answer: CONFIGURED, raised so that the longest reference fits with room to spare.

    A fixed budget shorter than the references cuts every answer as long as the one the editor
    approved before its sign-off and last facts, and scores that as the model's failure (domains
    with procedures have answers of 150 tokens and more). Raised to REFERENCE_ROOM x the longest
    reference's tokens + REFERENCE_SLACK, never above CAP; the same budget for every model.
    """
    lengths = [len(tokenizer(it.reference, add_special_tokens=False)["input_ids"]) for it in items if it.reference]
    needed = int(REFERENCE_ROOM * max(lengths)) + REFERENCE_SLACK if lengths else 0
    return min(max(configured, needed), max(configured, cap))


def evaluate_candidate(
    base_model: str | Path | PreTrainedModel,
    adapter_dir: str | Path | None,
    baseline_adapter_dir: str | Path | None,
    eval_rows: Sequence[Mapping[str, Any]],
    scenarios: ScenarioSuite | Sequence[Scenario] | None,
    style: HouseStyle,
    *,
    tokenizer: PreTrainedTokenizerBase | None = None,
    system_prompt: str | None = None,
    model_version: str = "candidate",
    baseline_version: str = "baseline",
    dataset_id: str = "eval",
    max_new_tokens: int = 128,
    fit_to_references: bool = False,
    batch_size: int = GENERATION_BATCH_SIZE,
    seed: int = 0,
    n_resamples: int = 1000,
    consistency: ConsistencyScorer | str | None = "minilm",
    progress: Callable[[str], None] | None = None,
) -> EvaluationReport:
    """Answer the eval rows and scenarios with baseline and candidate, score them, compare.

    Args:
        base_model: a checkpoint folder, or a loaded model (then pass ``tokenizer``). A loaded
            model is returned to the caller unchanged (adapters are unloaded afterwards).
        adapter_dir: the candidate's PEFT adapter folder; None evaluates the base as candidate.
        baseline_adapter_dir: the adapter serving the route today; None means the base serves.
        eval_rows: curated eval-split rows (see :func:`items_from_rows`).
        scenarios: the tenant/domain's scenarios, or None.
        style: the domain's house style (for body metrics, style adherence and the control).
        system_prompt: for rows/scenarios that carry none.
        model_version / baseline_version / dataset_id: names used in the report and table rows.
        max_new_tokens, batch_size, seed: generation settings (greedy; the seed fixes the rest).
        fit_to_references: raise ``max_new_tokens`` where the longest reference needs more
            (`generation_budget`); the report's config records the budget used.
        n_resamples: bootstrap resamples for the intervals.
        consistency: ``"minilm"`` (embedding cosine, offline), ``"bow"`` (bag-of-words
            fallback), a scorer callable, or None to skip the consistency metrics.
        progress: called with a short message at each stage (e.g. Dagster's ``log.info``).

    Returns:
        EvaluationReport with rows baseline, candidate, control.

    Raises:
        ConfigError: nothing to evaluate, or a bad model/row.
        ArtifactError: an adapter folder is not a PEFT folder.
    """
    say = progress or (lambda _msg: None)
    items = items_from_rows(eval_rows, system_prompt)
    if scenarios is not None:
        items += items_from_scenarios(scenarios, system_prompt)
    if not items:
        raise ConfigError("nothing to evaluate: no eval rows and no scenarios")
    scorer = _consistency(consistency)
    model, tok = load_model(base_model, tokenizer)
    adapters: dict[str, Path] = {}
    if baseline_adapter_dir is not None:
        adapters["baseline"] = peft_folder(Path(baseline_adapter_dir), "baseline")
    if adapter_dir is not None:
        adapters["candidate"] = peft_folder(Path(adapter_dir), "candidate")
    prompts = [it.chat for it in items]
    budget = generation_budget(tok, items, max_new_tokens) if fit_to_references else max_new_tokens
    if budget > max_new_tokens:
        say(f"evaluation: {budget} new tokens per answer (the longest reference needs more than {max_new_tokens})")
    gen: dict[str, Any] = {"max_new_tokens": budget, "seed": seed, "batch_size": batch_size}

    answers: dict[str, list[str]] = {}
    seconds: dict[str, float] = {}
    with attach_adapters(model, adapters) as peft_model:
        for role in ("baseline", "candidate"):
            if role == "candidate" and "candidate" not in adapters and "baseline" not in adapters:
                answers[role], seconds[role] = answers["baseline"], seconds["baseline"]  # same model
                continue
            say(f"evaluation: {role} answers {len(items)} prompts")
            t0 = time.perf_counter()
            gen["task"] = f"{role} answers"
            if peft_model is not None and role in adapters:
                peft_model.set_adapter(role)
                answers[role] = generate_answers(peft_model, tok, prompts, progress=progress, **gen)
            elif peft_model is not None:
                with peft_model.disable_adapter():
                    answers[role] = generate_answers(peft_model, tok, prompts, progress=progress, **gen)
            else:
                answers[role] = generate_answers(model, tok, prompts, progress=progress, **gen)
            seconds[role] = time.perf_counter() - t0
    answers["control"] = [style.wrap(style.strip(a)) for a in answers["baseline"]]
    seconds["control"] = 0.0

    say("evaluation: scoring")
    versions = {
        "baseline": baseline_version,
        "candidate": model_version,
        "control": f"{baseline_version}+style-control",
    }
    models = {}
    for role in ("baseline", "candidate", "control"):
        results = score_answers(items, answers[role], style, scorer)
        models[role] = ModelResult(role, versions[role], aggregate(results), results, seconds[role])
    diffs = _paired(models["candidate"].examples, models["baseline"].examples, n_resamples, seed)
    control_diffs = _paired(models["candidate"].examples, models["control"].examples, n_resamples, seed)
    config = {
        **gen,
        "n_resamples": n_resamples,
        "consistency": getattr(scorer, "name", type(scorer).__name__) if scorer is not None else None,
        "style": style.to_dict(),
        "adapter_dir": str(adapter_dir) if adapter_dir is not None else None,
        "baseline_adapter_dir": str(baseline_adapter_dir) if baseline_adapter_dir is not None else None,
        "n_eval": sum(1 for it in items if it.source == "eval"),
        "n_scenarios": sum(1 for it in items if it.source == "scenario"),
    }
    return EvaluationReport(
        dataset_id=dataset_id, models=models, diffs=diffs, control_diffs=control_diffs, config=config
    )


def _consistency(spec: ConsistencyScorer | str | None) -> ConsistencyScorer | None:
    if spec is None or callable(spec):
        return spec
    if spec == "minilm":
        return EmbeddingConsistency()
    if spec == "bow":
        from aion_assets.seal.evaluation.consistency import TokenCosineConsistency

        return TokenCosineConsistency()
    raise ConfigError(f"unknown consistency scorer {spec!r}; use 'minilm', 'bow', a callable or None")

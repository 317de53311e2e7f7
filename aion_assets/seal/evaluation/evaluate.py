"""Evaluate a candidate adapter against the serving baseline and a style-only control.

The candidate (base + LoRA adapter) and the baseline (base, or base + the adapter serving the
route today) answer the same held-out eval rows and scenario prompts, greedily with a fixed
seed, with the prompt format used in training (:func:`aion_assets.seal.training.train_data.prompt_text`).
A third row, the control, is the baseline's answers wrapped in the house greeting and sign-off:
if the candidate only learned that frame, it does not beat the control (issue 7).

Models are parameters: pass a checkpoint folder (loaded with
:mod:`aion_assets.seal.training.base_models`) or an already loaded model and tokenizer, so tests can use a
tiny random Llama and the asset can reuse a loaded base. Adapter folders must be plain PEFT
folders (decrypt encrypted adapters first).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aion_assets.core.errors import ArtifactError, ConfigError
from aion_assets.seal.evaluation.metrics import (
    METRICS,
    Assertions,
    ConsistencyScorer,
    EmbeddingConsistency,
    mean_metric,
    paired_bootstrap,
    score_examples,
)
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
    "EvalItem",
    "EvaluationReport",
    "GateResult",
    "evaluate_candidate",
    "gate",
    "generate_answers",
    "items_from_rows",
    "items_from_scenarios",
    "score_answers",
]

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class EvalItem:
    """One prompt to answer: from the eval split (with a reference) or a scenario."""

    id: str
    source: str  # "eval" | "scenario"
    messages: tuple[tuple[str, str], ...]  # (role, content) without the answer
    reference: str | None = None
    facts: tuple[str, ...] | None = None
    assertions: Assertions | None = None

    @property
    def chat(self) -> Messages:
        """The messages as chat-template dicts."""
        return [{"role": r, "content": c} for r, c in self.messages]

    @property
    def prompt(self) -> str:
        """The last user message."""
        return next((c for r, c in reversed(self.messages) if r == "user"), "")


def items_from_rows(rows: Sequence[Mapping[str, Any]], system_prompt: str | None = None) -> list[EvalItem]:
    """Eval items from curated rows (``prompt``, ``response``, ``metadata``, ``messages``).

    The prompt is the row's ``messages`` without the assistant answer (so the system prompt
    used in training is kept); rows without ``messages`` get ``system_prompt`` (if any) and
    the ``prompt``. Key facts come from ``metadata.facts`` when listed.

    Raises:
        ConfigError: a row has no prompt or no response (naming the row).
    """
    items = []
    for i, row in enumerate(rows):
        meta = row.get("metadata") or {}
        rid = str(meta.get("interaction_id") or row.get("id") or i)
        messages = row.get("messages")
        if messages:
            msgs = [(str(m["role"]), str(m["content"])) for m in messages]
            reference = msgs[-1][1] if msgs[-1][0] == "assistant" else row.get("response")
            if msgs[-1][0] == "assistant":
                msgs = msgs[:-1]
        else:
            if not row.get("prompt"):
                raise ConfigError(f"eval row {i} ({rid}) has neither 'messages' nor 'prompt'")
            msgs = ([("system", system_prompt)] if system_prompt else []) + [("user", str(row["prompt"]))]
            reference = row.get("response")
        if not reference:
            raise ConfigError(
                f"eval row {i} ({rid}) has no reference answer ('response' or assistant message)"
            )
        facts = meta.get("facts")
        items.append(
            EvalItem(
                id=rid,
                source="eval",
                messages=tuple(msgs),
                reference=str(reference),
                facts=tuple(str(f) for f in facts) if facts is not None else None,
            )
        )
    return items


def items_from_scenarios(
    scenarios: ScenarioSuite | Sequence[Scenario], system_prompt: str | None = None
) -> list[EvalItem]:
    """Eval items from scenarios; the suite's own system prompt wins over ``system_prompt``."""
    if isinstance(scenarios, ScenarioSuite):
        system_prompt = scenarios.system_prompt or system_prompt
        scenarios = scenarios.scenarios
    prefix: list[tuple[str, str]] = [("system", system_prompt)] if system_prompt else []
    return [
        EvalItem(
            id=s.id,
            source="scenario",
            messages=tuple([*prefix, ("user", s.prompt)]),
            reference=s.reference,
            facts=s.facts,
            assertions=s.assertions,
        )
        for s in scenarios
    ]


# ----------------------------------------------------------------------------------------------
# Generation


def generate_answers(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str | Sequence[Mapping[str, str]]],
    max_new_tokens: int = 128,
    seed: int = 0,
    batch_size: int = 8,
    progress: Callable[[str], None] | None = None,
    task: str = "answers",
) -> list[str]:
    """Greedy answers to PROMPTS (a user message each, or a list of chat messages), in order.

    Prompts are rendered with the training prompt format, batched by length with left padding
    (so every answer starts right after its prompt), and decoded without special tokens.
    ``progress`` (if given) is called after each batch with "answers done/total"; each batch is
    also reported as progress event TASK (:func:`aion_assets.seal.training.progress.report`).
    """
    import torch

    from aion_assets.seal.training.progress import report
    from aion_assets.seal.training.train_data import prompt_text

    if max_new_tokens < 1 or batch_size < 1:
        raise ConfigError("max_new_tokens and batch_size must be at least 1")
    texts = [
        prompt_text(tokenizer, [{"role": "user", "content": p}] if isinstance(p, str) else list(p))
        for p in prompts
    ]
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    answers: list[str] = [""] * len(texts)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad_id is None:
        raise ConfigError("the tokenizer has neither a pad nor an EOS token; cannot batch generation")
    old_side = tokenizer.padding_side
    was_training = model.training
    tokenizer.padding_side = "left"
    model.eval()
    torch.manual_seed(seed)
    try:
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            enc = tokenizer(
                [texts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False
            ).to(model.device)
            with torch.inference_mode():
                out = model.generate(  # type: ignore[operator]
                    **enc,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    num_beams=1,
                    pad_token_id=pad_id,
                    eos_token_id=tokenizer.eos_token_id,
                )
            new = out[:, enc["input_ids"].shape[1] :]
            for i, seq in zip(idx, new, strict=True):
                answers[i] = str(tokenizer.decode(seq, skip_special_tokens=True)).strip()
            done = min(start + batch_size, len(order))
            report(task, done, len(order))
            if progress is not None:
                progress(f"answers {done}/{len(order)}")
    finally:
        tokenizer.padding_side = old_side
        if was_training:
            model.train()
    return answers


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
# The three rows


def _load(
    base: Any, tokenizer: PreTrainedTokenizerBase | None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    if isinstance(base, (str, Path)):
        from aion_assets.seal.training.base_models import load_causal_lm, load_tokenizer

        path = Path(base)
        if not (path / "config.json").is_file():
            raise ConfigError(f"base model {path} is not a Hugging Face checkpoint folder (no config.json)")
        return load_causal_lm(path), tokenizer or load_tokenizer(path)
    if tokenizer is None:
        raise ConfigError("pass the tokenizer together with a loaded base model")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return base, tokenizer


def _check_adapter(path: Path, what: str) -> Path:
    path = Path(path)
    if not (path / "adapter_config.json").is_file():
        raise ArtifactError(f"{what} adapter {path} is not a PEFT folder (no adapter_config.json)")
    return path


@contextlib.contextmanager
def attach_adapters(model: Any, adapters: Mapping[str, Path]) -> Iterator[Any]:
    """Attach the named adapters to MODEL for the block, and take them off afterwards.

    PeftModel.from_pretrained injects LoRA layers into the base in place; unloading restores
    the caller's model unchanged (nothing is merged), so a loaded base can be reused.
    """
    if not adapters:
        yield None
        return
    from peft import PeftModel

    names = list(adapters)
    peft_model = PeftModel.from_pretrained(
        model, str(adapters[names[0]]), adapter_name=names[0], is_trainable=False
    )
    try:
        for name in names[1:]:
            peft_model.load_adapter(str(adapters[name]), adapter_name=name, is_trainable=False)
        peft_model.eval()
        yield peft_model
    finally:
        peft_model.unload()


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
    batch_size: int = 8,
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
    model, tok = _load(base_model, tokenizer)
    adapters: dict[str, Path] = {}
    if baseline_adapter_dir is not None:
        adapters["baseline"] = _check_adapter(Path(baseline_adapter_dir), "baseline")
    if adapter_dir is not None:
        adapters["candidate"] = _check_adapter(Path(adapter_dir), "candidate")
    prompts = [it.chat for it in items]
    gen: dict[str, Any] = {"max_new_tokens": max_new_tokens, "seed": seed, "batch_size": batch_size}

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
        from aion_assets.seal.evaluation.metrics import TokenCosineConsistency

        return TokenCosineConsistency()
    raise ConfigError(f"unknown consistency scorer {spec!r}; use 'minilm', 'bow', a callable or None")

"""What a reviewer needs to judge a promotion beyond aggregates: scenario results and the answers
where candidate and baseline differ most, read from the evaluation report in the artifact store.

The ``seal/evaluation_report`` asset writes per-example results of every model (baseline,
candidate, control) to ``reports/{tenant}/{domain}/{run_id}/examples.jsonl`` (tenant
percent-quoted by ``core.artifacts.key_segment``). The registry may import only ``core``, so the
key layout is restated here; ``tests/registry/test_evaluation_details.py`` checks it against the
writer's (``seal.evaluation.report.report_prefix``). Like the lineage, a report that cannot be
read is reported with the reason, never as an error of the whole read.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, Field

from aion_assets.core.artifacts import ArtifactStore, key_segment
from aion_assets.core.errors import ArtifactError, NotFoundError, StoreUnavailableError
from aion_assets.core.jsonl import iter_lines
from aion_assets.registry.models import ModelVersion

_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
#: Rows read from one report at most (three models x the eval split and scenarios).
MAX_ROWS = 30_000
#: Longest text kept per answer, prompt or reference in the response.
MAX_TEXT = 2_000


class ScenarioOutcome(BaseModel):
    """One scenario prompt and whether each model passed its assertions."""

    id: str
    prompt: str
    baseline_passed: bool | None
    candidate_passed: bool | None


class AnswerDifference(BaseModel):
    """One held-out example where candidate and baseline scored furthest apart."""

    id: str
    prompt: str
    reference: str | None
    baseline_answer: str | None
    candidate_answer: str | None
    baseline_score: float | None
    candidate_score: float | None


class EvaluationDetails(BaseModel):
    """Scenario outcomes and the largest answer differences of a version's evaluation."""

    model_id: str
    evaluation_run_id: str | None
    examples_uri: str | None
    metric: str = Field(description="The per-example metric the differences are ranked by.")
    scenarios: list[ScenarioOutcome] = Field(default_factory=list)
    differences: list[AnswerDifference] = Field(default_factory=list)
    error: str | None = Field(default=None, description="Why the report could not be read, when it could not.")


def examples_key(tenant_id: str, domain: str, run_id: str) -> str:
    """The artifact key of an evaluation run's per-example results.

    Raises:
        ValueError: DOMAIN or RUN_ID is not one clean key segment.
    """
    if not _DOMAIN.match(domain):
        raise ValueError(f"domain {domain!r} is not a report folder name")
    if not _SEGMENT.match(run_id) or run_id in {".", ".."}:
        raise ValueError(f"evaluation_run_id {run_id!r} is not a report folder name")
    return f"reports/{key_segment(tenant_id)}/{domain}/{run_id}/examples.jsonl"


def _text(value: Any) -> str | None:
    return None if value is None else str(value)[:MAX_TEXT]


def _score(row: Mapping[str, Any] | None, metric: str) -> float | None:
    value = row.get(metric) if row is not None else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def summarise(
    rows: Iterable[Mapping[str, Any]], *, metric: str, top: int
) -> tuple[list[ScenarioOutcome], list[AnswerDifference]]:
    """Scenario outcomes and the TOP held-out examples by |candidate - baseline| on METRIC."""
    by_id: dict[str, dict[str, Mapping[str, Any]]] = {}
    for n, row in enumerate(rows):
        if n >= MAX_ROWS:
            break
        role, rid = row.get("role"), row.get("id")
        if role in ("baseline", "candidate") and rid is not None:
            by_id.setdefault(str(rid), {})[str(role)] = row
    scenarios, diffs = [], []
    for rid, pair in sorted(by_id.items()):
        base, cand = pair.get("baseline"), pair.get("candidate")
        any_row = cand or base or {}
        if any_row.get("source") == "scenario":
            scenarios.append(ScenarioOutcome(
                id=rid, prompt=_text(any_row.get("prompt")) or "",
                baseline_passed=base.get("passed") if base else None,
                candidate_passed=cand.get("passed") if cand else None,
            ))
            continue
        b, c = _score(base, metric), _score(cand, metric)
        if b is None or c is None:
            continue
        diffs.append(AnswerDifference(
            id=rid, prompt=_text(any_row.get("prompt")) or "", reference=_text(any_row.get("reference")),
            baseline_answer=_text(base.get("answer") if base else None),
            candidate_answer=_text(cand.get("answer") if cand else None), baseline_score=b, candidate_score=c,
        ))
    diffs.sort(key=lambda d: (-abs((d.candidate_score or 0) - (d.baseline_score or 0)), d.id))
    return scenarios, diffs[:top]


def evaluation_details(
    artifacts: ArtifactStore | None, version: ModelVersion, *, metric: str = "rougeL_body", top: int = 5
) -> EvaluationDetails:
    """VERSION's scenario outcomes and its TOP answer differences from the baseline, or why they are missing."""
    out = EvaluationDetails(model_id=str(version.id), evaluation_run_id=version.evaluation_run_id,
                            examples_uri=None, metric=metric)
    if version.evaluation_run_id is None:
        return out.model_copy(update={"error": "the version names no evaluation run"})
    try:
        key = examples_key(version.tenant_id, version.domain, version.evaluation_run_id)
    except ValueError as exc:
        return out.model_copy(update={"error": str(exc)})
    if artifacts is None:
        return out.model_copy(update={"error": "the API has no artifact store configured (AION_ARTIFACTS_URI)"})
    uri = artifacts.uri(key)
    try:
        with contextlib.closing(artifacts.open_read(key)) as stream:
            # iter_lines: an S3 body iterates in fixed-size chunks, not lines.
            lines = itertools.islice((ln for ln in iter_lines(stream) if ln.strip()), MAX_ROWS)
            rows = [json.loads(line) for line in lines]
    except (ArtifactError, NotFoundError) as exc:
        return out.model_copy(update={"examples_uri": uri, "error": f"evaluation report not readable: {exc}"})
    except (StoreUnavailableError, OSError):
        return out.model_copy(update={"examples_uri": uri, "error": "artifact store unavailable; retry"})
    except (ValueError, UnicodeDecodeError) as exc:
        return out.model_copy(update={"examples_uri": uri, "error": f"evaluation report is not JSONL: {exc}"})
    scenarios, diffs = summarise((r for r in rows if isinstance(r, dict)), metric=metric, top=top)
    return out.model_copy(update={"examples_uri": uri, "scenarios": scenarios, "differences": diffs})

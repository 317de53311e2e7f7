"""Files made from a demo domain: curated JSONL (the pipeline's rows) and scenario YAML.

- ``write_curated_jsonl``: ``train.jsonl`` / ``eval.jsonl`` of the domain's curated rows, one
  canonical line per row (``rows.dumps_row``), the split being the pipeline's ``split_of``;
- ``write_scenarios_yaml``: the committed ``tests/llm_evals/<tenant>/<domain>.yaml`` scenario
  files (a test checks that the committed files are what this produces).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from aion_assets.demo.objects import DemoDomain
from aion_assets.seal.datasets.rows import SPLITS, Split, dumps_row

#: Recorded in scenario files; names the package, so that moving code inside it changes no file.
GENERATED_BY = "aion_assets.demo"


def write_jsonl(rows: Iterable[dict[str, Any]], path: Path) -> int:
    """Write rows as canonical JSONL (atomically: a temp file renamed into place). Returns the row count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(dumps_row(row))
            n += 1
    tmp.replace(path)
    return n


def write_curated_jsonl(domain: DemoDomain, out_dir: Path, min_reward: float = 0.5) -> dict[Split, Path]:
    """Write ``train.jsonl`` and ``eval.jsonl`` (the pipeline's row format and split)."""
    out_dir = Path(out_dir)
    paths: dict[Split, Path] = {}
    for split in SPLITS:
        path = out_dir / f"{split}.jsonl"
        write_jsonl(domain.curated_rows(split=split, min_reward=min_reward), path)
        paths[split] = path
    return paths


def scenario_items(domain: DemoDomain, n: int = 12) -> list[dict[str, Any]]:
    """Scenario prompts for ``tests/llm_evals/<tenant>/<domain>.yaml`` from held-out paraphrases.

    One eval-split paraphrase for each of ``n`` questions spread over the kinds; assertions
    require the key facts and forbid the generic deflections a base model gives.
    """
    by_q = {q.question_id: q for q in domain.questions}
    chosen: list[dict[str, Any]] = []
    seen_q: set[str] = set()
    evals = [e for e in domain.examples if e.split == "eval"]
    kinds_order = sorted({q.kind for q in domain.questions})
    # Round-robin over kinds so the scenarios cover every kind of question.
    while len(chosen) < n and len(seen_q) < len(by_q):
        added = False
        for kind in kinds_order:
            for e in evals:
                q = by_q[e.question_id]
                if q.kind == kind and e.question_id not in seen_q:
                    seen_q.add(e.question_id)
                    chosen.append(
                        {
                            "id": f"{q.question_id}-p{e.interaction['metadata']['paraphrase']}",
                            "prompt": e.interaction["input_text"],
                            "reference": domain.style.wrap(q.body),
                            "facts": list(q.facts),
                            "assertions": {
                                "must_contain": [q.facts[0]],
                                "must_not_contain": ["As an AI", "I don't have specific information"],
                                "max_length": 600,
                            },
                        }
                    )
                    added = True
                    break
            if len(chosen) >= n:
                break
        if not added:
            break
    return chosen


class _Dumper(yaml.SafeDumper):
    """Multi-line answers as literal blocks, so the file reads like the answers look."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _str)


def write_scenarios_yaml(domain: DemoDomain, path: Path, n: int = 12) -> Path:
    """Write the scenario file for the domain (see :mod:`aion_assets.seal.evaluation.scenarios` for the format)."""
    doc = {
        "tenant": domain.spec.tenant_id,
        "domain": domain.spec.domain,
        "generated_by": f"{GENERATED_BY} (seed={domain.seed})",
        "style": domain.style.to_dict(),
        "system_prompt": domain.spec.system_prompt,
        "scenarios": scenario_items(domain, n),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
    path.write_text(text, encoding="utf-8")
    return path

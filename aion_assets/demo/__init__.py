"""Seeded fictional support domains that a base model cannot know: the demo of the SEAL loop.

Data plus a generator (a composition root: it may import anything):

- ``templates/*.yaml``: each company's spec, catalogue and topics (questions, answers, key facts),
  and ``common.yaml``; read and validated by ``loader.py``;
- ``generator.py``: turns a company's world into questions, interactions, self-edits and the
  pipeline's curated rows (its split and row shape);
- ``objects.py``: the generated domain's objects; ``traffic.py``: agents' editors (human, model,
  rule), customers' details (PII) in part of the training questions, and the traffic nobody
  corrected (most of it: interactions without a self-edit);
- ``acme.py``, ``globex.py``: the code inventing each company's values; ``domains.py``: them by name;
- ``export.py``: curated JSONL and scenario files; ``ingest.py``: the sample through the HTTP API.

Public API::

    generate_domain(name, seed, n_facts, paraphrases_per_question, ...) -> DemoDomain
    generate_demo_domain(seed, ...) -> DemoDomain          # "acme/support"
    write_curated_jsonl(domain, out_dir) -> {"train": Path, "eval": Path}
    scenario_items(domain, n) / write_scenarios_yaml(domain, path)

``ingest_sample`` is not re-exported: it needs the app (``from aion_assets.demo.ingest import ...``).
"""

from __future__ import annotations

from aion_assets.demo.domains import DOMAINS, generate_demo_domain, generate_domain
from aion_assets.demo.export import scenario_items, write_curated_jsonl, write_jsonl, write_scenarios_yaml
from aion_assets.demo.objects import (
    DEFAULT_EVAL_SHARE,
    DemoDomain,
    DemoExample,
    DemoInteraction,
    DemoQuestion,
    DomainSpec,
)

__all__ = [
    "DEFAULT_EVAL_SHARE",
    "DOMAINS",
    "DemoDomain",
    "DemoExample",
    "DemoInteraction",
    "DemoQuestion",
    "DomainSpec",
    "generate_demo_domain",
    "generate_domain",
    "scenario_items",
    "write_curated_jsonl",
    "write_jsonl",
    "write_scenarios_yaml",
]

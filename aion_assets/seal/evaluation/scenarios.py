"""Scenario prompts per tenant/domain: ``tests/llm_evals/<tenant>/<domain>.yaml``.

A scenario is a prompt the agent must handle well plus assertions on the answer; the suite
runs them on the candidate and on the baseline, and a candidate may not lower the pass rate.

File format::

    tenant: acme                 # optional; must match the folder when given
    domain: support              # optional; must match the file name when given
    style:                       # optional house style of the domain
      greeting: "Hi there, ..."
      sign_off: "Best regards, ..."
    system_prompt: "You are ..." # optional
    scenarios:
      - id: price-vx-4127        # optional; defaults to "<index>"; unique
        prompt: "How much does the VX-4127 cost?"
        reference: "..."         # optional reference answer (metrics are computed against it)
        facts: ["$349.99"]       # optional key facts (else extracted from the reference)
        assertions:              # optional; each key optional
          must_contain: ["$349.99"]
          must_not_contain: ["As an AI"]
          regex: ["(?i)^hi there"]
          max_length: 600
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aion_assets.core.errors import ConfigError, NotFoundError
from aion_assets.core.settings import CHECKOUT_SCENARIOS
from aion_assets.seal.evaluation.metrics import Assertions
from aion_assets.seal.style import HouseStyle

#: The repository's scenario folder (when running from a checkout).
DEFAULT_ROOT = CHECKOUT_SCENARIOS

_TOP_KEYS = {"tenant", "domain", "style", "system_prompt", "scenarios", "generated_by", "description"}
_ITEM_KEYS = {"id", "prompt", "reference", "facts", "assertions", "description"}
_ASSERT_KEYS = {"must_contain", "must_not_contain", "regex", "max_length"}


@dataclass(frozen=True)
class Scenario:
    """One scenario prompt with its assertions and optional reference answer and key facts."""

    id: str
    prompt: str
    assertions: Assertions
    reference: str | None = None
    facts: tuple[str, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain form for reports."""
        return {
            "id": self.id,
            "prompt": self.prompt,
            "reference": self.reference,
            "facts": list(self.facts) if self.facts is not None else None,
            "assertions": self.assertions.to_dict(),
        }


@dataclass(frozen=True)
class ScenarioSuite:
    """The scenarios of one tenant/domain, as loaded from one file."""

    tenant: str | None
    domain: str | None
    scenarios: tuple[Scenario, ...]
    style: HouseStyle | None = None
    system_prompt: str | None = None
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.scenarios)


def scenario_path(tenant: str, domain: str, root: Path | None = None) -> Path:
    """Where the scenario file of ``tenant/domain`` lives."""
    for name, value in (("tenant", tenant), ("domain", domain)):
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", value or "") or value in {".", ".."}:
            raise ConfigError(f"invalid {name} {value!r} for a scenario file name")
    return Path(root or DEFAULT_ROOT) / tenant / f"{domain}.yaml"


def load_for(tenant: str, domain: str, root: Path | None = None) -> ScenarioSuite:
    """Load the scenarios of ``tenant/domain`` from ``<root>/<tenant>/<domain>.yaml``.

    Raises:
        NotFoundError: there is no scenario file for this tenant/domain.
        ConfigError: the file is invalid (the message names the file and the item).
    """
    path = scenario_path(tenant, domain, root)
    if not path.is_file():
        raise NotFoundError(f"no scenario file for {tenant}/{domain}: create {path}")
    suite = load_scenarios(path)
    for name, expected, found in (("tenant", tenant, suite.tenant), ("domain", domain, suite.domain)):
        if found is not None and found != expected:
            raise ConfigError(f"{path}: {name} is {found!r} but the file is for {expected!r}")
    return suite


def load_scenarios(path: Path) -> ScenarioSuite:
    """Load and validate one scenario file.

    Raises:
        NotFoundError: the file does not exist.
        ConfigError: invalid YAML or content; the message names the file and the item.
    """
    import yaml  # local: only loading scenarios needs it

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise NotFoundError(f"scenario file {path} does not exist") from exc
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse_scenarios(doc, str(path), path)


def parse_scenarios(doc: Any, where: str, path: Path | None = None) -> ScenarioSuite:
    """Validate an already parsed scenario document (``where`` names it in errors)."""
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: expected a mapping with a 'scenarios' list at the top level")
    unknown = set(doc) - _TOP_KEYS
    if unknown:
        raise ConfigError(
            f"{where}: unknown top-level key(s) {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}"
        )
    for key in ("tenant", "domain", "system_prompt"):
        if doc.get(key) is not None and not isinstance(doc[key], str):
            raise ConfigError(f"{where}: {key} must be a string")
    items = doc.get("scenarios")
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{where}: 'scenarios' must be a non-empty list")
    style = HouseStyle.from_mapping(doc["style"], f"{where}: style") if doc.get("style") is not None else None
    scenarios: list[Scenario] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        scenario = _parse_item(item, f"{where}: scenarios[{i}]", i)
        if scenario.id in seen:
            raise ConfigError(f"{where}: scenarios[{i}]: duplicate id {scenario.id!r}")
        seen.add(scenario.id)
        scenarios.append(scenario)
    return ScenarioSuite(
        tenant=doc.get("tenant"),
        domain=doc.get("domain"),
        scenarios=tuple(scenarios),
        style=style,
        system_prompt=doc.get("system_prompt"),
        path=path,
    )


def _parse_item(item: Any, where: str, index: int) -> Scenario:
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: expected a mapping with at least 'prompt', got {type(item).__name__}")
    if "id" in item:
        where = f"{where} (id {item['id']!r})"
    unknown = set(item) - _ITEM_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_ITEM_KEYS)}")
    prompt = item.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ConfigError(f"{where}: 'prompt' must be a non-empty string")
    sid = item.get("id", str(index))
    if not isinstance(sid, (str, int)) or not str(sid).strip():
        raise ConfigError(f"{where}: 'id' must be a non-empty string")
    reference = item.get("reference")
    if reference is not None and (not isinstance(reference, str) or not reference.strip()):
        raise ConfigError(f"{where}: 'reference' must be a non-empty string when given")
    facts = item.get("facts")
    if facts is not None:
        facts = tuple(_str_list(facts, f"{where}: facts"))
    return Scenario(
        id=str(sid),
        prompt=prompt,
        assertions=_parse_assertions(item.get("assertions"), f"{where}: assertions"),
        reference=reference,
        facts=facts,
    )


def _parse_assertions(data: Any, where: str) -> Assertions:
    if data is None:
        return Assertions()
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of {sorted(_ASSERT_KEYS)}")
    unknown = set(data) - _ASSERT_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown assertion(s) {sorted(unknown)}; allowed: {sorted(_ASSERT_KEYS)}")
    regex = _str_list(data.get("regex", []), f"{where}.regex")
    for pattern in regex:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"{where}.regex: {pattern!r} is not a valid regular expression: {exc}") from exc
    max_length = data.get("max_length")
    if max_length is not None and (
        isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1
    ):
        raise ConfigError(f"{where}.max_length must be a positive integer, got {max_length!r}")
    return Assertions(
        must_contain=tuple(_str_list(data.get("must_contain", []), f"{where}.must_contain")),
        must_not_contain=tuple(_str_list(data.get("must_not_contain", []), f"{where}.must_not_contain")),
        regex=tuple(regex),
        max_length=max_length,
    )


def _str_list(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise ConfigError(f"{where} must be a list of strings")
    out = [str(v) for v in value]
    if any(not v.strip() for v in out):
        raise ConfigError(f"{where} contains an empty string")
    return out

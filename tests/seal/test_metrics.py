"""Protects the evaluation math on fixed inputs: ROUGE-L / BLEU / chrF values, key-fact
extraction and recall, house-style wrap/strip/adherence, scenario assertions, the embedding
consistency score (offline MiniLM from its wheel), and the paired bootstrap."""

from __future__ import annotations

import math

import pytest

from aion_assets.seal.evaluation.bootstrap import paired_bootstrap
from aion_assets.seal.evaluation.consistency import EmbeddingConsistency, TokenCosineConsistency, minilm_model_dir
from aion_assets.seal.evaluation.metrics import (
    Assertions,
    bleu,
    chrf,
    extract_facts,
    fact_recall,
    normalize,
    rouge_l,
    score_example,
)
from aion_assets.seal.style import HouseStyle

STYLE = HouseStyle(
    greeting="Hi there, thanks for reaching out to Acme Support!", sign_off="Best regards,\nThe Acme Team"
)

# ----------------------------------------------------------------------------------------------
# Overlap metrics


def test_rouge_l_known_value() -> None:
    # LCS "the cat sat on mat" = 5 of 6 tokens each side -> P = R = F = 5/6.
    assert rouge_l("the cat sat on the mat", "the cat sat on a mat") == pytest.approx(5 / 6)
    assert rouge_l("identical words here", "identical words here") == pytest.approx(1.0)
    assert rouge_l("", "anything") == 0.0


def test_bleu_known_value() -> None:
    # Clipped n-gram precisions 5/6, 3/5, 2/4, 1/3, no brevity penalty (equal lengths).
    expected = (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25
    assert bleu("the cat sat on the mat", "the cat sat on a mat") == pytest.approx(expected, abs=1e-4)
    assert bleu("same sentence exactly here", "same sentence exactly here") == pytest.approx(1.0)
    assert bleu("alpha beta gamma delta", "one two three four") < 0.05


def test_chrf_bounds() -> None:
    assert chrf("Error E45A means overheating.", "Error E45A means overheating.") == pytest.approx(1.0)
    partial = chrf("Error E45A means the tank is loose.", "Error E45A means overheating.")
    assert 0.0 < partial < 1.0


# ----------------------------------------------------------------------------------------------
# Key facts


@pytest.mark.parametrize(
    ("answer", "facts", "expected"),
    [
        ("The VX-4127 costs $349.99 and ships in 3 business days.", ["$349.99", "3 business days"], 1.0),
        ("The VX-4127 costs $349.99.", ["$349.99", "3 business days"], 0.5),
        ("It costs $1,299.00.", ["$1299.00"], 1.0),  # thousands separator normalized
        ("It costs $16.00 with 15 GB.", ["$6.00", "5 GB"], 0.0),  # no match inside longer numbers
        ("Open MONDAY to friday.", ["Monday to Friday"], 1.0),  # case-insensitive
        ("Version 2.10.3 is out.", ["2.10"], 0.0),  # not a prefix of a longer version
        ("anything", [], None),  # no facts: not applicable, not 0 or 1
    ],
)
def test_fact_recall(answer: str, facts: list[str], expected: float | None) -> None:
    assert fact_recall(answer, facts) == expected


def test_extract_facts_from_reference() -> None:
    ref = (
        "The replacement filter for the VX-4127 is part number VX5521-B, priced at $19.95. "
        "Replace it every 6 months. Our line is open 8:30 to 17:00. Firmware 2.4.1 ships with Lumdor Home."
    )
    facts = extract_facts(ref)
    for fact in ("VX-4127", "VX5521-B", "$19.95", "6 months", "8:30", "17:00", "2.4.1", "Lumdor Home"):
        assert fact in facts
    assert "19" not in facts and "4127" not in facts  # parts of longer facts are not separate facts
    assert "The" not in " ".join(facts).split()  # sentence-initial capitals are not names


def test_normalize() -> None:
    assert normalize("  Monday\n to   FRIDAY. ") == "monday to friday"
    assert normalize("$1,299.00") == "$1299.00"


# ----------------------------------------------------------------------------------------------
# House style


def test_style_wrap_strip_roundtrip_and_adherence() -> None:
    body = "The VX-4127 costs $349.99."
    wrapped = STYLE.wrap(body)
    assert wrapped.startswith(STYLE.greeting) and wrapped.endswith("The Acme Team")
    assert STYLE.strip(wrapped) == body
    assert STYLE.adheres(wrapped)
    # Idempotent: wrapping a stripped answer never doubles the frame.
    assert STYLE.wrap(STYLE.strip(wrapped)) == wrapped
    # Whitespace/case variations of the frame still count and are still stripped.
    loose = "hi there,  thanks for reaching out to acme support!\n" + body + "\nBest regards, The Acme Team."
    assert STYLE.adheres(loose) and STYLE.strip(loose) == body
    assert not STYLE.adheres(body)
    assert STYLE.has_greeting(STYLE.greeting + " " + body) and not STYLE.has_sign_off(STYLE.greeting + body)
    assert STYLE.strip(body) == body


def test_empty_style_is_vacuous() -> None:
    style = HouseStyle()
    padded = " x "
    assert style.is_empty and style.adheres("anything") and style.strip(padded) == "x"


def test_score_example_separates_body_from_frame() -> None:
    reference = STYLE.wrap("The VX-4127 costs $349.99 and ships within 3 business days.")
    style_only = STYLE.wrap("Prices vary by retailer, please check the website.")
    facts_only = "The VX-4127 costs $349.99 and ships within 3 business days."
    s_style, s_facts = (
        score_example(style_only, reference, None, STYLE),
        score_example(facts_only, reference, None, STYLE),
    )
    # Wrapping a wrong answer raises whole-answer ROUGE-L but not the body's.
    assert s_style["rougeL"] > s_style["rougeL_body"]
    assert s_facts["rougeL_body"] == pytest.approx(1.0)
    assert s_style["style"] == 1.0 and s_facts["style"] == 0.0
    assert s_style["fact_recall"] == 0.0 and s_facts["fact_recall"] == 1.0
    assert s_facts["facts"] == ["VX-4127", "$349.99", "3 business days"]
    assert score_example(facts_only, reference, [], STYLE)["fact_recall"] is None


# ----------------------------------------------------------------------------------------------
# Scenario assertions


def test_assertions() -> None:
    a = Assertions(
        must_contain=("$349.99",), must_not_contain=("as an ai",), regex=(r"(?i)^hi there",), max_length=80
    )
    assert a.check("Hi there! The price is $349.99.") == []
    failures = a.check("As an AI I cannot say. " + "x" * 80)
    assert len(failures) == 4
    assert any(f.startswith("must_contain") for f in failures)
    assert any(f.startswith("must_not_contain") for f in failures)
    assert any(f.startswith("regex") for f in failures)
    assert any(f.startswith("max_length 80") for f in failures)
    assert Assertions().check("") == []


# ----------------------------------------------------------------------------------------------
# Consistency


def test_bow_consistency() -> None:
    scorer = TokenCosineConsistency()
    same, other = scorer(["the price is 5", "hello"], ["the price is 5", "goodbye"])
    assert same == pytest.approx(1.0) and other == 0.0


def test_minilm_consistency_loads_offline_from_the_wheel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert (minilm_model_dir() / "model.safetensors").is_file()
    scorer = EmbeddingConsistency()
    ref = "Our support line is open Monday to Friday from 8:00 to 17:30."
    close, far = scorer(
        ["Support is open Monday to Friday, 8:00 to 17:30.", "The VX-4127 costs $349.99."], [ref, ref]
    )
    assert 0.0 <= far < close <= 1.0
    assert close > 0.7
    with pytest.raises(ValueError):
        scorer(["a"], [])


# ----------------------------------------------------------------------------------------------
# Paired bootstrap


def test_bootstrap_identical_inputs_give_zero_interval() -> None:
    values = [0.1, 0.5, 0.3, 0.9, 0.0, 0.2]
    ci = paired_bootstrap(values, values, metric="m", seed=1)
    assert (ci.diff, ci.low, ci.high) == (0.0, 0.0, 0.0)
    assert not ci.excludes_zero


def test_bootstrap_clear_shift_excludes_zero_and_is_seeded() -> None:
    import random

    rng = random.Random(0)
    base = [rng.random() * 0.3 for _ in range(60)]
    cand = [b + 0.2 + rng.random() * 0.05 for b in base]
    ci = paired_bootstrap(cand, base, metric="m", n_resamples=1000, seed=7)
    assert ci.low > 0 and ci.excludes_zero
    assert ci.low <= ci.diff <= ci.high
    assert ci.relative is not None and ci.relative_low is not None and ci.relative_low > 0
    assert paired_bootstrap(cand, base, metric="m", n_resamples=1000, seed=7) == ci
    other = paired_bootstrap(cand, base, metric="m", n_resamples=1000, seed=8)
    assert (other.low, other.high) != (ci.low, ci.high)
    # The pairing matters: a noisy but consistent gain is detected.
    assert math.isclose(ci.diff, sum(cand) / 60 - sum(base) / 60)


def test_bootstrap_regression_interval_below_zero_and_bad_input() -> None:
    ci = paired_bootstrap([0.1, 0.2, 0.1, 0.0], [0.5, 0.6, 0.4, 0.5], seed=0)
    assert ci.high < 0
    assert paired_bootstrap([0.2, 0.3], [0.0, 0.0]).relative is None  # baseline mean 0
    with pytest.raises(ValueError):
        paired_bootstrap([1.0], [1.0, 2.0])
    with pytest.raises(ValueError):
        paired_bootstrap([], [])

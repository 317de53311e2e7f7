"""Protects bench_levers' loop detector: the degenerate repetitions greedy decoding falls into are
counted, and ordinary answers with numbers, lists and repeated words are not."""

from __future__ import annotations

import pytest

from bench.bench_levers import _share, looping


@pytest.mark.parametrize(
    "answer",
    [
        "The latest firmware for the TD-8469 is version 3.4.1.6.6.6.6.6.6.6.6.6.6.6.6.6.6",
        "version .1.7.8.7.7.69.95.0.0.7.7.69.81.81.81.81.81.81.81.81.81.",
        "Please restart it. restart it. restart it. restart it. restart it. restart it. restart it.",
    ],
)
def test_a_loop_is_counted(answer: str) -> None:
    assert looping(answer)


@pytest.mark.parametrize(
    "answer",
    [
        "Hi there!\n\nThe latest firmware for the BV-6010 is version 6.19.6.\n\nBest regards,\nThe Acme Support Team",
        "Call +44 20 7946 0269, Monday to Friday from 7:00 to 19:00. Steps: 1. 2. 3. 4. 5.",
        "It costs 1,111.11 EUR, no no no, really.",
    ],
)
def test_an_answer_without_a_loop_is_not(answer: str) -> None:
    assert not looping(answer)


def test_share_is_blank_for_older_result_lines() -> None:
    assert _share(None) == "" and _share(0.126) == "13%"

"""Protects: training and evaluation progress where users look.

The run's log gets about 20-50 step lines whatever the run's length (and always the last step),
a display gets every step as a structured event, the loss curve renders as an SVG whose line
follows the points, and the CLI display draws bars on a terminal and a dozen plain lines per
task otherwise. Evaluation reports each batch of answers as progress events.
"""

from __future__ import annotations

import base64
import io
import logging
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from aion_assets.runs import ProgressDisplay, showing_progress
from aion_assets.seal.training.progress import (
    UNBOUNDED,
    ProgressEvent,
    TrainingLog,
    event_of,
    listening,
    log_every,
    loss_curve_markdown,
    loss_curve_svg,
    report,
)


class Events(logging.Handler):
    """Collects the progress events reported while attached."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[ProgressEvent] = []

    def emit(self, record: logging.LogRecord) -> None:
        event = event_of(record)
        if event is not None:
            self.events.append(event)


class Clock:
    """A clock the test advances by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _train(log: TrainingLog, steps: int, *, seconds_per_step: float = 0.0, clock: Clock | None = None) -> None:
    for step in range(1, steps + 1):
        if clock is not None:
            clock.now += seconds_per_step
        log(step, 3.0 - step / (steps + 1), 250.0)


STEP_LINE = re.compile(r"^step (\d+)(?:/(\d+))?: loss (\d+\.\d{4}), (\d+) tokens/s$")


@pytest.mark.parametrize("total", [1, 7, 24, 60, 100, 999, 12_345])
def test_a_run_logs_twenty_to_fifty_step_lines_whatever_its_length(total: int) -> None:
    lines: list[str] = []
    log = TrainingLog(lines.append)
    log.begin(total, None)
    _train(log, total)
    log.end(total, "max_steps", 250.0)

    steps = [int(m.group(1)) for line in lines if (m := STEP_LINE.match(line))]
    assert steps == [s for s, _ in log.logged]
    assert min(total, 20) <= len(steps) <= 50
    assert steps[0] == 1 and steps[-1] == total and steps == sorted(set(steps))
    every = log_every(total)
    assert all(s % every == 0 for s in steps[1:-1])
    assert lines[0].startswith(f"training: {total} steps") and lines[-1].startswith("training stopped by max_steps")
    assert f"step {total}/{total}: loss" in "\n".join(lines)


def test_a_run_bounded_by_time_logs_by_time_and_its_last_step() -> None:
    lines: list[str] = []
    clock = Clock()
    log = TrainingLog(lines.append, clock=clock)
    log.begin(UNBOUNDED, 600.0)  # no step bound: the 10-minute budget ends it
    _train(log, 1_200, seconds_per_step=0.5, clock=clock)  # 1,200 steps in 600 s
    log.end(1_200, "time_budget")

    logged = [s for s, _ in log.logged]
    assert 20 <= len(logged) <= 50
    assert logged[0] == 1 and logged[-1] == 1_200
    # 600 s / 25 lines = a line every 24 s (48 steps) after step 1's; no "/total" without a step bound.
    assert "\nstep 49: loss" in "\n".join(lines) and "\nstep 97: loss" in "\n".join(lines)
    assert lines[-1] == "training stopped by time_budget after 1200 steps"


def test_an_early_stop_logs_the_step_it_stopped_at() -> None:
    lines: list[str] = []
    log = TrainingLog(lines.append)
    log.begin(100, 60.0)
    collected = Events()
    with listening(collected):
        _train(log, 37)
        log.end(37, "cancelled")
    # The display's task ends at step 37 of 100 (its bar closes).
    assert [(e.done, e.final) for e in collected.events[-2:]] == [(37, False), (37, True)]
    assert log.logged[-1][0] == 37 and log.last_step == 37
    assert lines[-2].startswith("step 37/100: loss") and lines[-1] == "training stopped by cancelled after 37 steps"


def test_every_step_reaches_a_listening_display_and_nothing_without_one() -> None:
    log = TrainingLog(lambda _line: None)
    log.begin(30, None)
    collected = Events()
    with listening(collected):
        _train(log, 30)
        log.end(30, "max_steps")
    _train(log, 3)  # nobody listens any more: nothing is collected (and nothing fails)

    events = collected.events
    assert [e.done for e in events] == list(range(1, 31))  # end() adds no second final event
    assert all(e.task == "training" and e.total == 30 for e in events)
    assert events[4].fields == {"loss": pytest.approx(3.0 - 5 / 31, abs=1e-4), "tokens/s": 250}
    assert events[-1].final and not any(e.final for e in events[:-1])


def _svg_of(markdown: str) -> ET.Element:
    match = re.search(r"!\[training loss\]\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)", markdown)
    assert match, markdown
    return ET.fromstring(base64.b64decode(match.group(1)))


def test_the_loss_curve_renders_as_an_inline_svg_following_the_points() -> None:
    points = [(1, 3.0), (2, 2.5), (3, 2.7), (10, 1.0)]
    markdown = loss_curve_markdown(points)
    svg = _svg_of(markdown)
    ns = "{http://www.w3.org/2000/svg}"
    (polyline,) = svg.iter(f"{ns}polyline")
    xy = [tuple(map(float, p.split(","))) for p in polyline.attrib["points"].split()]
    assert len(xy) == len(points)
    xs, ys = [x for x, _ in xy], [y for _, y in xy]
    assert xs == sorted(xs) and xs[0] < xs[-1]
    # SVG y grows downwards: the highest loss is the topmost point, the lowest the bottom one.
    assert ys.index(min(ys)) == 0 and ys.index(max(ys)) == 3 and ys[1] > ys[2]
    assert "loss 3.0000 at step 1 -> 1.0000 at step 10 (4 points)" in markdown
    # One point and a flat curve still draw; no point at all is said in words.
    assert len(list(_svg_of(loss_curve_markdown([(5, 2.0)])).iter(f"{ns}polyline"))) == 1
    assert loss_curve_markdown([]) == "no training loss was logged"
    with pytest.raises(ValueError):
        loss_curve_svg([])


def test_the_display_writes_a_dozen_plain_lines_per_task_without_a_terminal() -> None:
    out = io.StringIO()
    display = ProgressDisplay(out)  # a StringIO is no terminal: plain lines
    assert not display.bars
    with listening(display):
        for step in range(1, 41):
            report("training", step, 40, {"loss": round(3 - step / 20, 2), "tokens/s": 250})
        for done in (8, 16, 24):
            report("candidate answers", done, 24)
    lines = out.getvalue().splitlines()
    training = [line for line in lines if line.startswith("training:")]
    assert training[0] == "training: 1/40 (2%), loss 2.95, tokens/s 250"
    assert "training: 4/40 (10%), loss 2.8, tokens/s 250" in training
    assert training[-1] == "training: 40/40 (100%), loss 1.0, tokens/s 250 done"
    assert len(training) == 11  # the first step, then each tenth (the last is the end)
    assert [line for line in lines if line.startswith("candidate")] == [
        "candidate answers: 8/24 (33%)",
        "candidate answers: 16/24 (67%)",
        "candidate answers: 24/24 (100%) done",
    ]


def test_the_display_draws_a_bar_per_task_and_writes_other_output_around_it() -> None:
    out = io.StringIO()
    display = ProgressDisplay(out, bars=True)
    with listening(display):
        for step in range(1, 21):
            report("training", step, 20, {"loss": 1.5})
        assert set(display._bars) == set()  # the final step closed the bar
        report("baseline answers", 4, 16)
        display.write_around("2026-01-01 - dagster - INFO - a log line\n")
        report("baseline answers", 16, 16)
    text = out.getvalue()
    assert re.search(r"training: 100%\|.*\| 20/20 .*loss=1\.5", text), text
    assert re.search(r"baseline answers: 100%\|.*\| 16/16", text), text
    # The log line starts on a cleared line (\r, blanks, \r), and the bar is drawn again after it.
    assert re.search(r"\r *\r2026-01-01 - dagster - INFO - a log line\n", text), repr(text)
    assert "baseline answers" in text.split("a log line\n")[1]


def test_showing_progress_sends_standard_error_around_the_bars(capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    real = sys.stderr
    display = ProgressDisplay(real, bars=True)
    with showing_progress(display):
        assert sys.stderr is not real
        report("training", 1, 2)
        print("a dagster console line", file=sys.stderr)  # Dagster's console log resolves sys.stderr per record
        report("training", 2, 2)
    assert sys.stderr is real and display._bars == {}
    err = capsys.readouterr().err
    # The bar is cleared (\r, blanks, \r), the whole line written, and the bar drawn again below it.
    around = r"^\rtraining: .*\r *\ra dagster console line\n\rtraining: +50%.*\rtraining: 100%"
    assert re.search(around, err, re.S), repr(err)


def test_generation_reports_each_batch_of_answers(tiny_llama: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from aion_assets.seal.evaluation.generation import generate_answers

    model = AutoModelForCausalLM.from_pretrained(str(tiny_llama))
    tok = AutoTokenizer.from_pretrained(str(tiny_llama))
    collected = Events()
    with listening(collected):
        answers = generate_answers(
            model, tok, ["What does the Zephyr X2 cost?"] * 5, max_new_tokens=2, batch_size=2, task="candidate answers"
        )
    assert len(answers) == 5
    assert [(e.task, e.done, e.total, e.final) for e in collected.events] == [
        ("candidate answers", 2, 5, False),
        ("candidate answers", 4, 5, False),
        ("candidate answers", 5, 5, True),
    ]

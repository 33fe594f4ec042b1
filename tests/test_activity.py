"""While a notebook runs, the progress display shows its exercise, cell, running time and last printed line; what
the sandbox writes for it is read as untrusted."""

from __future__ import annotations

import io
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell
from rich.console import Console

from grader.activity import (
    MAX_ACTIVITY_BYTES,
    MAX_LINE_CHARS,
    Activity,
    ActivityWatch,
    in_exercise,
    last_line,
    read_activity,
)
from grader.batch import BatchEvents, fingerprint, grade_batch
from grader.grade import GradeOptions
from grader.progress import PLAIN_EVERY_S, QUIET_S, BatchProgress
from grader.protocol import ACTIVITY_FILE, MAX_ACTIVITY_OUTPUT, CellActivity
from grader.scoring import failed_submission
from grader.spec import Spec

TRAINING = """import sys, time
print('loading')
print('Epoch 1/3')
for step in range(1, 4):
    sys.stdout.write(f'\\r\\x1b[1m{step}/3\\x1b[0m \\x1b[32m━━━━\\x1b[0m - loss: 0.{step}')
    sys.stdout.flush()
time.sleep(3)
"""
TRAINING_LINE = "3/3 ━━━━ - loss: 0.3"
VALID = {"cell_index": 5, "started": 1000.0, "output": "Epoch 1/2\n"}


def _record(folder: Path, value: object) -> None:
    (folder / ACTIVITY_FILE).write_text(json.dumps(value), encoding="utf-8")


@pytest.mark.parametrize(
    ("output", "line"),
    [
        (
            "Epoch 3/10\n\x1b[1m 12/100\x1b[0m \x1b[32m━━\x1b[0m\r\x1b[1m 50/100\x1b[0m \x1b[32m━━━━━\x1b[0m",
            "50/100 ━━━━━",
        ),
        ("Epoch 4/10\n" + "\b" * 40 + "\r", "Epoch 4/10"),
        ("done\n\n  \r\n", "done"),
        ("\x1b]0;title\x07tab\there\x00\u202e!", "tab here!"),
        ("x" * 500, "x" * (MAX_LINE_CHARS - 1) + "…"),
        ("", ""),
    ],
)
def test_the_last_line_is_what_a_terminal_leaves_cleaned_and_cut(output: str, line: str) -> None:
    assert last_line(output) == line


def test_a_cell_is_placed_in_its_exercise() -> None:
    activity = Activity(None, 4, 1.0, "")
    assert in_exercise(activity, {1: [0, 1], 2: [2, 3]}).exercise == 2
    assert in_exercise(activity, {1: [0, 1]}).exercise is None


def test_a_running_notebook_reports_its_exercise_cell_time_and_last_line(tmp_path: Path, spec: Spec) -> None:
    cells = [
        new_markdown_cell("## 1. Why CNNs"),
        new_code_cell("print('weight sharing')"),
        new_markdown_cell("## 2. Shapes"),
        new_code_cell(TRAINING),
    ]
    folder = tmp_path / "alice"
    folder.mkdir()
    path = folder / "alice.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    seen: list[tuple[Path, Activity]] = []
    events = BatchEvents(activity=lambda notebook, activity: seen.append((notebook, activity)))
    grade_batch([path], spec, GradeOptions(exercises=(1, 2)), tmp_path / "out", events=events)
    assert {notebook for notebook, _ in seen} == {path}
    training = [activity for _, activity in seen if activity.cell == 4]
    assert len(training) >= 2, seen  # polled about every second during its 3 s
    assert all(activity.exercise == 2 for activity in training)
    assert training[-1].line == TRAINING_LINE
    seconds = [activity.seconds for activity in training]
    assert seconds == sorted(seconds) and seconds[-1] - seconds[0] >= 0.5 and seconds[-1] < 60


def test_the_callback_does_not_change_the_fingerprint(tmp_path: Path, spec: Spec) -> None:
    path = tmp_path / "alice.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), path)
    options = GradeOptions(exercises=(1,))
    assert fingerprint(path, spec, options) == fingerprint(path, spec, replace(options, activity=print))


@pytest.mark.parametrize(
    "value",
    [
        {**VALID, "cell_index": "5"},
        {**VALID, "cell_index": True},
        {**VALID, "cell_index": -1},
        {**VALID, "started": "now"},
        {**VALID, "started": float("nan")},
        {**VALID, "output": ["Epoch 1/2"]},
        [5, 1000.0, ""],
        None,
    ],
)
def test_a_record_of_the_wrong_shape_is_ignored(tmp_path: Path, value: object) -> None:
    _record(tmp_path, value)
    assert read_activity(tmp_path) is None


def test_a_record_is_read_back_with_its_output_bounded(tmp_path: Path) -> None:
    _record(tmp_path, {**VALID, "output": "y" * (2 * MAX_ACTIVITY_OUTPUT), "score": 100})
    assert read_activity(tmp_path) == CellActivity(5, 1000.0, "y" * MAX_ACTIVITY_OUTPUT)


def test_garbage_huge_linked_and_odd_files_are_ignored(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _record(elsewhere, VALID)
    assert read_activity(elsewhere) is not None
    cases = {name: tmp_path / name for name in ("garbage", "huge", "link", "fifo", "folder", "nested", "linked")}
    for folder in cases.values():
        folder.mkdir()
    (cases["garbage"] / ACTIVITY_FILE).write_bytes(b"\xff{not json")
    _record(cases["huge"], {**VALID, "padding": "z" * MAX_ACTIVITY_BYTES})
    (cases["link"] / ACTIVITY_FILE).symlink_to(elsewhere / ACTIVITY_FILE)
    os.mkfifo(cases["fifo"] / ACTIVITY_FILE)
    (cases["folder"] / ACTIVITY_FILE).mkdir()
    (cases["nested"] / ACTIVITY_FILE).write_text("[" * (MAX_ACTIVITY_BYTES - 1), encoding="utf-8")
    cases["linked"].rmdir()
    cases["linked"].symlink_to(elsewhere)
    for name, folder in cases.items():
        assert read_activity(folder) is None, name
    assert read_activity(tmp_path / "missing") is None


def test_the_watch_reports_only_the_notebooks_cells(tmp_path: Path) -> None:
    reports: list[Activity] = []
    watch = ActivityWatch(tmp_path, offset=2, cells=3, report=reports.append)
    for index, cell in [(0, None), (1, None), (2, 1), (4, 3), (5, None)]:  # two set-up cells, then the notebook's
        _record(tmp_path, {"cell_index": index, "started": time.time() - 7, "output": "\x1b[31mEpoch 2/5\x1b[0m\n"})
        current = watch.current()
        assert (current.cell if current else None) == cell, index
        assert current is None or (current.line == "Epoch 2/5" and 6 <= current.seconds < 60)
    assert not reports  # never started: nothing polled


def test_the_watch_survives_garbage_and_reports_nothing(tmp_path: Path) -> None:
    reports: list[Activity] = []
    (tmp_path / ACTIVITY_FILE).write_bytes(b"\x00" * 100)
    with ActivityWatch(tmp_path, offset=0, cells=3, report=reports.append) as watch:
        time.sleep(1.5)
        assert watch.thread.is_alive()
        _record(tmp_path, {"cell_index": 1, "started": time.time(), "output": ""})
        time.sleep(1.5)
    assert reports and all(report.cell == 2 for report in reports)
    assert not watch.thread.is_alive()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_without_a_terminal_activity_is_printed_when_it_is_news_only(tmp_path: Path) -> None:
    output = io.StringIO()
    clock = Clock()
    alice, bob = tmp_path / "alice.ipynb", tmp_path / "bob.ipynb"
    with BatchProgress(Console(file=output, force_terminal=False, width=60), 2, clock) as progress:
        events = progress.events
        events.started(alice)
        events.started(bob)
        for second in range(int(PLAIN_EVERY_S) + 40):
            clock.now = second
            line = f"{second // 10}/10 \x1b[32m━━━\x1b[0m"
            events.activity(alice, Activity(9, 14, 190.0 + second, last_line(f"Epoch 4/10\r{line}")))
        events.activity(bob, Activity(3, 5, QUIET_S - 1, "still quick"))
        events.activity(bob, Activity(None, 6, QUIET_S + 1, ""))
    lines = output.getvalue().splitlines()
    assert [line for line in lines if line.startswith("alice.ipynb —")] == [
        "alice.ipynb — exercise 9, cell 14, 3:10 — 0/10 ━━━",
        "alice.ipynb — exercise 9, cell 14, 3:40 — 3/10 ━━━",
        "alice.ipynb — exercise 9, cell 14, 4:10 — 6/10 ━━━",
    ]
    assert [line for line in lines if line.startswith("bob.ipynb —")] == ["bob.ipynb — cell 6, 0:06"]


def test_on_a_terminal_each_running_notebook_has_a_line_under_the_bar(tmp_path: Path) -> None:
    clock = Clock()
    alice = tmp_path / "alice.ipynb"
    with BatchProgress(Console(file=io.StringIO(), force_terminal=True, width=100), 1, clock) as progress:
        progress.events.started(alice)
        progress.events.activity(alice, Activity(9, 14, 190.0, "Epoch 4/10"))
        clock.now = 2.0
        assert "alice.ipynb — exercise 9, cell 14, 3:12 — Epoch 4/10" in _rendered(progress)
        progress.events.finished(alice, failed_submission(str(alice), 100, "test"), False)
        assert "exercise 9" not in _rendered(progress)


def _rendered(progress: BatchProgress) -> str:
    """What the live display shows now, as text."""
    assert progress.bar is not None
    output = io.StringIO()
    Console(file=output, width=100).print(progress.bar.get_renderable())
    return output.getvalue()

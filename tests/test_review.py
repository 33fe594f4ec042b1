"""``grader review``: flagged exercises decided one by one in a real pseudo-terminal, each decision kept at once."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pexpect
import pytest
from conftest import CONCEPTUAL, class_folder

from grader import store
from grader.commands.review import _answer
from grader.grade import GradeOptions, grade_notebook
from grader.review import Command, Decision, highlights, parse_decision
from grader.scoring import Review, SubmissionResult
from grader.spec import Spec

STORED = GradeOptions(execute=False, exercises=CONCEPTUAL)
CONCEPTUAL_ARGS = [arg for number in CONCEPTUAL for arg in ("-e", str(number))]
FLAGS = {("bob.ipynb", 2): "two different totals given", ("alice.ipynb", 3): "keyword list without a sentence",
         ("bob.ipynb", 3): "negation near an idea"}


def _flagged(result: SubmissionResult) -> SubmissionResult:
    """The result with the exercises of FLAGS flagged, and exercise 1's ideas recognised (as the checks say)."""
    name = Path(result.path).name
    exercises = []
    for exercise in result.exercises:
        reason = FLAGS.get((name, exercise.number))
        if reason:
            exercise = replace(exercise, review=Review.of([reason]))
        if exercise.number == 3:
            check = replace(exercise.checks[0], recognised=("Gradient checkpointing", "smaller inputs"))
            exercise = replace(exercise, checks=(check, *exercise.checks[1:]))
        exercises.append(exercise)
    return replace(result, exercises=tuple(exercises))


@pytest.fixture()
def out(tmp_path: Path, spec: Spec) -> Path:
    """An output folder with alice and bob really graded, three of their exercises flagged for review."""
    folder = class_folder(tmp_path)
    results = [_flagged(grade_notebook(folder / name, spec, STORED)) for name in ("alice.ipynb", "bob.ipynb")]
    assert all(exercise.answer for result in results for exercise in result.exercises)
    store.save(results, spec, tmp_path / "out")
    return tmp_path / "out"


def _review(out: Path, *args: str) -> pexpect.spawn:
    # pexpect is a terminal without a screen: it does not answer prompt_toolkit's cursor-position requests
    env = {**os.environ, "TERM": "xterm-256color", "PROMPT_TOOLKIT_NO_CPR": "1"}
    return pexpect.spawn(sys.executable, ["-m", "grader", "review", str(out), *args], env=env, encoding="utf-8",
                         dimensions=(60, 160), timeout=60)


def _finish(child: pexpect.spawn) -> str:
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    return child.before


def _manual(out: Path) -> dict[tuple[str, int], dict]:
    document = json.loads((out / "results.json").read_text())
    return {(Path(sub["path"]).name, exercise["number"]): exercise["manual"]
            for sub in document["submissions"] for exercise in sub["exercises"] if "manual" in exercise}


def _needs_review(out: Path) -> dict[str, str]:
    return {Path(row["submission"]).name: row["needs_review"] for row in csv.DictReader((out / "grades.csv").open())}


def test_review_decides_resumes_and_survives_a_regrade(out: Path, tmp_path: Path) -> None:
    assert _needs_review(out) == {"alice.ipynb": "1", "bob.ipynb": "2"}
    child = _review(out)
    child.expect("review 1 of 3")
    child.expect("keyword list without a sentence")
    child.expect("Gradient checkpointing")  # the answer is shown
    child.expect(r"points \[5/5\]>")
    child.send("\r")  # Enter accepts
    child.expect("review 2 of 3")
    child.expect("two different totals given")
    child.expect("902,400")
    child.expect(r"points \[10/12\]>")
    child.send("13\r")
    child.expect("points go from 0 to 12")
    child.send("\x15")  # Ctrl-U clears the line
    child.send("11 the RAM convention is explained in a later cell\r")
    child.expect("review 3 of 3")
    assert _manual(out) == {  # each decision is saved before the next screen
        ("alice.ipynb", 3): {"points": 5, "comment": "", "original_score": 5, "original_status": "passed"},
        ("bob.ipynb", 2): {"points": 11, "comment": "the RAM convention is explained in a later cell",
                           "original_score": 10, "original_status": "partial"}}
    assert _needs_review(out) == {"alice.ipynb": "0", "bob.ipynb": "1"}
    child.expect(r"points \[5/5\]>")
    child.send("q\r")
    text = _finish(child)
    assert "2 decisions saved" in text and "1 exercise left to review" in text
    overrides = out / "overrides.csv"
    assert overrides.read_text().splitlines() == [
        "submission,exercise,points,comment", f"{tmp_path / 'class' / 'alice.ipynb'},3,5,",
        f"{tmp_path / 'class' / 'bob.ipynb'},2,11,the RAM convention is explained in a later cell"]

    again = _review(out)  # resumes with the one exercise not decided
    again.expect("review 1 of 1")
    again.expect("negation near an idea")
    again.expect(r"points \[5/5\]>")
    again.send("four\r")
    again.expect("type points")
    again.send("\x15" + "s\r")  # skipped: still in the queue
    assert "0 decisions saved" in _finish(again) and _needs_review(out)["bob.ipynb"] == "1"
    last = _review(out)
    last.expect("review 1 of 1")
    last.expect(r"points \[5/5\]>")
    last.send("4.5 one remedy is the same as another\r")
    text = _finish(last)
    assert "1 decision saved" in text and "0 exercises left to review" in text
    assert _needs_review(out) == {"alice.ipynb": "0", "bob.ipynb": "0"}
    bob_total = json.loads((out / "results.json").read_text())["submissions"][1]["score"]
    assert bob_total == 37 + 1 - 0.5

    nothing = _review(out)
    assert "0 decisions saved" in _finish(nothing)

    grade = [sys.executable, "-m", "grader", "grade", str(tmp_path / "class"), "--no-execute", *CONCEPTUAL_ARGS,
             "--out", str(out)]
    forgotten = subprocess.run(grade, capture_output=True, text=True, timeout=600)
    assert forgotten.returncode == 0, forgotten.stderr
    assert f"{overrides} holds manual grades" in " ".join(forgotten.stderr.split()) and not _manual(out)
    regrade = subprocess.run([*grade, "--overrides", str(overrides)], capture_output=True, text=True, timeout=600)
    assert regrade.returncode == 0, regrade.stderr
    assert "3 manual grades" in regrade.stdout
    assert {key: value["points"] for key, value in _manual(out).items()} == {
        ("alice.ipynb", 3): 5, ("bob.ipynb", 2): 11, ("bob.ipynb", 3): 4.5}


def test_review_needs_a_terminal_and_valid_results(out: Path, tmp_path: Path) -> None:
    piped = subprocess.run([sys.executable, "-m", "grader", "review", str(out)], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=120)
    assert piped.returncode == 2 and "needs a terminal" in piped.stderr
    missing = subprocess.run([sys.executable, "-m", "grader", "review", str(tmp_path / "nowhere")],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("submission,exercise,points\ncarol,2,3\n")
    wrong = subprocess.run([sys.executable, "-m", "grader", "review", str(out), "--overrides", str(bad)],
                           capture_output=True, text=True, timeout=120)
    assert wrong.returncode == 2 and f"{bad}:2: no submission 'carol'" in wrong.stderr


def test_decisions_are_read_as_typed(out: Path) -> None:
    exercise = store.load(out).results[1].exercises[1]
    assert (exercise.score, exercise.max_score) == (10, 12)
    assert parse_decision("", exercise) == Decision(10)
    assert parse_decision("  12  ", exercise) == Decision(12)
    assert parse_decision("0 copied from a classmate ", exercise) == Decision(0, "copied from a classmate")
    assert parse_decision("S", exercise) is Command.SKIP and parse_decision("q", exercise) is Command.QUIT
    for typed in ("twelve", "-1", "12.5", "1,5"):
        with pytest.raises(ValueError):
            parse_decision(typed, exercise)


def test_recognised_ideas_are_highlighted_in_the_answer(out: Path) -> None:
    exercise = store.load(out).results[0].exercises[2]
    spans = highlights(exercise.answer, exercise.checks[0].recognised)
    assert [exercise.answer[start:end] for start, end in spans] == ["Gradient checkpointing", "Smaller inputs"]
    styled = {(span.start, span.end) for span in _answer(exercise).spans}
    assert set(spans) <= styled
    assert highlights("a  smaller\nmini-batch", ["smaller mini-batch"]) == [(3, 21)]
    answer = "layer 1: 100 × 150 × 100, or (100x150x100)"
    assert [answer[start:end] for start, end in highlights(answer, ["100  x  150  x  100"])] == [
        "100 × 150 × 100", "100x150x100"]


def test_the_summary_counts_the_exercises_to_review(out: Path, spec: Spec) -> None:
    from rich.console import Console

    from grader.report import print_summary

    console = Console(record=True, width=200)
    print_summary(store.load(out).results, spec, console)
    text = console.export_text()
    assert "3 exercises need review" in text and "3. review: negation near an idea" in text

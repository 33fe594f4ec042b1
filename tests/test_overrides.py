"""Manual grades: loading and validating the overrides file, merging it, keeping it across re-grades."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from conftest import CONCEPTUAL, DATA, class_folder
from typer.testing import CliRunner

from grader import store
from grader.commands import override as override_command
from grader.commands import report as report_command
from grader.formats.gradescope import gradescope_results
from grader.grade import GradeOptions, grade_notebook
from grader.manual import as_graded
from grader.overrides import OverrideError, append_override, apply_overrides, load_overrides, merge_overrides
from grader.scoring import SubmissionResult
from grader.spec import Spec

STORED = GradeOptions(execute=False, exercises=CONCEPTUAL)
CONCEPTUAL_ARGS = [arg for number in CONCEPTUAL for arg in ("-e", str(number))]
YAML = """\
- submission: bob
  exercise: 2
  points: 11
  comment: the RAM convention is explained in a later cell
- {submission: alice.ipynb, exercise: 3, points: 4, comment: "one remedy copied from a classmate"}
"""
CSV = """\
submission,exercise,points,comment
bob,2,11,the RAM convention is explained in a later cell
alice.ipynb,3,4,"one remedy copied from a classmate"
"""


@pytest.fixture()
def results(tmp_path: Path, spec: Spec) -> list[SubmissionResult]:
    folder = class_folder(tmp_path)
    graded = [grade_notebook(folder / name, spec, STORED) for name in ("alice.ipynb", "bob.ipynb")]
    assert [result.score for result in graded] == [39, 37]
    return graded


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_yaml_and_csv_give_the_same_overrides(tmp_path: Path, spec: Spec) -> None:
    from_yaml = load_overrides(_write(tmp_path, "o.yaml", YAML), spec)
    from_csv = load_overrides(_write(tmp_path, "o.csv", CSV), spec)
    strip = [(item.submission, item.exercise, item.points, item.comment) for item in from_yaml]
    assert strip == [(item.submission, item.exercise, item.points, item.comment) for item in from_csv]
    assert strip[0] == ("bob", 2, 11.0, "the RAM convention is explained in a later cell")
    assert [item.where for item in from_csv] == [f"{tmp_path / 'o.csv'}:2", f"{tmp_path / 'o.csv'}:3"]
    assert [item.where for item in from_yaml] == [f"{tmp_path / 'o.yaml'}:1", f"{tmp_path / 'o.yaml'}:5"]


def test_every_bad_line_is_named(tmp_path: Path, spec: Spec) -> None:
    path = _write(tmp_path, "bad.csv", "submission,exercise,points,comment\n"
                  "bob,12,1,no such exercise\n"
                  "bob,1,5,more than exercise 1 is worth\n"
                  "\n"
                  "bob,2,lots,\n"
                  ",2,1,\n"
                  "bob,2,-1,\n"
                  "bob,2,3,\"a comment\nover two lines\"\n"
                  "bob,2,4,repeated\n"
                  "bob,4,1,x,extra\n")
    with pytest.raises(OverrideError) as caught:
        load_overrides(path, spec)
    assert caught.value.problems == [
        f"{path}:2: exercise 12 is not in spec ch14 (its exercises: 1, 2, 3, 4, 5, 6, 7, 8, 9)",
        f"{path}:3: points 5 out of range for exercise 1: 0 to 4",
        f"{path}:5: points 'lots' is not a number",
        f"{path}:6: missing submission",
        f"{path}:7: points -1 out of range for exercise 2: 0 to 12",
        f"{path}:10: repeats the override of line 8",
        f"{path}:11: has 5 cells, the header 4",
    ]


def test_bad_yaml_is_named_by_line(tmp_path: Path, spec: Spec) -> None:
    unknown = _write(tmp_path, "a.yaml", "- submission: bob\n  exercise: 2\n  points: 3\n- submission: bob\n"
                     "  exercise: two\n  points: 1\n  grade: A\n")
    with pytest.raises(OverrideError) as caught:
        load_overrides(unknown, spec)
    assert caught.value.problems == [f"{unknown}:4: unknown field grade; the fields are "
                                     "submission, exercise, points, comment"]
    broken = _write(tmp_path, "b.yaml", "- submission: bob\n  exercise: [2\n")
    with pytest.raises(OverrideError, match=rf"{broken}:3: not valid YAML"):
        load_overrides(broken, spec)
    with pytest.raises(OverrideError, match=rf"{broken.with_name('c.yaml')}:1: expected a list of overrides"):
        load_overrides(_write(tmp_path, "c.yaml", "bob: 3\n"), spec)
    with pytest.raises(OverrideError, match="the header must name submission, exercise, points, comment"):
        load_overrides(_write(tmp_path, "d.csv", "student,exercise,points\nbob,2,3\n"), spec)


def test_applying_marks_the_exercise_manual_and_rescores(results, spec: Spec, tmp_path: Path) -> None:
    merged = apply_overrides(results, load_overrides(_write(tmp_path, "o.yaml", YAML), spec))
    alice, bob = merged
    assert (alice.score, bob.score) == (38, 38)
    exercise = bob.exercises[1]
    assert (exercise.score, exercise.status) == (11, "partial")
    assert exercise.manual.original_score == 10 and exercise.manual.original_status == "partial"
    assert bob.exercises[0].manual is None
    assert [as_graded(result) for result in merged] == results
    again = apply_overrides(merged, load_overrides(_write(tmp_path, "o2.csv", "submission,exercise,points\n"
                                                          "bob,2,12\n"), spec))
    assert [result.score for result in again] == [39, 39]
    assert again[1].exercises[1].manual.original_score == 10 and again[1].exercises[1].status == "passed"
    document = gradescope_results(bob)
    assert sum(test["score"] for test in document["tests"]) == document["score"] == 38
    assert any(test["name"] == "2. manual adjustment" and test["score"] == 1 for test in document["tests"])


def test_overrides_must_name_graded_submissions(results, spec: Spec, tmp_path: Path) -> None:
    twin = tmp_path / "other" / "alice.ipynb"
    twin.parent.mkdir()
    shutil.copy(DATA / "seed_style.ipynb", twin)
    only_two = grade_notebook(twin, spec, GradeOptions(execute=False, exercises=(2,)))
    path = _write(tmp_path, "o.csv", "submission,exercise,points\ncarol,1,1\nalice,1,1\nother/alice,3,1\n"
                  "class/alice.ipynb,1,2\nbob.ipynb,1,1\nbob,1,2\n")
    with pytest.raises(OverrideError) as caught:
        apply_overrides([*results, only_two], load_overrides(path, spec))
    problems = caught.value.problems
    assert problems[0] == f"{path}:2: no submission 'carol' in the results"
    assert problems[1].startswith(f"{path}:3: 'alice' names 2 submissions (")
    assert problems[1].endswith("); write more of its path")
    assert problems[2] == f"{path}:4: exercise 3 was not graded in {twin}"
    assert problems[3] == f"{path}:7: {results[1].path} exercise 1 is already overridden at {path}:6"
    assert len(problems) == 4


def test_results_json_round_trip(results, spec: Spec, tmp_path: Path) -> None:
    out = tmp_path / "out"
    merged = merge_overrides(results, spec, out, _write(tmp_path, "o.yaml", YAML))
    document = json.loads((out / "results.json").read_text())
    exercise = document["submissions"][1]["exercises"][1]
    assert exercise["score"] == 11 and exercise["manual"] == {
        "points": 11, "comment": "the RAM convention is explained in a later cell", "original_score": 10,
        "original_status": "partial"}
    assert document["submissions"][1]["score"] == 38
    assert "manual" not in document["submissions"][1]["exercises"][0]
    rows = list(csv.DictReader((out / "grades.csv").open()))
    assert [(row["exercise_2"], row["exercise_3"], row["total"]) for row in rows] == [("12", "4", "38"),
                                                                                      ("11", "5", "38")]
    assert store.load(out) == store.Stored("ch14", merged)
    assert [as_graded(result) for result in store.load_for(out, spec)] == results
    store.save([as_graded(result) for result in merged], spec, out)
    assert "manual" not in (out / "results.json").read_text()


def _app() -> typer.Typer:
    app = typer.Typer()
    override_command.register(app)
    report_command.register(app)
    return app


def _grade_cli(folder: Path, out: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "grader", "grade", str(folder), "--no-execute", *CONCEPTUAL_ARGS,
                           "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr


def _manual_view(out: Path) -> dict[tuple[str, int], tuple[float, dict | None]]:
    document = json.loads((out / "results.json").read_text())
    return {(Path(sub["path"]).name, exercise["number"]): (exercise["score"], exercise.get("manual"))
            for sub in document["submissions"] for exercise in sub["exercises"]}


def test_overrides_survive_a_regrade(tmp_path: Path) -> None:
    folder = class_folder(tmp_path)
    out = tmp_path / "out"
    overrides = _write(tmp_path, "overrides.csv", CSV)
    app = _app()
    runner = CliRunner()
    views = []
    for _ in range(2):
        _grade_cli(folder, out)
        assert all(manual is None for _score, manual in _manual_view(out).values())
        done = runner.invoke(app, ["override", str(out), str(overrides), "--format", "feedback"])
        assert done.exit_code == 0, done.output
        assert "2 manual grades" in done.output
        views.append(_manual_view(out))
    assert views[0] == views[1]
    assert views[0][("bob.ipynb", 2)] == (11, {"points": 11, "comment": "the RAM convention is explained in a "
                                                "later cell", "original_score": 10, "original_status": "partial"})
    assert "Score set by your instructor" in (out / "feedback" / "bob.md").read_text()
    rows = {Path(row["submission"]).name: row["total"] for row in csv.DictReader((out / "grades.csv").open())}
    assert rows == {"alice.ipynb": "38", "bob.ipynb": "38"}
    again = runner.invoke(app, ["override", str(out), str(overrides)])
    assert again.exit_code == 0 and _manual_view(out) == views[0]


def test_override_command_reports_bad_lines(results, spec: Spec, tmp_path: Path) -> None:
    out = tmp_path / "out"
    store.save(results, spec, out)
    bad = _write(tmp_path, "bad.csv", "submission,exercise,points\nbob,2,13\ncarol,1,1\n")
    app = _app()
    done = CliRunner().invoke(app, ["override", str(out), str(bad)])
    assert done.exit_code == 2
    assert f"{bad}:2: points 13 out of range for exercise 2: 0 to 12" in done.output
    missing = CliRunner().invoke(app, ["override", str(tmp_path / "nowhere"), str(bad)])
    assert missing.exit_code == 2 and "cannot read" in missing.output


@pytest.mark.parametrize("name", ["overrides.csv", "overrides.yaml"])
def test_appended_overrides_read_back(results, spec: Spec, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    append_override(path, results[1].path, 2, 11, 'RAM convention, "explained" later, in a note')
    append_override(path, results[0].path, 3, 5, "")
    loaded = load_overrides(path, spec)
    assert [(item.submission, item.exercise, item.points, item.comment) for item in loaded] == [
        (results[1].path, 2, 11, 'RAM convention, "explained" later, in a note'), (results[0].path, 3, 5, "")]
    merged = apply_overrides(results, loaded)
    assert [result.score for result in merged] == [39, 38]

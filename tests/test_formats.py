"""--format outputs: Gradescope results, JUnit XML and student feedback, from really graded notebooks."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest
from conftest import CONCEPTUAL, DATA

from grader.formats import write_formats
from grader.formats.gradescope import gradescope_results
from grader.formats.student import output_stems
from grader.grade import GradeOptions, grade_notebook
from grader.scoring import ExerciseStatus, SubmissionResult, failed_submission
from grader.spec import RubricCheck, Spec
from grader.store import submission_dict

STORED = GradeOptions(execute=False, exercises=CONCEPTUAL)
WRONG_ARITHMETIC = """#### 2. Consider a CNN composed of three convolutional layers.
**Answer:**
- Output shapes: 100 x 150 x 100, then 50 x 75 x 200, then 25 x 37 x 400
- Parameters per layer: 2800, 180200 and 720000; total parameters: 902,400
- RAM for one instance: 15.85 MB
- RAM for a mini-batch of 50: 600 MB
"""
WRONG_REMEDIES = "#### 3. If your GPU runs out of memory, what could you try?\n**Answer:** use a smaller mini-batch."
# The key of exercise 2 (main values and accepted alternatives) in the ways a notebook or a report writes it.
KEY_FIGURES = ("903,400", "903400", "903 400", "720,400", "720400", "25 x 38", "25 × 38", "(25, 38",
               "14.85", "14.13", "12.61", "565.61", "529.61")
LOST_BY_WRONG = {"conv3-shape", "conv3-params", "total-params", "ram-instance", "ram-batch", "remedies"}
NASTY_ERROR = "cell 4 (error): \x1b[0;31mValueError\x1b[0m: <script>alert('x')</script> & \x08 `tick`"


def _grade(tmp_path: Path, spec: Spec) -> tuple[SubmissionResult, SubmissionResult]:
    """The seed-style notebook (full marks) and a copy with exercise 2's key figures and 3's remedies wrong."""
    wrong = nbformat.read(DATA / "seed_style.ipynb", as_version=4)
    wrong.cells[2].source = WRONG_ARITHMETIC
    wrong.cells[3].source = WRONG_REMEDIES
    (tmp_path / "bob").mkdir()
    nbformat.write(wrong, tmp_path / "bob" / "bob.ipynb")
    return (grade_notebook(DATA / "seed_style.ipynb", spec, STORED),
            grade_notebook(tmp_path / "bob" / "bob.ipynb", spec, STORED))


@pytest.fixture()
def graded(tmp_path: Path, spec: Spec) -> tuple[SubmissionResult, SubmissionResult]:
    alice, bob = _grade(tmp_path, spec)
    lost = {check.id for exercise in bob.exercises for check in exercise.checks if check.score < check.points}
    assert alice.score == alice.max_score and lost == LOST_BY_WRONG
    return alice, bob


def _with_error(result: SubmissionResult, number: int, error: str) -> SubmissionResult:
    failed = ExerciseStatus.ERROR
    exercises = tuple(replace(exercise, errors=(error,), status=failed) if exercise.number == number else exercise
                      for exercise in result.exercises)
    return replace(result, exercises=exercises)


def test_gradescope_results_follow_the_schema_and_add_up(graded, spec: Spec, tmp_path: Path) -> None:
    out = tmp_path / "out"
    paths = write_formats(graded, spec, out, {"gradescope"})
    assert sorted(path.name for path in paths) == ["bob.json", "seed_style.json"]
    for result in graded:
        document = json.loads((out / "gradescope" / f"{Path(result.path).stem}.json").read_text())
        assert set(document) >= {"score", "tests", "output"}
        checks = [check for exercise in result.exercises for check in exercise.checks]
        assert len(document["tests"]) == len(checks)
        for test in document["tests"]:
            assert set(test) >= {"name", "score", "max_score", "output", "visibility"}
            assert test["visibility"] in {"visible", "hidden", "after_due_date", "after_published"}
            assert isinstance(test["score"], int | float) and isinstance(test["max_score"], int | float)
            assert test.get("output_format", "text") in {"text", "html", "simple_format", "md", "ansi"}
        assert sum(test["score"] for test in document["tests"]) == pytest.approx(document["score"])
        assert document["score"] == pytest.approx(result.score)
        assert sum(test["max_score"] for test in document["tests"]) == pytest.approx(result.max_score)
    bob = json.loads((out / "gradescope" / "bob.json").read_text())
    total = next(test for test in bob["tests"] if test["name"] == "2. total parameters")
    assert (total["score"], total["max_score"]) == (0, 2) and "902,400" in total["output"]


def test_gradescope_reports_a_notebook_that_could_not_be_graded(spec: Spec) -> None:
    failed = failed_submission("carol.ipynb", 39, "carol.ipynb: not UTF-8")
    document = gradescope_results(failed)
    assert document["score"] == 0 and "not UTF-8" in document["output"]
    assert [(test["score"], test["max_score"]) for test in document["tests"]] == [(0, 39)]


def test_junit_parses_with_the_right_counts(graded, spec: Spec, tmp_path: Path) -> None:
    alice, bob = graded
    carol = failed_submission(str(tmp_path / "carol.ipynb"), alice.max_score, "carol.ipynb: not UTF-8")
    errored = _with_error(alice, 3, NASTY_ERROR)
    write_formats([errored, bob, carol], spec, tmp_path, {"junit"})
    root = ET.parse(tmp_path / "junit.xml").getroot()
    assert root.tag == "testsuites"
    suites = {suite.get("name"): suite for suite in root.findall("testsuite")}
    assert list(suites) == ["seed_style", "bob", "carol"]
    checks = sum(len(exercise.checks) for exercise in alice.exercises)
    expected = {"seed_style": (checks, 0, 0), "bob": (checks, len(LOST_BY_WRONG), 0), "carol": (1, 0, 1)}
    for name, (tests, failures, errors) in expected.items():
        suite = suites[name]
        cases = suite.findall("testcase")
        assert (int(suite.get("tests")), int(suite.get("failures")), int(suite.get("errors"))) == \
            (tests, failures, errors)
        assert len(cases) == tests
        assert sum(case.find("failure") is not None for case in cases) == failures
        assert sum(case.find("error") is not None for case in cases) == errors
    for attribute in ("tests", "failures", "errors", "skipped"):
        assert int(root.get(attribute)) == sum(int(suite.get(attribute)) for suite in suites.values())
    failing = {case.get("name"): case for case in suites["bob"].findall("testcase") if case.find("failure") is not None}
    assert set(failing) == LOST_BY_WRONG
    assert failing["total-params"].get("classname") == "cnn-arithmetic"
    assert "total parameters" in failing["total-params"].find("failure").get("message")
    assert suites["carol"].find("testcase/error").get("message") == "carol.ipynb: not UTF-8"


def test_junit_error_for_an_exercise_that_raised(graded, spec: Spec, tmp_path: Path) -> None:
    _alice, bob = graded
    write_formats([_with_error(bob, 2, NASTY_ERROR)], spec, tmp_path, {"junit"})
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    errors = suite.findall("testcase/error")
    assert {case.get("name") for case in suite.findall("testcase") if case.find("error") is not None} == \
        LOST_BY_WRONG - {"remedies"}
    assert int(suite.get("errors")) == len(errors) == 5 and int(suite.get("failures")) == 1
    assert "ValueError: <script>" in errors[0].get("message") and "\x1b" not in errors[0].get("message")


def _student_texts(out: Path, stem: str) -> dict[str, str]:
    return {
        "markdown": (out / "feedback" / f"{stem}.md").read_text(),
        "html": (out / "feedback" / f"{stem}.html").read_text(),
        "gradescope": (out / "gradescope" / f"{stem}.json").read_text(),
        "junit": (out / "junit.xml").read_text(),
    }


def test_student_outputs_never_reveal_the_key(graded, spec: Spec, tmp_path: Path) -> None:
    _alice, bob = graded
    out = tmp_path / "out"
    write_formats([bob], spec, out, {"feedback", "gradescope", "junit"})
    instructor = json.dumps(submission_dict(bob))
    assert "903,400" in instructor and "14.85" in instructor  # the key is there for the instructor
    rubric = spec.exercise(3).checks[0]
    assert isinstance(rubric, RubricCheck)
    missing = [concept for concept in rubric.concepts if concept.id != "smaller-batch"]
    for kind, text in _student_texts(out, "bob").items():
        lowered = text.lower()
        for figure in KEY_FIGURES:
            assert figure not in text, f"{figure} leaks into the {kind} output"
        for concept in missing:
            assert concept.label.lower() not in lowered, f"{concept.label!r} leaks into the {kind} output"
            for phrasing in concept.phrasings["en"]:
                if len(phrasing.split()) > 1:
                    assert phrasing.lower() not in lowered, f"phrasing {phrasing!r} leaks into the {kind} output"
        assert "total parameters" in text and "Add up the three layers" in text
        assert "902,400" in text  # what the student wrote is quoted back


def test_feedback_lists_scores_lost_points_and_errors(graded, spec: Spec, tmp_path: Path) -> None:
    _alice, bob = graded
    write_formats([_with_error(bob, 2, NASTY_ERROR)], spec, tmp_path, {"feedback"})
    markdown = (tmp_path / "feedback" / "bob.md").read_text()
    assert "**Total: 27/39**" in markdown and "## 2. Shapes, parameters and RAM of a three-layer CNN: 4/12" in markdown
    assert "- **total parameters** (-2): found 902,400, which is not an accepted answer." in markdown
    error_line = next(line for line in markdown.splitlines() if line.startswith("- Error:"))
    assert error_line == "- Error: `cell 4 (error): ValueError: <script>alert('x')</script> & 'tick'`"
    assert "- **five remedies for running out of GPU memory** (-4): 1 of 5 points, " in markdown
    page = (tmp_path / "feedback" / "bob.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert "<script" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp;" in page
    assert not re.search(r"(src|href)=|https?://|<link|@import", page)
    assert "\x1b" not in page and "\x08" not in page


def test_a_failed_notebook_gets_feedback_saying_why(spec: Spec, tmp_path: Path) -> None:
    failed = failed_submission("carol.ipynb", 39, "carol.ipynb: not UTF-8 <bad>")
    write_formats([failed], spec, tmp_path, {"feedback"})
    assert "could not be graded: carol.ipynb: not UTF-8 \\<bad\\>" in (tmp_path / "feedback" / "carol.md").read_text()
    assert "not UTF-8 &lt;bad&gt;" in (tmp_path / "feedback" / "carol.html").read_text()


def test_same_named_notebooks_get_distinct_files() -> None:
    results = [failed_submission(path, 1, "x") for path in
               ("/class/a/alice.ipynb", "/class/b/alice.ipynb", "/class/bob.ipynb", "/x/a/alice.ipynb")]
    assert output_stems(results) == ["class-a-alice", "b-alice", "bob", "x-a-alice"]


def test_unknown_format_is_refused(graded, spec: Spec, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown format pdf"):
        write_formats(graded, spec, tmp_path, {"pdf"})

"""``grader check``: the grader's checks on a student's notebook, lost points explained without the answers."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import typer
from conftest import CONCEPTUAL
from nbformat import NotebookNode
from test_assign import filled, reference_patterns, registered
from typer.testing import CliRunner, Result

from grader.checks import CheckResult
from grader.commands import check as check_command
from grader.formats.student import SKIPPED_NOTE, submission_feedback
from grader.scoring import score_exercise, score_submission
from grader.spec import ModelAccuracyCheck, RubricCheck, Spec
from grader.student_check import all_passed, check_notebook

GRADER = [sys.executable, "-m", "grader"]
CONCEPTUAL_LIST = list(CONCEPTUAL)
CONCEPTUAL_ARGS = [arg for number in CONCEPTUAL for arg in ("-e", str(number))]


def _answer_cell(notebook: NotebookNode, number: int) -> NotebookNode:
    return next(cell for cell in notebook.cells if cell.metadata.get("tags") == [f"exercise-{number}"])


@pytest.fixture()
def correct(spec: Spec, seed_style: NotebookNode, write_notebook) -> Path:
    return write_notebook(filled(spec, seed_style), "correct")


@pytest.fixture()
def mistaken(spec: Spec, seed_style: NotebookNode, write_notebook) -> Path:
    """Right except: a wrong total, two of five GPU remedies, and no answer to exercise 1."""
    notebook = filled(spec, seed_style)
    arithmetic = _answer_cell(notebook, 2)
    arithmetic.source = arithmetic.source.replace("903400", "902400").replace("903,400", "902,400")
    _answer_cell(notebook, 3).source = "Use a smaller batch size, or switch to 16-bit floats."
    _answer_cell(notebook, 1).source = ""
    return write_notebook(notebook, "mistaken")


def _app() -> typer.Typer:
    app = typer.Typer()
    check_command.register(app)
    app.command("noop", hidden=True)(lambda: None)  # a second command keeps "check" a named subcommand
    return app


def _check(*args: str) -> Result:
    return CliRunner().invoke(_app(), ["check", *args])


def _concept_labels(spec: Spec) -> list[str]:
    return [concept.label for exercise in spec.exercises for check in exercise.checks
            if isinstance(check, RubricCheck) for concept in check.concepts]


def test_feedback_names_the_check_what_was_found_and_hints(spec: Spec, mistaken: Path) -> None:
    result = check_notebook(mistaken, spec, exercises=CONCEPTUAL, execute=False)
    assert not all_passed(result)
    feedback = {item.number: item for item in submission_feedback(result).exercises}
    assert [number for number, item in feedback.items() if item.lost] == [1, 2, 3]
    (total,) = feedback[2].lost
    assert total.lost == 2 and re.fullmatch(r"total parameters \(-2\): found 902,?400, which is not an accepted "
                                            r"answer\.", total.text)
    assert total.hints == ("Add up the three layers' weights and biases.",)
    (remedies,) = feedback[3].lost
    assert remedies.text.startswith("five remedies for running out of GPU memory (-3): 2 of 5 points, ")
    gpu = next(check for check in spec.exercise(3).checks if isinstance(check, RubricCheck))
    found = {"smaller-batch", "lower-precision"}
    (hints,) = remedies.hints
    for concept in gpu.concepts:
        assert (concept.hint in hints) == (concept.id not in found), concept.id
        if concept.id not in found:
            assert concept.label not in remedies.line(), concept.label
    (unanswered,) = feedback[1].lost
    assert unanswered.lost == 4 and unanswered.text.endswith(": no answer found.")


def test_model_feedback_gives_the_measurement_or_the_problem(spec: Spec) -> None:
    exercise = spec.exercise(9)
    (check,) = exercise.checks
    assert isinstance(check, ModelAccuracyCheck)
    common = (check.id, check.label, check.kind, check.points, 0.0, False, "test accuracy ≥ 0.9900")
    measured = CheckResult(*common, "0.9850", f"{check.label}: measured 0.9850 on x, needs 0.9900", check.hint)
    missing = CheckResult(*common, "", f"{check.label}: no model found: save it as {check.model_file}", check.hint)
    for result, text in [(measured, f"{check.label} (-10): measured 0.9850 on x, needs 0.9900."),
                         (missing, f"{check.label} (-10): no model found: save it as {check.model_file}.")]:
        graded = score_exercise(9, exercise.id, exercise.title, exercise.points, [result], [])
        (feedback,) = submission_feedback(score_submission("n.ipynb", [graded], "none", 0.0)).exercises
        assert [(check.lost, check.text, check.hints) for check in feedback.lost] == [(10, text, (check.hint,))]


def test_terminal_feedback_never_shows_the_answer(spec: Spec, mistaken: Path) -> None:
    done = _check(str(mistaken), "--no-execute", *CONCEPTUAL_ARGS)
    assert done.exit_code == 1, done.output
    assert "-2 total parameters: found 902" in done.output
    assert "hint: Add up the three layers' weights and biases." in done.output
    assert "Could more than one device share the work?" in done.output
    assert "score 30/39: 5 of 8 exercises passed" in done.output
    for pattern in reference_patterns(spec):
        assert not pattern.search(done.output), pattern.pattern
    result = check_notebook(mistaken, spec, exercises=CONCEPTUAL, execute=False)
    recognised = {item for exercise in result.exercises for check in exercise.checks for item in check.recognised}
    assert {"a smaller mini-batch", "lower-precision numbers (16-bit or mixed precision)"} <= recognised
    for label in set(_concept_labels(spec)) - recognised:
        assert label not in done.output, label
    assert "expected" not in done.output and "not found:" not in done.output


def test_a_correct_notebook_passes_and_writes_nothing(correct: Path) -> None:
    before = sorted(correct.parent.iterdir())
    done = _check(str(correct), "--no-execute", *CONCEPTUAL_ARGS)
    assert done.exit_code == 0, done.output
    assert "score 39/39: 8 of 8 exercises passed" in done.output and "every check run passed" in done.output
    assert sorted(correct.parent.iterdir()) == before


def test_skip_training_runs_the_notebook_but_not_the_model_exercise(correct: Path) -> None:
    done = _check(str(correct), "--skip-training")
    assert done.exit_code == 0, done.output
    assert f"9. Your own CNN on MNIST — {SKIPPED_NOTE}" in done.output
    assert "exercise 9 skipped (--skip-training)" in done.output
    assert "score 39/49: 8 of 9 exercises passed" in done.output


def test_out_writes_results_json_without_the_key(spec: Spec, mistaken: Path, tmp_path: Path) -> None:
    done = _check(str(mistaken), "--no-execute", *CONCEPTUAL_ARGS, "--out", str(tmp_path / "grades"))
    assert done.exit_code == 1, done.output
    text = (tmp_path / "grades" / "results.json").read_text()
    (submission,) = json.loads(text)["submissions"]
    assert submission["score"] == 30 and [exercise["number"] for exercise in submission["exercises"]] == CONCEPTUAL_LIST
    total = next(check for check in submission["exercises"][1]["checks"] if check["id"] == "total-params")
    assert total["score"] == 0 and total["feedback"].startswith("total parameters (-2): found 902")
    assert total["hints"] == ["Add up the three layers' weights and biases."]
    lost = json.dumps([check for exercise in submission["exercises"] for check in exercise["checks"]
                       if check["score"] < check["points"]])
    for pattern in reference_patterns(spec):  # the key shows only as the student's own values that earned points
        assert not pattern.search(lost), pattern.pattern
    missing = {concept.label for concept in spec.exercise(3).checks[0].concepts
               if concept.id not in {"smaller-batch", "lower-precision"}}
    assert not [label for label in missing if label in text]
    assert '"expected"' not in text and '"message"' not in text and "not found:" not in text
    assert (tmp_path / "grades" / "grades.csv").read_text().splitlines()[1].split(",")[-3:] == ["30", "39", "0"]


def test_usage_and_spec_errors_exit_with_2(correct: Path, tmp_path: Path) -> None:
    missing = _check(str(tmp_path / "missing.ipynb"))
    assert missing.exit_code == 2 and "no such notebook" in missing.output
    unknown = _check(str(correct), "-e", "12")
    assert unknown.exit_code == 2 and "no exercise 12" in unknown.output
    broken = tmp_path / "spec.yaml"
    broken.write_text("id: x\ntitle: Broken\nexercises: []\n")
    spec_error = _check(str(correct), "--spec", str(broken))
    assert spec_error.exit_code == 2 and "spec error" in spec_error.output


def test_an_unreadable_notebook_fails_with_its_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    done = _check(str(bad), "--no-execute")
    assert done.exit_code == 1 and "not valid JSON" in done.output


@pytest.mark.skipif(not registered("check"), reason="grader/cli.py does not register the check command yet")
def test_python_m_grader_check(mistaken: Path) -> None:
    done = subprocess.run([*GRADER, "check", str(mistaken), "--skip-training"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "-2 total parameters: found 902" in done.stdout and SKIPPED_NOTE in done.stdout
    assert "903,400" not in done.stdout and "903400" not in done.stdout


def test_the_generated_notebook_checks_as_unanswered(spec: Spec, tmp_path: Path) -> None:
    from grader.assign import write_assignment

    notebook = write_assignment(spec, tmp_path / "student.ipynb")[0]
    nbformat.validate(nbformat.read(notebook, as_version=4))
    done = _check(str(notebook), "--no-execute", "--skip-training")
    assert done.exit_code == 1
    assert done.output.count(": no answer found") == len(CONCEPTUAL) - 1 + len(spec.exercise(2).checks)

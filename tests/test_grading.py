"""Grading exercises 1–8 end to end: real notebooks, executed in real kernels where they have code."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from conftest import CONCEPTUAL, edit_markdown, wrong_total
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.grade import GradeOptions, grade_notebook
from grader.scoring import SubmissionResult
from grader.spec import Spec

STORED = GradeOptions(execute=False, exercises=CONCEPTUAL)
EXECUTED = GradeOptions(execute=True, exercises=CONCEPTUAL)


def _lost(result: SubmissionResult) -> dict[str, float]:
    return {f"{exercise.number}/{check.id}": check.points - check.score
            for exercise in result.exercises for check in exercise.checks if check.score < check.points}


def _max(spec: Spec) -> float:
    return sum(spec.exercise(number).points for number in CONCEPTUAL)


def test_reference_notebook_scores_full_marks(spec: Spec, reference_path: Path) -> None:
    result = grade_notebook(reference_path, spec, EXECUTED)
    assert result.status == "graded"
    assert _lost(result) == {}
    assert result.score == _max(spec)
    assert all(exercise.status == "passed" for exercise in result.exercises)


def test_seed_style_notebook_scores_full_marks(spec: Spec, seed_style: NotebookNode, write_notebook) -> None:
    result = grade_notebook(write_notebook(seed_style), spec, STORED)
    assert _lost(result) == {}
    assert result.score == _max(spec)


def test_wrong_total_loses_exactly_that_check(spec: Spec, seed_style: NotebookNode, write_notebook) -> None:
    wrong_total(seed_style)
    result = grade_notebook(write_notebook(seed_style), spec, STORED)
    assert _lost(result) == {"2/total-params": 2}
    total = next(check for check in result.exercises[1].checks if check.id == "total-params")
    assert total.message in {"total parameters: found 902,400, expected 903,400",
                             "total parameters: found 902400, expected 903,400"}
    assert result.exercises[1].status == "partial"


@pytest.mark.parametrize(
    ("instance", "batch"),
    [
        ("14.17 MiB", "539.42 MiB"),  # binary units
        ("0.01485 GB", "0.57 GB"),  # another decimal unit, rounded as written
        ("14,853,600 bytes", "565,613,600 bytes"),  # plain bytes
        ("14.13 MB", "529.61 MB"),  # input image not counted
        ("12.61 MB", "565.61 MB"),  # inference keeps two consecutive layers only
    ],
)
def test_accepted_ram_conventions(spec: Spec, seed_style: NotebookNode, write_notebook,
                                  instance: str, batch: str) -> None:
    edit_markdown(seed_style, "**RAM for one instance**: 14.85 MB", f"**RAM for one instance**: {instance}")
    edit_markdown(seed_style, "**RAM for a mini-batch of 50**: 565.61 MB", f"**RAM for a mini-batch of 50**: {batch}")
    edit_markdown(seed_style, "= 14.85\\) MB", "\\)")
    edit_markdown(seed_style, "= 565.61\\) MB", "\\)")
    result = grade_notebook(write_notebook(seed_style), spec, STORED)
    assert _lost(result) == {}


def test_wrong_ram_is_explained(spec: Spec, seed_style: NotebookNode, write_notebook) -> None:
    edit_markdown(seed_style, "14.85", "11.24")
    result = grade_notebook(write_notebook(seed_style), spec, STORED)
    assert _lost(result) == {"2/ram-instance": 2}
    ram = next(check for check in result.exercises[1].checks if check.id == "ram-instance")
    assert "expected 14.85 MB" in ram.message and "found 11.24 MB" in ram.message


def test_missing_concept_loses_its_points(spec: Spec, seed_style: NotebookNode, write_notebook) -> None:
    edit_markdown(seed_style, "- **Translation invariance**: a pattern is detected wherever it appears, "
                              "regardless of its position.\n", "")
    result = grade_notebook(write_notebook(seed_style), spec, STORED)
    assert _lost(result) == {"1/advantages": 1.5}
    advantages = result.exercises[0].checks[0]
    assert "detected wherever it appears" in advantages.message and advantages.score == 2.5


def test_empty_notebook_scores_zero_with_reasons(spec: Spec, write_notebook) -> None:
    result = grade_notebook(write_notebook(new_notebook()), spec, EXECUTED)
    assert result.status == "graded" and result.score == 0
    for exercise in result.exercises:
        assert exercise.status == "failed"
        assert all(check.message.endswith("no answer found") for check in exercise.checks)


def _computed_notebook(failing_source: str) -> NotebookNode:
    return new_notebook(cells=[
        new_markdown_cell("## 1. CNN versus dense\nWeight sharing gives far fewer parameters; each neuron has a "
                          "small receptive field; translation invariance; a hierarchy of features."),
        new_markdown_cell("## 2. Arithmetic"),
        new_code_cell("import keras\n"
                      "inputs = keras.Input(shape=(200, 300, 3))\n"
                      "x = inputs\n"
                      "for filters in (100, 200, 400):\n"
                      "    x = keras.layers.Conv2D(filters, 3, strides=2, padding='same')(x)\n"
                      "model = keras.Model(inputs, x)\n"
                      "print(model.count_params())"),
        new_code_cell(failing_source),
        new_markdown_cell("## 3. Out of memory\nUse a smaller batch size."),
    ])


def test_computed_values_count_and_errors_stay_in_their_exercise(spec: Spec, write_notebook) -> None:
    path = write_notebook(_computed_notebook("ram = 1 / 0"))
    result = grade_notebook(path, spec, EXECUTED)
    first, second, third = result.exercises[:3]
    assert first.status == "passed"
    total = next(check for check in second.checks if check.id == "total-params")
    assert total.passed and total.found == "903400"
    assert second.status == "error"
    assert second.errors == ("cell 4 (error): ZeroDivisionError: division by zero",)
    assert third.score == 1 and not third.errors


def test_cell_timeout_is_recorded_and_later_cells_run(spec: Spec, write_notebook) -> None:
    notebook = new_notebook(cells=[
        new_markdown_cell("## 2. Arithmetic"),
        new_code_cell("import time\ntime.sleep(60)"),
        new_code_cell("print('total parameters:', 2800 + 180200 + 720400)"),
    ])
    limits = spec.limits.__class__(cell_timeout=3, notebook_timeout=120)
    result = grade_notebook(write_notebook(notebook), spec, GradeOptions(exercises=(2,), limits=limits))
    second = result.exercises[0]
    assert second.status == "error"
    assert second.errors == ("cell 2 (timeout): the cell ran past its 3 s limit",)
    assert any(check.id == "total-params" and check.passed for check in second.checks)


def test_unreadable_notebook_fails_alone(spec: Spec, tmp_path: Path) -> None:
    path = tmp_path / "broken.ipynb"
    path.write_text("{ not json")
    result = grade_notebook(path, spec, EXECUTED)
    assert result.status == "failed" and "not valid JSON" in result.error


def test_old_nbformat_is_upgraded(spec: Spec, seed_style: NotebookNode, tmp_path: Path) -> None:
    old = nbformat.v3.new_notebook(worksheets=[nbformat.v3.new_worksheet(cells=[
        nbformat.v3.new_text_cell("markdown", source=cell.source) for cell in seed_style.cells])])
    path = tmp_path / "old.ipynb"
    path.write_text(nbformat.writes(old, version=3))
    result = grade_notebook(path, spec, STORED)
    assert result.score == _max(spec)

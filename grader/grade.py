"""Grade one notebook against a spec: execute it, split it into answers, run the checks, score."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from nbformat import NotebookNode

from grader.checks import CheckResult, run_text_check
from grader.execute import CellFailure, Execution, ExecutionOptions, execute_notebook
from grader.notebook import NotebookError, answer_blocks, read_notebook, split_sections
from grader.scoring import (
    ExerciseResult,
    SubmissionResult,
    failed_submission,
    score_exercise,
    score_submission,
)
from grader.spec import Exercise, Limits, ModelAccuracyCheck, Spec
from grader.workspace import create_workspace


@dataclass(frozen=True)
class GradeOptions:
    execute: bool = True
    device: str = "auto"
    limits: Limits | None = None
    hidden: tuple[Path, ...] = ()
    exercises: tuple[int, ...] = ()
    extra_setup: tuple[str, ...] = field(default=())


def _failure_lines(failures: tuple[CellFailure, ...], cells: list[int]) -> list[str]:
    inside = set(cells)
    return [f"cell {failure.cell_index + 1} ({failure.status}): {failure.message}"
            for failure in failures if failure.cell_index in inside]


def _grade_exercise(exercise: Exercise, notebook: NotebookNode, cells: list[int],
                    failures: tuple[CellFailure, ...]) -> ExerciseResult:
    blocks = answer_blocks(notebook, cells)
    results: list[CheckResult] = []
    for check in exercise.checks:
        if isinstance(check, ModelAccuracyCheck):
            results.append(CheckResult(check.id, check.label, check.kind, check.points, 0.0, False,
                                       f"accuracy ≥ {check.threshold}", "",
                                       f"{check.label}: model evaluation is not available yet"))
        else:
            results.append(run_text_check(check, blocks))
    return score_exercise(exercise.number, exercise.id, exercise.title, exercise.points, results,
                          _failure_lines(failures, cells))


def _selected(spec: Spec, options: GradeOptions) -> list[Exercise]:
    if not options.exercises:
        return list(spec.exercises)
    return [exercise for exercise in spec.exercises if exercise.number in options.exercises]


def _execute(path: Path, notebook: NotebookNode, spec: Spec, options: GradeOptions) -> Execution:
    workspace = create_workspace(path)
    try:
        execution_options = ExecutionOptions(limits=options.limits or spec.limits, hidden=options.hidden)
        return execute_notebook(notebook, workspace, path.name, execution_options)
    finally:
        workspace.remove()


def grade_notebook(path: Path, spec: Spec, options: GradeOptions | None = None) -> SubmissionResult:
    """Grade one notebook; a notebook that cannot be read gives a failed result, never an exception."""
    options = options or GradeOptions()
    started = time.monotonic()
    exercises = _selected(spec, options)
    max_score = sum(exercise.points for exercise in exercises)
    try:
        notebook = read_notebook(path)
    except NotebookError as error:
        return failed_submission(str(path), max_score, f"{path}: {error}")
    failures: tuple[CellFailure, ...] = ()
    isolation = "none (stored outputs)"
    notes: list[str] = []
    if options.execute:
        execution = _execute(path, notebook, spec, options)
        notebook, failures, isolation = execution.notebook, execution.failures, execution.isolation
        if execution.problem:
            notes.append(execution.problem)
    sections = split_sections(notebook)
    results = [_grade_exercise(exercise, notebook, sections.get(exercise.number, []), failures)
               for exercise in exercises]
    return score_submission(str(path), results, isolation, time.monotonic() - started, tuple(notes))

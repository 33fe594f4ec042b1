"""Grade one notebook against a spec: execute it, split it into answers, run the checks, score."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from nbformat import NotebookNode

from grader.budget import plan
from grader.checks import CheckResult, credit_implied, run_text_check
from grader.checks.model import ModelEvidence, device_problem, run_model_check
from grader.datasets import DatasetError
from grader.device import kernel_environment
from grader.execute import CellFailure, ExecutionOptions, execute_notebook
from grader.model_exercise import (
    TRAINING_SKIPPED,
    ModelTask,
    Preparation,
    collect,
    model_task,
    prepare,
    section_seconds,
    write_files,
)
from grader.notebook import (
    AnswerBlock,
    NotebookError,
    answer_blocks,
    question_text,
    read_notebook,
    separate_exercises,
    split_sections,
)
from grader.scoring import ExerciseResult, SubmissionResult, failed_submission, score_exercise, score_submission
from grader.spec import Exercise, Limits, ModelAccuracyCheck, Spec
from grader.workspace import create_workspace

ANSWER_CHARS = 12_000


# TensorFlow otherwise reserves a whole GPU's memory, and notebooks sharing a GPU would fail.
KERNEL_TENSORFLOW = {"TF_FORCE_GPU_ALLOW_GROWTH": "true"}


def no_progress(_message: str) -> None:
    """Progress sink for library use."""


@dataclass(frozen=True)
class GradeOptions:
    execute: bool = True
    device: str = "auto"
    limits: Limits | None = None
    hidden: tuple[Path, ...] = ()
    exercises: tuple[int, ...] = ()
    skip_training: bool = False
    progress: Callable[[str], None] = no_progress


@dataclass(frozen=True)
class Run:
    """What executing (or not executing) the notebook produced for grading."""

    notebook: NotebookNode
    failures: tuple[CellFailure, ...] = ()
    isolation: str = "none (stored outputs graded)"
    notes: tuple[str, ...] = ()
    model: ModelEvidence | None = None


def _failure_lines(failures: tuple[CellFailure, ...], cells: list[int]) -> list[str]:
    inside = set(cells)
    return [
        f"cell {failure.cell_index + 1} ({failure.status}): {failure.message}"
        for failure in failures
        if failure.cell_index in inside
    ]


def _grade_exercise(
    exercise: Exercise, run: Run, cells: list[int], not_run: str, cpu_allowed: bool = False
) -> ExerciseResult:
    """Score one exercise; ``not_run`` says why its model was not trained here ("" when it was); a model
    trained on the wrong device makes the exercise an error."""
    blocks = answer_blocks(run.notebook, cells)
    question = "\n".join((question_text(run.notebook, cells), exercise.prompt))
    results: list[CheckResult] = []
    metrics: dict = {}
    for check in exercise.checks:
        if not isinstance(check, ModelAccuracyCheck):
            results.append(run_text_check(check, blocks, question, exercise.checks))
            continue
        evidence = run.model or ModelEvidence(None, not_run or "the model was not evaluated", "", None, None)
        result, metrics = run_model_check(check, evidence, blocks, cpu_allowed)
        results.append(result)
        not_run = not_run or device_problem(check, evidence, cpu_allowed)
    results = credit_implied(exercise.checks, results)
    if not_run == TRAINING_SKIPPED:
        scored = score_exercise(
            exercise.number, exercise.id, exercise.title, exercise.points, results, [], metrics, status="skipped"
        )
    else:
        errors = _failure_lines(run.failures, cells) + ([not_run] if not_run else [])
        unfound = () if cells else ("no section of the notebook was found for this exercise",)
        scored = score_exercise(
            exercise.number,
            exercise.id,
            exercise.title,
            exercise.points,
            results,
            errors,
            metrics,
            status="error" if not_run else None,
            review=unfound,
        )
    return replace(scored, answer=_answer_text(blocks))


def _answer_text(blocks: list[AnswerBlock]) -> str:
    """The answer as the grader read it, for review: prose, and each output under its cell number; a long one
    keeps its beginning and end."""
    parts = [
        block.text if block.kind == "markdown" else f"[{block.kind} of cell {block.cell_index + 1}]\n{block.text}"
        for block in blocks
    ]
    text = "\n\n".join(part.strip("\n") for part in parts)
    if len(text) <= ANSWER_CHARS:
        return text
    half = ANSWER_CHARS // 2
    return f"{text[:half]}\n[… {len(text) - 2 * half} characters left out …]\n{text[-half:]}"


def _selected(spec: Spec, options: GradeOptions) -> list[Exercise]:
    if not options.exercises:
        return list(spec.exercises)
    return [exercise for exercise in spec.exercises if exercise.number in options.exercises]


def _skipped_cells(sections: dict[int, list[int]], wanted: set[int]) -> list[int]:
    return sorted(index for number, cells in sections.items() if number not in wanted for index in cells)


def _execute(
    path: Path,
    notebook: NotebookNode,
    spec: Spec,
    options: GradeOptions,
    task: ModelTask | None,
    preparation: Preparation,
    sections: dict[int, list[int]],
    wanted: set[int],
) -> Run:
    workspace = create_workspace(path)
    try:
        write_files(preparation, workspace.work)
        limits = options.limits or spec.limits
        skipped = _skipped_cells(sections, wanted)
        execution_options = ExecutionOptions(
            limits=limits,
            budget=plan(notebook, limits, spec.exercises, sections, skipped, len(preparation.setup_sources)),
            hidden=options.hidden,
            readonly=preparation.readonly,
            env=tuple({**kernel_environment(options.device), **KERNEL_TENSORFLOW}.items()),
        )
        execution = execute_notebook(
            notebook, workspace, execution_options, preparation.setup_sources, skipped, preparation.epilogue
        )
        model = None
        if task is not None and not task.blocked:
            seconds = section_seconds(execution.notebook, sections.get(task.exercise.number, []))
            model = collect(task, workspace.work, execution.epilogue_output, seconds, options.hidden, options.progress)
        notes = (execution.problem,) if execution.problem else ()
        return Run(execution.notebook, execution.failures, execution.isolation, notes, model)
    finally:
        workspace.remove()


def grade_notebook(path: Path, spec: Spec, options: GradeOptions | None = None) -> SubmissionResult:
    """Grade one notebook; a notebook that cannot be read gives a failed result, never an exception."""
    options = options or GradeOptions()
    started = time.monotonic()
    exercises = _selected(spec, options)
    max_score = sum(exercise.points for exercise in exercises)
    try:
        notebook = separate_exercises(read_notebook(path))
    except NotebookError as error:
        return failed_submission(str(path), max_score, f"{path}: {error}")
    sections = split_sections(notebook)
    task = model_task(exercises, options.device, options.skip_training, trains_here=options.execute)
    preparation = Preparation()
    if options.execute:
        try:
            preparation = prepare(task, options.progress)
        except DatasetError as error:  # only a model task prepares a dataset
            task = replace(task, blocked=f"the dataset is not available here: {error}") if task else task
    wanted = {exercise.number for exercise in exercises} - ({task.exercise.number} if task and task.blocked else set())
    if options.execute:
        run = _execute(path, notebook, spec, options, task, preparation, sections, wanted)
    else:
        model = None
        if task is not None and not task.blocked:
            model = collect(task, path.parent, None, None, options.hidden, options.progress)
        run = Run(notebook, model=model)
    results = [
        _grade_exercise(
            exercise,
            run,
            sections.get(exercise.number, []),
            task.blocked if task and task.exercise is exercise else "",
            options.device == "cpu",
        )
        for exercise in exercises
    ]
    return score_submission(str(path), results, run.isolation, time.monotonic() - started, run.notes)

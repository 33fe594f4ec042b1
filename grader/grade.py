"""Grade one notebook against a spec: execute it, split it into answers, run the checks, score."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from nbformat import NotebookNode

from grader import model_exercise
from grader.activity import Activity, in_exercise, no_activity
from grader.budget import plan
from grader.checks import CheckResult, credit_implied, run_text_check
from grader.checks.model import ModelEvidence
from grader.execute import CellFailure, ExecutionOptions, execute_notebook
from grader.model_exercise import Gpu, ModelTask, Preparation, TaskState
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


def no_progress(_message: str) -> None:
    """Progress sink for library use."""


@dataclass(frozen=True)
class GradeOptions:
    """How to grade; ``gpus``: the GPUs grading may use (None: those this process may use), of which a notebook
    that trains on a GPU is given the first."""

    execute: bool = True
    device: str = "auto"
    gpus: tuple[Gpu, ...] | None = None
    limits: Limits | None = None
    hidden: tuple[Path, ...] = ()
    exercises: tuple[int, ...] = ()
    skip_training: bool = False
    progress: Callable[[str], None] = no_progress
    activity: Callable[[Activity], None] = no_activity  # the cell running while the notebook executes


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


def _grade_exercise(exercise: Exercise, run: Run, cells: list[int], task: ModelTask | None) -> ExerciseResult:
    """Score one exercise: its text checks on the answer, and its model check (if it is ``task``'s) on what the
    grader measured; a skipped, blocked or wrongly trained model sets the exercise's state."""
    blocks = answer_blocks(run.notebook, cells)
    question = "\n".join((question_text(run.notebook, cells), exercise.prompt))
    results: list[CheckResult] = []
    metrics: dict = {}
    status, problem = None, ""
    for check in exercise.checks:
        if not isinstance(check, ModelAccuracyCheck):
            results.append(run_text_check(check, blocks, question, exercise.checks))
        elif task is not None:  # the spec's one model check
            outcome = model_exercise.judge(task, run.model, blocks)
            results.append(outcome.result)
            metrics, status, problem = outcome.metrics, outcome.status, outcome.error
    results = credit_implied(exercise.checks, results)
    skipped = task is not None and task.state is TaskState.SKIPPED and exercise is task.exercise
    errors = [] if skipped else _failure_lines(run.failures, cells) + ([problem] if problem else [])
    unfound = () if cells or skipped else ("no section of the notebook was found for this exercise",)
    scored = score_exercise(
        exercise.number, exercise.id, exercise.title, exercise.points, results, errors, metrics, status, unfound
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


def selected_exercises(spec: Spec, options: GradeOptions) -> list[Exercise]:
    """The exercises ``options`` grades: those of ``-e``, else all."""
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
        model_exercise.write_files(preparation, workspace.work)
        limits = options.limits or spec.limits
        skipped = _skipped_cells(sections, wanted)
        execution_options = ExecutionOptions(
            limits=limits,
            budget=plan(notebook, limits, spec.exercises, sections, skipped, len(preparation.setup_sources)),
            hidden=options.hidden,
            readonly=preparation.readonly,
            env=preparation.env,
            devices=preparation.devices,
            on_activity=lambda activity: options.activity(in_exercise(activity, sections)),
        )
        execution = execute_notebook(
            notebook, workspace, execution_options, preparation.setup_sources, skipped, preparation.epilogue
        )
        model = None
        if task is not None and task.ready:
            seconds = model_exercise.section_seconds(execution.notebook, sections.get(task.exercise.number, []))
            model = model_exercise.collect(
                task,
                workspace.work,
                execution.epilogue_output,
                seconds,
                options.hidden,
                options.progress,
                preparation.gpus,
            )
        notes = (execution.problem,) if execution.problem else ()
        return Run(execution.notebook, execution.failures, execution.isolation, notes, model)
    finally:
        workspace.remove()


def _model_task(spec: Spec, options: GradeOptions, gpus: Sequence[Gpu]) -> ModelTask | None:
    """The model exercise among those ``options`` grades, and whether it can train here with ``gpus``."""
    return model_exercise.plan(
        selected_exercises(spec, options),
        options.device,
        gpus,
        skip_training=options.skip_training,
        trains_here=options.execute,
    )


def trains_on_gpu(path: Path, spec: Spec, options: GradeOptions, gpus: Sequence[Gpu]) -> bool:
    """Whether grading the notebook at ``path`` with ``gpus`` trains its model on one (an unreadable notebook
    does not), decided as ``grade_notebook`` decides it."""
    try:
        notebook = separate_exercises(read_notebook(path), spec.numbers)
    except NotebookError:
        return False
    task = _model_task(spec, options, gpus)
    return options.execute and model_exercise.uses_gpu(task, notebook, split_sections(notebook, spec.numbers))


def grade_notebook(path: Path, spec: Spec, options: GradeOptions | None = None) -> SubmissionResult:
    """Grade one notebook; a notebook that cannot be read gives a failed result, never an exception."""
    options = options or GradeOptions()
    started = time.monotonic()
    exercises = selected_exercises(spec, options)
    max_score = sum(exercise.points for exercise in exercises)
    try:
        notebook = separate_exercises(read_notebook(path), spec.numbers)
    except NotebookError as error:
        return failed_submission(str(path), max_score, f"{path}: {error}")
    sections = split_sections(notebook, spec.numbers)
    inventory = model_exercise.discover()
    gpus = inventory.allowed() if options.gpus is None else options.gpus
    task = _model_task(spec, options, gpus)
    if options.execute:
        assigned = gpus[:1] if model_exercise.uses_gpu(task, notebook, sections) else ()
        task, preparation = model_exercise.prepare(task, options.device, assigned, inventory, options.progress)
        untrained = {task.exercise.number} if task is not None and not task.ready else set()
        wanted = {exercise.number for exercise in exercises} - untrained
        run = _execute(path, notebook, spec, options, task, preparation, sections, wanted)
    else:
        model = None
        if task is not None and task.ready:
            model = model_exercise.collect(task, path.parent, None, None, options.hidden, options.progress)
        run = Run(notebook, model=model)
    results = [_grade_exercise(exercise, run, sections.get(exercise.number, []), task) for exercise in exercises]
    return score_submission(str(path), results, run.isolation, time.monotonic() - started, run.notes)

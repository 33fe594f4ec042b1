"""The exercise graded by a trained model: prepare its data and hand-off, then evaluate what came back."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from nbformat import NotebookNode

from grader.checks.model import ModelEvidence
from grader.datasets import (
    DatasetError,
    cache_dir,
    ensure_mnist,
    ensure_tfds_store,
    setup_cell_source,
    utils_module_source,
)
from grader.device import training_blocked
from grader.evaluate import evaluate_model
from grader.handoff import epilogue_source, read_handoff
from grader.spec import Exercise, ModelAccuracyCheck

Progress = Callable[[str], None]
TRAINING_SKIPPED = "training skipped: the model exercise was not run (--skip-training)"
_MB = 1024**2


@dataclass(frozen=True)
class ModelTask:
    exercise: Exercise
    check: ModelAccuracyCheck
    blocked: str


@dataclass(frozen=True)
class Preparation:
    """What the notebook's run needs for the model exercise: set-up cells, files, visible paths."""

    setup_sources: tuple[str, ...] = ()
    epilogue: str = ""
    readonly: tuple[Path, ...] = ()
    files: tuple[tuple[str, str], ...] = ()


def model_task(
    exercises: Sequence[Exercise], device: str, skip_training: bool = False, trains_here: bool = True
) -> ModelTask | None:
    """The selected exercise with a model check, if any, and why it cannot train here ("" if it can); a
    GPU missing here blocks nothing when the notebook is not run here (``trains_here`` False)."""
    for exercise in exercises:
        for check in exercise.checks:
            if isinstance(check, ModelAccuracyCheck):
                blocked = TRAINING_SKIPPED if skip_training else training_blocked(check, device) if trains_here else ""
                return ModelTask(exercise, check, blocked)
    return None


def prepare(task: ModelTask | None, progress: Progress) -> Preparation:
    """Fill the dataset cache if needed and build the set-up cell, ``utils.py`` and the epilogue."""
    if task is None or task.blocked:
        return Preparation()
    ensure_mnist(progress=progress)
    store = ensure_tfds_store(progress=progress)
    return Preparation(
        setup_sources=(setup_cell_source(store, cache_dir()),),
        epilogue=epilogue_source(task.check.model_file, task.check.model_variable),
        readonly=(cache_dir(),),
        files=(("utils.py", utils_module_source()),),
    )


def write_files(preparation: Preparation, folder: Path) -> None:
    """Put the helper files beside the notebook, never replacing the student's own."""
    for name, text in preparation.files:
        target = folder / name
        if not target.exists():
            target.write_text(text, encoding="utf-8")


def _cell_seconds(cell: NotebookNode) -> float:
    timing = cell.get("metadata", {}).get("execution", {})
    try:
        started = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
        ended = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return 0.0
    return max(0.0, (ended - started).total_seconds())


def section_seconds(notebook: NotebookNode, cells: Sequence[int]) -> float:
    return round(sum(_cell_seconds(notebook.cells[index]) for index in cells), 1)


def _model_path(task: ModelTask, folder: Path, epilogue_output: str | None) -> tuple[Path | None, str, str]:
    """The model to evaluate, how it was found, and the device the kernel reported."""
    saved = folder / task.check.model_file
    handoff = read_handoff(epilogue_output, folder) if epilogue_output is not None else None
    device = handoff.device if handoff else None
    if os.path.lexists(saved):
        return saved, f"the saved file {task.check.model_file}", device or ""
    if handoff is None or handoff.model is None:
        reason = (
            handoff.error
            if handoff and handoff.error
            else f"no model found: save it as {task.check.model_file} or leave it in `{task.check.model_variable}`"
        )
        return None, reason, device or ""
    return handoff.model, handoff.describe(), device or ""


def collect(
    task: ModelTask,
    folder: Path,
    epilogue_output: str | None,
    train_seconds: float | None,
    hidden: tuple[Path, ...],
    progress: Progress,
) -> ModelEvidence:
    """Find the handed-off model in ``folder`` and measure it in a fresh process."""
    model, source, device = _model_path(task, folder, epilogue_output)
    if model is None:
        return ModelEvidence(None, source, "", device or None, train_seconds)
    try:
        ensure_mnist(progress=progress)
    except DatasetError as error:
        return ModelEvidence(None, f"the dataset is not available here: {error}", "", device or None, train_seconds)
    evaluation = evaluate_model(model, int(task.check.max_model_mb * _MB), cache_dir(), hidden)
    problem = evaluation.error if evaluation.accuracy is None else ""
    return ModelEvidence(evaluation.accuracy, problem, source, device or None, train_seconds, evaluation.scaling)

"""After the run: find the model the notebook handed off and measure it in a fresh process."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from nbformat import NotebookNode

from grader.checks.model import ModelEvidence
from grader.datasets import DatasetError, cache_dir, ensure_mnist
from grader.model_exercise.evaluate import evaluate_model
from grader.model_exercise.gpus import Gpu
from grader.model_exercise.handoff import read_handoff
from grader.model_exercise.task import ModelTask

_MB = 1024**2


def _cell_seconds(cell: NotebookNode) -> float:
    timing = cell.get("metadata", {}).get("execution", {})
    try:
        started = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
        ended = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return 0.0
    return max(0.0, (ended - started).total_seconds())


def section_seconds(notebook: NotebookNode, cells: Sequence[int]) -> float:
    """How long the cells ran, by the kernel's own timing."""
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
    progress: Callable[[str], None],
    given: Sequence[Gpu] = (),
) -> ModelEvidence:
    """Find the handed-off model in ``folder`` (``epilogue_output``: the epilogue's report, None when the
    notebook was not run here) and measure it in a fresh process; ``given``: the GPUs the notebook was given."""
    model, source, device = _model_path(task, folder, epilogue_output)
    trained = ModelEvidence(
        None, "", "", device or None, train_seconds, given_gpu=",".join(str(gpu.index) for gpu in given)
    )
    if model is None:
        return replace(trained, problem=source)
    try:
        ensure_mnist(progress=progress)
    except DatasetError as error:
        return replace(trained, problem=f"the dataset is not available here: {error}")
    evaluation = evaluate_model(model, int(task.check.max_model_mb * _MB), cache_dir(), hidden)
    problem = evaluation.error if evaluation.accuracy is None else ""
    return replace(trained, accuracy=evaluation.accuracy, problem=problem, source=source, scaling=evaluation.scaling)

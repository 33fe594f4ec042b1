"""The model exercise of a grading run: which exercise it is, and whether its model can be trained here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum

from nbformat import NotebookNode

from grader.model_exercise.device import training_blocked
from grader.model_exercise.gpus import Gpu
from grader.spec import Exercise, ModelAccuracyCheck

TRAINING_SKIPPED = "training skipped: the model exercise was not run (--skip-training)"


class TaskState(Enum):
    """Whether the model exercise trains in this run."""

    READY = "ready"
    SKIPPED = "skipped"  # not run on purpose (--skip-training): scored as skipped, not as an error
    BLOCKED = "blocked"  # cannot run here (no GPU, no dataset): an error with its reason


@dataclass(frozen=True)
class ModelTask:
    """The selected exercise with a model check; ``reason`` says why it is skipped or blocked."""

    exercise: Exercise
    check: ModelAccuracyCheck
    state: TaskState
    reason: str = ""
    cpu_allowed: bool = False

    @property
    def ready(self) -> bool:
        return self.state is TaskState.READY

    def blocked(self, reason: str) -> ModelTask:
        return replace(self, state=TaskState.BLOCKED, reason=reason)


def plan(
    exercises: Sequence[Exercise], device: str, gpus: Sequence[Gpu], *, skip_training: bool, trains_here: bool
) -> ModelTask | None:
    """The selected exercise with a model check, if any, and whether it can train here with ``gpus`` (those
    grading may use); a GPU missing here blocks nothing when the notebook is not run here (``trains_here``)."""
    for exercise in exercises:
        for check in exercise.checks:
            if isinstance(check, ModelAccuracyCheck):
                task = ModelTask(exercise, check, TaskState.READY, cpu_allowed=device == "cpu")
                if skip_training:
                    return replace(task, state=TaskState.SKIPPED, reason=TRAINING_SKIPPED)
                blocked = training_blocked(check, device, gpus) if trains_here else ""
                return task.blocked(blocked) if blocked else task
    return None


def uses_gpu(task: ModelTask | None, notebook: NotebookNode, sections: dict[int, list[int]]) -> bool:
    """Whether running the notebook trains on a GPU: the task trains, not on the CPU by choice, and the notebook
    has code for it (a notebook that never attempted the exercise needs no GPU)."""
    if task is None or not task.ready or task.cpu_allowed:
        return False
    cells = [notebook.cells[index] for index in sections.get(task.exercise.number, [])]
    return any(cell.cell_type == "code" and cell.source.strip() for cell in cells)

"""The model exercise's result: its check scored on what the grader measured, and the exercise's state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grader.checks.model import ModelEvidence, device_problem, run_model_check
from grader.checks.result import CheckResult
from grader.model_exercise.task import ModelTask, TaskState
from grader.notebook import AnswerBlock
from grader.scoring import ExerciseStatus


@dataclass(frozen=True)
class ModelOutcome:
    """The check's result and metrics; ``status`` forces the exercise's (skipped, error) with ``error``."""

    result: CheckResult
    metrics: dict[str, Any]
    status: ExerciseStatus | None = None
    error: str = ""


def judge(task: ModelTask, evidence: ModelEvidence | None, blocks: list[AnswerBlock]) -> ModelOutcome:
    """Score ``task``'s check: skipped or blocked tasks earn nothing, with their reason; a trained model is
    scored on its measured accuracy, and training on a device the spec does not accept is an error."""
    if not task.ready:
        evidence = ModelEvidence(None, task.reason, "", None, None)
    measured = evidence or ModelEvidence(None, "the model was not evaluated", "", None, None)
    result, metrics = run_model_check(task.check, measured, blocks, task.cpu_allowed)
    if task.state is TaskState.SKIPPED:
        return ModelOutcome(result, metrics, ExerciseStatus.SKIPPED)
    problem = task.reason or device_problem(task.check, measured, task.cpu_allowed)
    return ModelOutcome(result, metrics, ExerciseStatus.ERROR if problem else None, problem)

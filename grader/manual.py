"""Manual grades on results: an exercise graded by hand keeps what the grader gave, and can be undone."""

from __future__ import annotations

import math
from dataclasses import replace

from grader.scoring import ExerciseResult, ExerciseStatus, ManualGrade, SubmissionResult


def _manual_status(points: float, max_score: float, original_status: ExerciseStatus) -> ExerciseStatus:
    if math.isclose(points, max_score):
        return ExerciseStatus.PASSED
    if original_status in (ExerciseStatus.ERROR, ExerciseStatus.SKIPPED):
        return original_status
    return ExerciseStatus.PARTIAL if points > 0 else ExerciseStatus.FAILED


def with_manual(exercise: ExerciseResult, points: float, comment: str) -> ExerciseResult:
    """The exercise graded by hand: its score and status follow ``points``, what the grader gave is kept."""
    graded = without_manual(exercise)
    manual = ManualGrade(points, comment, graded.score, graded.status)
    return replace(graded, score=points, status=_manual_status(points, graded.max_score, graded.status), manual=manual)


def without_manual(exercise: ExerciseResult) -> ExerciseResult:
    """The exercise as the grader scored it."""
    manual = exercise.manual
    if manual is None:
        return exercise
    return replace(exercise, score=manual.original_score, status=manual.original_status, manual=None)


def rescored(result: SubmissionResult, exercises: list[ExerciseResult]) -> SubmissionResult:
    """The result with these exercises, its score their sum."""
    return replace(result, exercises=tuple(exercises), score=round(sum(exercise.score for exercise in exercises), 4))


def as_graded(result: SubmissionResult) -> SubmissionResult:
    """The result without its manual grades, as the grader scored it."""
    if not any(exercise.manual for exercise in result.exercises):
        return result
    return rescored(result, [without_manual(exercise) for exercise in result.exercises])

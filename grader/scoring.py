"""Turn check results into exercise and submission results with a status and a reason for each lost point."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from grader.checks import CheckResult


class ExerciseStatus(str, Enum):
    """How an exercise came out."""

    PASSED = "passed"  # every check passed, full points
    PARTIAL = "partial"  # some points
    FAILED = "failed"  # no points
    ERROR = "error"  # a cell raised, timed out or killed its kernel, or the model could not count
    SKIPPED = "skipped"  # not graded in this run (training skipped on purpose)

    def __str__(self) -> str:
        return self.value


class SubmissionStatus(str, Enum):
    """Whether a submission could be graded at all."""

    GRADED = "graded"
    FAILED = "failed"  # unreadable, missing: ``error`` says why

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Review:
    """Whether a person should look at a grade, and why."""

    needed: bool = False
    reasons: tuple[str, ...] = ()

    @classmethod
    def of(cls, reasons: tuple[str, ...] | list[str]) -> Review:
        unique = tuple(dict.fromkeys(reason for reason in reasons if reason))
        return cls(bool(unique), unique)


@dataclass(frozen=True)
class ManualGrade:
    """A score set by hand (an override or a review decision), with what the grader had given."""

    points: float
    comment: str
    original_score: float
    original_status: ExerciseStatus


@dataclass(frozen=True)
class ExerciseResult:
    """One exercise as graded; with ``manual``, ``score`` and ``status`` are the manual grade's.

    ``answer`` is the student's answer as the grader read it (prose and printed outputs), for review.
    """

    number: int
    id: str
    title: str
    score: float
    max_score: float
    status: ExerciseStatus
    checks: tuple[CheckResult, ...]
    errors: tuple[str, ...] = ()
    metrics: dict[str, Any] = field(default_factory=dict)
    review: Review = Review()
    answer: str = ""
    manual: ManualGrade | None = None

    @property
    def awaits_review(self) -> bool:
        """Flagged for a person to look at, and not graded by hand yet."""
        return self.review.needed and self.manual is None


@dataclass(frozen=True)
class SubmissionResult:
    path: str
    score: float
    max_score: float
    status: SubmissionStatus
    error: str = ""
    exercises: tuple[ExerciseResult, ...] = ()
    isolation: str = ""
    seconds: float = 0.0
    notes: tuple[str, ...] = ()
    fingerprint: str = ""

    @property
    def percent(self) -> float:
        return 100.0 * self.score / self.max_score if self.max_score else 0.0


def exercise_status(
    score: float, max_score: float, checks: tuple[CheckResult, ...], errors: tuple[str, ...]
) -> ExerciseStatus:
    if checks and all(check.passed for check in checks) and math.isclose(score, max_score):
        return ExerciseStatus.PASSED
    if errors:
        return ExerciseStatus.ERROR
    return ExerciseStatus.PARTIAL if score > 0 else ExerciseStatus.FAILED


def score_exercise(
    number: int,
    id: str,
    title: str,
    max_score: float,
    checks: list[CheckResult],
    errors: list[str],
    metrics: dict[str, Any] | None = None,
    status: ExerciseStatus | None = None,
    review: tuple[str, ...] = (),
) -> ExerciseResult:
    """Add up the checks; ``status`` forces one (``ERROR`` for "GPU required", ``SKIPPED``). The review
    reasons are the checks' own plus ``review``."""
    score = round(sum(check.score for check in checks), 4)
    frozen_checks, frozen_errors = tuple(checks), tuple(errors)
    return ExerciseResult(
        number=number,
        id=id,
        title=title,
        score=score,
        max_score=max_score,
        status=status or exercise_status(score, max_score, frozen_checks, frozen_errors),
        checks=frozen_checks,
        errors=frozen_errors,
        metrics=metrics or {},
        review=Review.of([reason for check in frozen_checks for reason in check.review] + list(review)),
    )


def score_submission(
    path: str, exercises: list[ExerciseResult], isolation: str, seconds: float, notes: tuple[str, ...] = ()
) -> SubmissionResult:
    return SubmissionResult(
        path=path,
        score=round(sum(exercise.score for exercise in exercises), 4),
        max_score=sum(exercise.max_score for exercise in exercises),
        status=SubmissionStatus.GRADED,
        exercises=tuple(exercises),
        isolation=isolation,
        seconds=round(seconds, 2),
        notes=notes,
    )


def failed_submission(path: str, max_score: float, error: str) -> SubmissionResult:
    return SubmissionResult(path=path, score=0.0, max_score=max_score, status=SubmissionStatus.FAILED, error=error)

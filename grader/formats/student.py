"""Every text a student reads about a result, built in one place: ``grader check``, ``--format feedback``,
Gradescope and JUnit output, and the results.json that ``grader check --out`` writes.

Student text is built from structured fields only: a check's label, its score, what it recognised
(``recognised``: ideas named, values the student gave that earned points), what it found in the
student's own work and its hints. A check's ``expected`` and ``message`` (which quotes the key), the
labels of ideas not recognised and the review reasons are never read here. The model-accuracy kind is
the one exception for ``message``: it holds the grader's own measurement or why there is none, and its
target is announced in the assignment.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from grader.checks import CheckResult
from grader.scoring import ExerciseResult, ExerciseStatus, ManualGrade, SubmissionResult, SubmissionStatus

SKIPPED_NOTE = "not run (--skip-training): `grader grade` trains the model and measures it"
UNSURE_NOTE = "The grader is not sure of this score: a person may look at this answer and change it."
_PUBLIC_MESSAGE_KINDS = frozenset({"model_accuracy"})
_CONTROL = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean(text: str) -> str:
    """Text without terminal colour codes and control characters (which XML cannot hold)."""
    return _CONTROL.sub("", text)


@dataclass(frozen=True)
class CheckFeedback:
    """One check as a student may read it; ``summary`` says what earned points or why points were lost."""

    id: str
    label: str
    points: float
    score: float
    summary: str
    recognised: tuple[str, ...]
    hints: tuple[str, ...]

    @property
    def lost(self) -> float:
        return round(self.points - self.score, 4)

    @property
    def text(self) -> str:
        """The check in one sentence: "total parameters (-2): found 902,400, which is not an accepted answer." """
        return f"{self.label}{f' (-{self.lost:g})' if self.lost > 0 else ''}: {self.summary}."

    def line(self) -> str:
        """The sentence and its hints."""
        return self.text + "".join(f" Hint: {hint}" for hint in self.hints)


@dataclass(frozen=True)
class ExerciseFeedback:
    number: int
    title: str
    score: float
    max_score: float
    status: ExerciseStatus
    checks: tuple[CheckFeedback, ...]
    errors: tuple[str, ...]
    manual: str
    unsure: bool

    @property
    def heading(self) -> str:
        return f"{self.number}. {self.title}"

    @property
    def lost(self) -> tuple[CheckFeedback, ...]:
        """The checks that lost points (none for an exercise not graded in this run)."""
        return () if self.status is ExerciseStatus.SKIPPED else tuple(check for check in self.checks if check.lost > 0)


@dataclass(frozen=True)
class SubmissionFeedback:
    notebook: str
    score: float
    max_score: float
    problem: str
    notes: tuple[str, ...]
    exercises: tuple[ExerciseFeedback, ...]

    @property
    def total(self) -> str:
        return f"{self.score:g}/{self.max_score:g}"


def _listed(items: Sequence[str]) -> str:
    return "; ".join(" ".join(clean(item).split()) for item in items)


def _summary(check: CheckResult, lost: float) -> str:
    recognised = f"recognised: {_listed(check.recognised)}" if check.recognised else ""
    if lost <= 0:
        return "full marks" + (f", {recognised}" if recognised else "")
    if check.kind in _PUBLIC_MESSAGE_KINDS:
        return clean(check.message.removeprefix(f"{check.label}: ")).rstrip(".")
    if not check.found and not check.recognised:
        return "no answer found"
    if check.kind == "rubric":
        return f"{check.score:g} of {check.points:g} points, {recognised or 'no idea recognised'}"
    return f"found {clean(check.found)}, which is not an accepted answer" + (f"; {recognised}" if recognised else "")


def check_feedback(check: CheckResult) -> CheckFeedback:
    """What a student may read about one check."""
    lost = round(check.points - check.score, 4)
    hints = (clean(check.hint),) if check.hint and lost > 0 else ()
    return CheckFeedback(
        check.id,
        clean(check.label),
        check.points,
        check.score,
        _summary(check, lost),
        tuple(clean(item) for item in check.recognised),
        hints,
    )


def manual_note(manual: ManualGrade | None, max_score: float) -> str:
    """What a student reads about a grade set or confirmed by hand ("" when there is none)."""
    if manual is None:
        return ""
    if manual.points == manual.original_score:
        note = "Checked by your instructor."
    else:
        note = (
            f"Score set by your instructor to {manual.points:g}/{max_score:g} "
            f"(the automatic grade was {manual.original_score:g})."
        )
    return f"{note} {clean(manual.comment)}".strip()


def exercise_feedback(exercise: ExerciseResult) -> ExerciseFeedback:
    return ExerciseFeedback(
        exercise.number,
        clean(exercise.title),
        exercise.score,
        exercise.max_score,
        exercise.status,
        tuple(map(check_feedback, exercise.checks)),
        tuple(clean(error) for error in exercise.errors),
        manual_note(exercise.manual, exercise.max_score),
        exercise.awaits_review,
    )


def submission_feedback(result: SubmissionResult) -> SubmissionFeedback:
    """Everything a student may read about one graded (or failed) submission."""
    problem = (
        f"Your notebook could not be graded: {clean(result.error)}"
        if result.status is not SubmissionStatus.GRADED
        else ""
    )
    return SubmissionFeedback(
        PurePath(result.path).name,
        result.score,
        result.max_score,
        problem,
        tuple(clean(note) for note in result.notes),
        tuple(map(exercise_feedback, result.exercises)),
    )


def student_record(result: SubmissionResult) -> dict[str, Any]:
    """A results.json entry a student may read: scores and feedback, no reference value, no review notes."""
    page = submission_feedback(result)
    return {
        "path": result.path,
        "score": result.score,
        "max_score": result.max_score,
        "status": result.status,
        "error": page.problem,
        "notes": list(page.notes),
        "exercises": [
            {
                "number": item.number,
                "id": exercise.id,
                "title": item.title,
                "score": item.score,
                "max_score": item.max_score,
                "status": item.status,
                "errors": list(item.errors),
                "metrics": exercise.metrics,
                "manual": item.manual,
                "unsure": item.unsure,
                "checks": [
                    {
                        "id": check.id,
                        "label": check.label,
                        "points": check.points,
                        "score": check.score,
                        "feedback": check.text,
                        "recognised": list(check.recognised),
                        "hints": list(check.hints),
                    }
                    for check in item.checks
                ],
            }
            for item, exercise in zip(page.exercises, result.exercises, strict=True)
        ],
    }


def output_stems(results: Sequence[SubmissionResult]) -> list[str]:
    """A distinct file stem per submission: the notebook's stem, with its folders when names collide."""
    stems = [_stem(result.path, 0) for result in results]
    for depth in range(1, 5):
        repeated = {stem for stem in stems if stems.count(stem) > 1}
        stems = [
            _stem(result.path, depth) if stem in repeated else stem for stem, result in zip(stems, results, strict=True)
        ]
    used: set[str] = set()
    unique = []
    for stem in stems:
        candidate, number = stem, 1
        while candidate in used:
            number += 1
            candidate = f"{stem}-{number}"
        used.add(candidate)
        unique.append(candidate)
    return unique


def _stem(path: str, depth: int) -> str:
    """The notebook's stem after its last ``depth`` folders, as a safe file name."""
    pure = PurePath(path)
    folders = [part for part in pure.parent.parts if part not in (pure.anchor, ".", "..")]
    name = "-".join([*folders[len(folders) - depth :], pure.stem])
    return re.sub(r"[^\w.-]+", "_", name).lstrip(".") or "submission"

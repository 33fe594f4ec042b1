"""What a student may read about a result: labels, hints and what was found, never the answer key.

A check's ``message`` and ``expected`` fields are for instructors and carry the reference values, so
student text is built from its label, its hint and what the grader found in the student's own work.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

from grader.checks import CheckResult
from grader.scoring import ExerciseResult, SubmissionResult

_CONTROL = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class LostPoints:
    """Points a check did not give, explained in words."""

    label: str
    points: float
    found: str
    hint: str

    def text(self) -> str:
        hint = f" Hint: {self.hint}" if self.hint else ""
        return f"{self.label} (-{self.points:g}): {self.found}.{hint}"


def clean(text: str) -> str:
    """Text without terminal colour codes and control characters (which XML cannot hold)."""
    return _CONTROL.sub("", text)


def lost_points(check: CheckResult) -> LostPoints | None:
    """Why a check lost points, or None when it gave them all."""
    lost = round(check.points - check.score, 4)
    if lost <= 0:
        return None
    return LostPoints(clean(check.label), lost, clean(_found(check)).rstrip("."), clean(check.hint))


def _found(check: CheckResult) -> str:
    if check.kind == "model_accuracy":
        # The grader's own measurement and the public threshold: this kind has no hidden answer.
        return check.message.removeprefix(f"{check.label}: ")
    if not check.found:
        return "no answer found"
    if check.kind == "rubric":
        # Concept labels can say more than the student wrote, so only their number is shown.
        count = len(check.found.split("; ")) if check.score > 0 else 0
        return f"scored {check.score:g} of {check.points:g}, {count} idea{'' if count == 1 else 's'} recognised"
    return f"found {check.found}, which is not an accepted answer"


def check_text(check: CheckResult) -> str:
    """One line about a check for a student."""
    lost = lost_points(check)
    return lost.text() if lost else f"{clean(check.label)}: full marks."


def exercise_errors(exercise: ExerciseResult) -> list[str]:
    return [clean(error) for error in exercise.errors]


def output_stems(results: Sequence[SubmissionResult]) -> list[str]:
    """A distinct file stem per submission: the notebook's stem, with its folders when names collide."""
    stems = [_stem(result.path, 0) for result in results]
    for depth in range(1, 5):
        repeated = {stem for stem in stems if stems.count(stem) > 1}
        stems = [_stem(result.path, depth) if stem in repeated else stem
                 for stem, result in zip(stems, results, strict=True)]
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
    name = "-".join([*folders[len(folders) - depth:], pure.stem])
    return re.sub(r"[^\w.-]+", "_", name).lstrip(".") or "submission"

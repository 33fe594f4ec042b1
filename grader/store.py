"""One home for results: OUT/results.json and OUT/grades.csv, written together once per save and read back.

results.json holds everything (the key included: it is for instructors); grades.csv one row per
submission with a column per exercise, the total and how many exercises still need review.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from grader.checks import CheckResult
from grader.scoring import ExerciseResult, ExerciseStatus, ManualGrade, Review, SubmissionResult, SubmissionStatus
from grader.spec import Spec

RESULTS_FILE = "results.json"
GRADES_FILE = "grades.csv"
_CHECK_FIELDS = (
    "id",
    "passed",
    "expected",
    "found",
    "message",
    "label",
    "kind",
    "points",
    "score",
    "hint",
    "recognised",
    "review",
)

SubmissionView = Callable[[SubmissionResult], dict[str, Any]]


class StoreError(ValueError):
    """An output folder whose results cannot be read."""


@dataclass(frozen=True)
class Stored:
    """What an output folder holds: the id of the spec it was graded against, and the results."""

    spec_id: str
    results: list[SubmissionResult]


def _check_dict(check: CheckResult) -> dict[str, Any]:
    data = asdict(check)
    return {key: (list(data[key]) if isinstance(data[key], tuple) else data[key]) for key in _CHECK_FIELDS}


def _check_from_dict(data: dict[str, Any]) -> CheckResult:
    values = {key: data[key] for key in _CHECK_FIELDS if key in data}
    for key in ("recognised", "review"):
        values[key] = tuple(values.get(key, ()))
    return CheckResult(**values)


def _exercise_dict(exercise: ExerciseResult) -> dict[str, Any]:
    entry = {
        "number": exercise.number,
        "id": exercise.id,
        "title": exercise.title,
        "score": exercise.score,
        "max_score": exercise.max_score,
        "status": exercise.status,
        "errors": list(exercise.errors),
        "checks": [_check_dict(check) for check in exercise.checks],
        "metrics": exercise.metrics,
        "review": {"needed": exercise.review.needed, "reasons": list(exercise.review.reasons)},
        "answer": exercise.answer,
    }
    if exercise.manual is not None:
        entry["manual"] = asdict(exercise.manual)
    return entry


def _manual_from_dict(data: dict[str, Any]) -> ManualGrade:
    return ManualGrade(**{**data, "original_status": ExerciseStatus(data["original_status"])})


def _exercise_from_dict(data: dict[str, Any]) -> ExerciseResult:
    manual = data.get("manual")
    return ExerciseResult(
        number=data["number"],
        id=data["id"],
        title=data.get("title", ""),
        score=data["score"],
        max_score=data["max_score"],
        status=ExerciseStatus(data["status"]),
        checks=tuple(_check_from_dict(check) for check in data["checks"]),
        errors=tuple(data.get("errors", ())),
        metrics=data.get("metrics", {}),
        review=Review.of(tuple((data.get("review") or {}).get("reasons", ()))),
        answer=data.get("answer", ""),
        manual=_manual_from_dict(manual) if manual else None,
    )


def submission_dict(result: SubmissionResult) -> dict[str, Any]:
    """The JSON form of one submission, in the documented results.json shape."""
    return {
        "path": result.path,
        "score": result.score,
        "max_score": result.max_score,
        "status": result.status,
        "error": result.error,
        "notes": list(result.notes),
        "isolation": result.isolation,
        "seconds": result.seconds,
        "fingerprint": result.fingerprint,
        "exercises": [_exercise_dict(exercise) for exercise in result.exercises],
    }


def submission_from_dict(data: dict[str, Any]) -> SubmissionResult:
    """Rebuild a submission from its results.json form (the inverse of ``submission_dict``)."""
    return SubmissionResult(
        path=data["path"],
        score=data["score"],
        max_score=data["max_score"],
        status=SubmissionStatus(data["status"]),
        error=data.get("error", ""),
        exercises=tuple(map(_exercise_from_dict, data.get("exercises", []))),
        isolation=data.get("isolation", ""),
        seconds=data.get("seconds", 0.0),
        notes=tuple(data.get("notes", ())),
        fingerprint=data.get("fingerprint", ""),
    )


def review_count(result: SubmissionResult) -> int:
    """How many of a submission's exercises are flagged for review and not graded by hand yet."""
    return sum(exercise.awaits_review for exercise in result.exercises)


def grades_csv(results: Sequence[SubmissionResult], spec: Spec) -> str:
    """grades.csv: a row per submission, a column per exercise (empty when not graded), total, review count."""
    numbers = [exercise.number for exercise in spec.exercises]
    rows = [
        ["submission", "status", *[f"exercise_{number}" for number in numbers], "total", "max_score", "needs_review"]
    ]
    for result in results:
        by_number = {exercise.number: exercise.score for exercise in result.exercises}
        scores = [f"{by_number[number]:g}" if number in by_number else "" for number in numbers]
        rows.append(
            [
                result.path,
                result.status,
                *scores,
                f"{result.score:g}",
                f"{result.max_score:g}",
                str(review_count(result)),
            ]
        )
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    return text.getvalue()


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
        stream.write(text)
    os.replace(temporary, path)


def save(results: Sequence[SubmissionResult], spec: Spec, out: Path, view: SubmissionView = submission_dict) -> None:
    """Write results.json and grades.csv, each atomically (a reader never sees half a file).

    ``view`` turns a submission into its JSON entry: the full record by default.
    """
    document = {"spec": spec.id, "max_score": spec.max_score, "submissions": [view(result) for result in results]}
    _atomic_write(out / RESULTS_FILE, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    _atomic_write(out / GRADES_FILE, grades_csv(results, spec))


def load(out: Path) -> Stored:
    """The spec id and results in OUT/results.json, manual grades included."""
    path = out / RESULTS_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return Stored(str(document["spec"]), [submission_from_dict(entry) for entry in document["submissions"]])
    except OSError as error:
        raise StoreError(f"{path}: cannot read: {error.strerror or error}") from None
    except (ValueError, KeyError, TypeError) as error:
        raise StoreError(f"{path}: not a results file written by `grader grade` ({error!r})") from None


def load_for(out: Path, spec: Spec) -> list[SubmissionResult]:
    """An earlier run's results against this spec, or [] when there are none or they cannot be read."""
    try:
        stored = load(out)
    except StoreError:
        return []
    return stored.results if stored.spec_id == spec.id else []

"""Write results: results.json, grades.csv and the summary table in the terminal."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from grader.checks import CheckResult
from grader.scoring import ExerciseResult, Review, SubmissionResult
from grader.spec import Spec

RESULTS_FILE = "results.json"
GRADES_FILE = "grades.csv"


_CHECK_FIELDS = ("id", "passed", "expected", "found", "message", "label", "kind", "points", "score", "hint",
                 "recognised", "review")


def _check_dict(check: CheckResult) -> dict[str, Any]:
    data = asdict(check)
    return {key: (list(data[key]) if isinstance(data[key], tuple) else data[key]) for key in _CHECK_FIELDS}


def _check_from_dict(data: dict[str, Any]) -> CheckResult:
    values = {key: data[key] for key in _CHECK_FIELDS if key in data}
    for key in ("recognised", "review"):
        values[key] = tuple(values.get(key, ()))
    return CheckResult(**values)


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
        "exercises": [
            {
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
            }
            for exercise in result.exercises
        ],
    }


def submission_from_dict(data: dict[str, Any]) -> SubmissionResult:
    """Rebuild a submission from its results.json form (the inverse of ``submission_dict``)."""
    exercises = tuple(
        ExerciseResult(
            number=exercise["number"], id=exercise["id"], title=exercise.get("title", ""),
            score=exercise["score"], max_score=exercise["max_score"], status=exercise["status"],
            checks=tuple(_check_from_dict(check) for check in exercise["checks"]),
            errors=tuple(exercise.get("errors", ())), metrics=exercise.get("metrics", {}),
            review=Review.of(tuple((exercise.get("review") or {}).get("reasons", ()))),
        )
        for exercise in data.get("exercises", [])
    )
    return SubmissionResult(
        path=data["path"], score=data["score"], max_score=data["max_score"], status=data["status"],
        error=data.get("error", ""), exercises=exercises, isolation=data.get("isolation", ""),
        seconds=data.get("seconds", 0.0), notes=tuple(data.get("notes", ())), fingerprint=data.get("fingerprint", ""),
    )


def read_results(out: Path) -> list[SubmissionResult]:
    """The submissions of an earlier run's results.json ([] when there is none or it is unreadable)."""
    try:
        document = json.loads((out / RESULTS_FILE).read_text(encoding="utf-8"))
        return [submission_from_dict(entry) for entry in document["submissions"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
        stream.write(text)
    os.replace(temporary, path)


def write_results(results: Sequence[SubmissionResult], spec: Spec, out: Path) -> None:
    """Write results.json and grades.csv (atomically, so a reader never sees half a file)."""
    document = {"spec": spec.id, "max_score": spec.max_score,
                "submissions": [submission_dict(result) for result in results]}
    _atomic_write(out / RESULTS_FILE, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    numbers = [exercise.number for exercise in spec.exercises]
    rows = [["submission", "status", *[f"exercise_{number}" for number in numbers], "total", "max_score"]]
    for result in results:
        by_number = {exercise.number: exercise.score for exercise in result.exercises}
        scores = [f"{by_number[number]:g}" if number in by_number else "" for number in numbers]
        rows.append([result.path, result.status, *scores, f"{result.score:g}", f"{result.max_score:g}"])
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    _atomic_write(out / GRADES_FILE, text.getvalue())


def print_summary(results: Sequence[SubmissionResult], spec: Spec, console: Console) -> None:
    """One row per submission, one column per exercise, then every lost point with its reason."""
    table = Table(title=spec.title, show_lines=False)
    table.add_column("submission", overflow="fold")
    for exercise in spec.exercises:
        table.add_column(str(exercise.number), justify="right")
    table.add_column("total", justify="right")
    for result in results:
        by_number = {exercise.number: exercise for exercise in result.exercises}
        cells = []
        for exercise in spec.exercises:
            graded = by_number.get(exercise.number)
            cells.append("" if graded is None else f"{graded.score:g}/{graded.max_score:g}")
        total = f"{result.score:g}/{result.max_score:g}" if result.status == "graded" else "[red]failed[/red]"
        table.add_row(Path(result.path).name, *cells, total)
    console.print(table)
    for result in results:
        _print_reasons(result, console)


def _print_reasons(result: SubmissionResult, console: Console) -> None:
    lines = [f"  [red]{result.error}[/red]"] if result.error else []
    lines += [f"  note: {note}" for note in result.notes]
    for exercise in result.exercises:
        for error in exercise.errors:
            lines.append(f"  {exercise.number}. [yellow]{error}[/yellow]")
        for check in exercise.checks:
            if check.score < check.points:
                lines.append(f"  {exercise.number}. -{check.points - check.score:g}: {check.message}")
    if lines:
        console.print(f"[bold]{Path(result.path).name}[/bold] ({result.score:g}/{result.max_score:g})",
                      highlight=False)
        for line in lines:
            console.print(line, highlight=False)

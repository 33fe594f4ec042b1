"""Gradescope autograder results: one test per check, the submission's score equal to their sum.

Gradescope reads ``/autograder/results/results.json``; here each submission gets
``OUT/gradescope/<stem>.json`` in that schema (``score``, ``tests`` with ``name``, ``score``,
``max_score``, ``output``, ``visibility``), so a ``run_autograder`` script copies its one file there.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grader.formats.student import UNSURE_NOTE, ExerciseFeedback, clean, exercise_feedback, output_stems
from grader.scoring import ExerciseResult, SubmissionResult, SubmissionStatus
from grader.spec import Spec

FOLDER = "gradescope"
VISIBILITY = "visible"


def _test(name: str, number: str, score: float, max_score: float, output: str) -> dict[str, Any]:
    return {
        "name": name,
        "number": number,
        "score": score,
        "max_score": max_score,
        "status": "passed" if score >= max_score else "failed",
        "output": output,
        "output_format": "text",
        "visibility": VISIBILITY,
    }


def _exercise_tests(exercise: ExerciseResult) -> list[dict[str, Any]]:
    item: ExerciseFeedback = exercise_feedback(exercise)
    tests = []
    for index, check in enumerate(item.checks, start=1):
        output = check.line()
        if item.errors and check.lost > 0:
            output += "\nThis exercise's cells did not run cleanly: " + "; ".join(item.errors)
        tests.append(
            _test(f"{item.number}. {check.label}", f"{item.number}.{index}", check.score, check.points, output)
        )
    manual = exercise.manual
    if manual is not None and (manual.points != manual.original_score or manual.comment):
        adjustment = round(manual.points - manual.original_score, 4)
        tests.append(
            _test(f"{item.number}. manual adjustment", f"{item.number}.{len(tests) + 1}", adjustment, 0, item.manual)
        )
    return tests


def gradescope_results(result: SubmissionResult) -> dict[str, Any]:
    """The Gradescope results document for one submission."""
    if result.status is not SubmissionStatus.GRADED:
        message = f"The notebook could not be graded: {clean(result.error)}"
        tests = [_test("notebook", "0", 0.0, result.max_score, message)]
        return {"score": 0.0, "output": message, "output_format": "text", "tests": tests}
    tests = [test for exercise in result.exercises for test in _exercise_tests(exercise)]
    lines = [f"Score: {result.score:g}/{result.max_score:g}", *(clean(note) for note in result.notes)]
    lines += [f"Exercise {exercise.number}: {UNSURE_NOTE}" for exercise in result.exercises if exercise.awaits_review]
    return {
        "score": round(sum(test["score"] for test in tests), 4),
        "execution_time": round(result.seconds),
        "output": "\n".join(lines),
        "output_format": "text",
        "tests": tests,
    }


def write_gradescope(results: Sequence[SubmissionResult], spec: Spec, out: Path) -> list[Path]:
    """Write OUT/gradescope/<stem>.json for each submission."""
    folder = out / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, result in zip(output_stems(results), results, strict=True):
        path = folder / f"{stem}.json"
        path.write_text(json.dumps(gradescope_results(result), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        paths.append(path)
    return paths

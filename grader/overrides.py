"""Manual grades: an instructor's overrides file merged into the results, and kept across re-grades.

The file is YAML (a list of mappings) or CSV (a header row), with the fields ``submission``,
``exercise``, ``points`` and an optional ``comment``. A submission is named by its path as written in
results.json, by the end of that path (``section-a/alice.ipynb``), its file name or its stem. Applying a
file replaces every earlier manual grade, so the file stays the one record of them.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import yaml

from grader import store
from grader.manual import as_graded, rescored, with_manual
from grader.scoring import SubmissionResult, SubmissionStatus
from grader.spec import Spec

OVERRIDE_FIELDS = ("submission", "exercise", "points", "comment")
_REQUIRED = ("submission", "exercise", "points")


@dataclass(frozen=True)
class Override:
    """One line of the overrides file; ``where`` is ``file:line``."""

    submission: str
    exercise: int
    points: float
    comment: str
    where: str


class OverrideError(Exception):
    """An overrides file that cannot be applied; carries every problem, each naming its line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def load_overrides(path: Path, spec: Spec) -> tuple[Override, ...]:
    """Read and validate an overrides file (.csv, else YAML) against the spec's exercises and points."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise OverrideError([f"{path}: cannot read the overrides file: {error}"]) from None
    rows = _csv_rows(path, text) if path.suffix.lower() == ".csv" else _yaml_rows(path, text)
    problems: list[str] = []
    overrides: list[Override] = []
    seen: dict[tuple[str, int], int] = {}
    for line, raw in rows:
        where = f"{path}:{line}"
        try:
            override = _override(raw, where, spec)
        except ValueError as error:
            problems.append(f"{where}: {error}")
            continue
        key = (override.submission, override.exercise)
        if key in seen:
            problems.append(f"{where}: repeats the override of line {seen[key]}")
            continue
        seen[key] = line
        overrides.append(override)
    if problems:
        raise OverrideError(problems)
    return tuple(overrides)


def _yaml_rows(path: Path, text: str) -> list[tuple[int, Any]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        reason = getattr(error, "problem", None) or str(error)
        raise OverrideError([f"{path}:{mark.line + 1 if mark else 1}: not valid YAML: {reason}"]) from None
    if data is None:
        return []
    if not isinstance(node, yaml.SequenceNode):
        raise OverrideError([f"{path}:1: expected a list of overrides, each with {', '.join(OVERRIDE_FIELDS)}"])
    return [(item.start_mark.line + 1, value) for item, value in zip(node.value, data, strict=True)]


def _csv_rows(path: Path, text: str) -> list[tuple[int, Any]]:
    reader = csv.reader(io.StringIO(text))
    try:
        records = [(reader.line_num, record) for record in reader]
    except csv.Error as error:
        raise OverrideError([f"{path}:{reader.line_num}: not valid CSV: {error}"]) from None
    header: list[str] | None = None
    rows: list[tuple[int, Any]] = []
    end = 0
    for last_line, record in records:
        start, end = end + 1, last_line
        if not any(cell.strip() for cell in record):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in record]
            missing = [name for name in _REQUIRED if name not in header]
            unknown = [name for name in header if name not in OVERRIDE_FIELDS]
            if missing or unknown:
                raise OverrideError(
                    [
                        f"{path}:{start}: the header must name {', '.join(OVERRIDE_FIELDS)}"
                        f" (comment optional); found {', '.join(header)}"
                    ]
                )
            continue
        if len(record) > len(header):
            rows.append((start, f"has {len(record)} cells, the header {len(header)}"))
            continue
        rows.append((start, dict(zip(header, record, strict=False))))
    return rows


def _override(raw: Any, where: str, spec: Spec) -> Override:
    """One validated override; ``raw`` is its mapping, or a string saying why its row could not be read."""
    if isinstance(raw, str):
        raise ValueError(raw)
    if not isinstance(raw, dict):
        raise ValueError(f"expected a mapping with {', '.join(OVERRIDE_FIELDS)}")
    unknown = sorted(str(key) for key in raw if key not in OVERRIDE_FIELDS)
    if unknown:
        raise ValueError(f"unknown field {', '.join(unknown)}; the fields are {', '.join(OVERRIDE_FIELDS)}")
    missing = [name for name in _REQUIRED if raw.get(name) is None or str(raw[name]).strip() == ""]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    number = _whole(raw["exercise"])
    try:
        exercise = spec.exercise(number)
    except KeyError:
        known = ", ".join(str(exercise.number) for exercise in spec.exercises)
        raise ValueError(f"exercise {number} is not in spec {spec.id} (its exercises: {known})") from None
    points = _number(raw["points"])
    if not 0 <= points <= exercise.points:
        raise ValueError(f"points {points:g} out of range for exercise {number}: 0 to {exercise.points:g}")
    comment = "" if raw.get("comment") is None else str(raw["comment"]).strip()
    return Override(str(raw["submission"]).strip(), number, points, comment, where)


def _whole(value: Any) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit():
        raise ValueError(f"exercise {text!r} is not an exercise number")
    return int(text)


def _number(value: Any) -> float:
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"points {str(value).strip()!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"points {number} is not a finite number")
    return number


def apply_overrides(results: Sequence[SubmissionResult], overrides: Sequence[Override]) -> list[SubmissionResult]:
    """The results as graded plus these manual grades; every override must name a graded exercise."""
    graded = [as_graded(result) for result in results]
    chosen: dict[tuple[int, int], Override] = {}
    problems: list[str] = []
    for override in overrides:
        matches = [index for index, result in enumerate(graded) if _names(result.path, override.submission)]
        if len(matches) != 1:
            problems.append(f"{override.where}: " + _match_problem(override.submission, graded, matches))
            continue
        result = graded[matches[0]]
        if override.exercise not in {exercise.number for exercise in result.exercises}:
            reason = f" (it failed: {result.error})" if result.status is SubmissionStatus.FAILED else ""
            problems.append(f"{override.where}: exercise {override.exercise} was not graded in {result.path}{reason}")
            continue
        key = (matches[0], override.exercise)
        if key in chosen:
            problems.append(
                f"{override.where}: {result.path} exercise {override.exercise} is already "
                f"overridden at {chosen[key].where}"
            )
            continue
        chosen[key] = override
    if problems:
        raise OverrideError(problems)
    return [
        _apply(result, {number: override for (at, number), override in chosen.items() if at == index})
        for index, result in enumerate(graded)
    ]


def _names(path: str, name: str) -> bool:
    if path == name:
        return True
    wanted = PurePath(name)
    if not wanted.name:
        return False
    if wanted.suffix != ".ipynb":
        wanted = wanted.with_name(wanted.name + ".ipynb")
    parts = PurePath(path).parts
    return parts[-len(wanted.parts) :] == wanted.parts


def _match_problem(name: str, results: Sequence[SubmissionResult], matches: list[int]) -> str:
    if not matches:
        return f"no submission {name!r} in the results"
    paths = ", ".join(results[index].path for index in matches)
    return f"{name!r} names {len(matches)} submissions ({paths}); write more of its path"


def _apply(result: SubmissionResult, overrides: dict[int, Override]) -> SubmissionResult:
    if not overrides:
        return result
    return rescored(
        result,
        [
            with_manual(exercise, overrides[exercise.number].points, overrides[exercise.number].comment)
            if exercise.number in overrides
            else exercise
            for exercise in result.exercises
        ],
    )


def merge_overrides(results: Sequence[SubmissionResult], spec: Spec, out: Path, path: Path) -> list[SubmissionResult]:
    """Apply the overrides file to the results, save them in OUT (results.json, grades.csv), return them."""
    merged = apply_overrides(results, load_overrides(path, spec))
    store.save(merged, spec, out)
    return merged


def append_override(path: Path, submission: str, exercise: int, points: float, comment: str) -> None:
    """Add one manual grade to the overrides file (CSV, else YAML), creating it when missing; on disk on return."""
    before = path.read_text(encoding="utf-8") if path.exists() else ""
    if path.suffix.lower() == ".csv":
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        if not before.strip():
            writer.writerow(OVERRIDE_FIELDS)
        writer.writerow([submission, exercise, f"{points:g}", comment])
        addition = text.getvalue()
    else:
        row = {"submission": submission, "exercise": exercise, "points": points, "comment": comment}
        addition = yaml.safe_dump([row], allow_unicode=True, sort_keys=False, width=1000)
    if before and not before.endswith("\n"):
        addition = "\n" + addition
    with path.open("a", encoding="utf-8", newline="") as stream:
        stream.write(addition)
        stream.flush()
        os.fsync(stream.fileno())

"""Shape checks: a tensor shape written in any of the usual notations."""

from __future__ import annotations

from grader.checks.evidence import candidates_near
from grader.checks.result import CheckResult
from grader.extract import Shape, find_shapes, shape_matches
from grader.notebook import AnswerBlock
from grader.spec import ShapeCheck


def format_shape(dims: tuple[int | None, ...]) -> str:
    return " × ".join("None" if dim is None else str(dim) for dim in dims)


def _mismatch(shape: Shape, expected: tuple[int, ...]) -> float:
    dims = tuple(dim for dim in shape.dims if dim is not None)
    if len(dims) != len(expected):
        return float("inf")
    return sum(abs(found - wanted) for found, wanted in zip(dims, expected, strict=True))


def run_shape(check: ShapeCheck, blocks: list[AnswerBlock]) -> CheckResult:
    expected = format_shape(check.value)
    candidates = list(candidates_near(blocks, find_shapes, check.near))
    if not candidates:
        return CheckResult.unanswered(check.id, check.label, check.kind, check.points, expected, check.hint)
    for shape in candidates:
        if shape_matches(shape.dims, check.value):
            return CheckResult(check.id, check.label, check.kind, check.points, check.points, True, expected,
                               shape.text, f"{check.label}: {shape.text}", check.hint)
    closest = min(candidates, key=lambda shape: _mismatch(shape, check.value))
    found = format_shape(closest.dims)
    return CheckResult(check.id, check.label, check.kind, check.points, 0.0, False, expected, found,
                       f"{check.label}: found {found}, expected {expected}", check.hint)

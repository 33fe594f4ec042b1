"""Shape checks: a tensor shape written in any of the usual notations."""

from __future__ import annotations

from collections.abc import Sequence

from grader.checks.decision import decide
from grader.checks.evidence import statements_near
from grader.checks.result import CheckResult
from grader.extract import Shape, find_shapes, shape_matches
from grader.notebook import AnswerBlock
from grader.spec import ShapeCheck

_SAME_LAYER = 1  # a wrong shape differing from the key in at most this many dimensions answers this check


def format_shape(dims: tuple[int | None, ...]) -> str:
    return " × ".join("None" if dim is None else str(dim) for dim in dims)


def _known_dims(shape: Shape) -> tuple[int, ...]:
    return tuple(dim for dim in shape.dims if dim is not None)


def _mismatch(shape: Shape, expected: tuple[int, ...]) -> float:
    dims = _known_dims(shape)
    if len(dims) != len(expected):
        return float("inf")
    return sum(abs(found - wanted) for found, wanted in zip(dims, expected, strict=True))


def _differing_dims(shape: Shape, expected: tuple[int, ...]) -> int:
    dims = _known_dims(shape)
    if len(dims) != len(expected):
        return len(expected) + 1
    return sum(found != wanted for found, wanted in zip(dims, expected, strict=True))


def _competes(shape: Shape, check: ShapeCheck, siblings: Sequence[ShapeCheck]) -> bool:
    """Whether a wrong shape is an answer for this check's layer: nearly its shape, and no other layer's."""
    if _differing_dims(shape, check.value) > _SAME_LAYER:
        return False
    return not any(shape_matches(shape.dims, other.value) for other in siblings if other.id != check.id)


def run_shape(check: ShapeCheck, blocks: list[AnswerBlock], siblings: Sequence[ShapeCheck] = ()) -> CheckResult:
    expected = format_shape(check.value)
    # A whole shape such as 25 × 38 × 400 is evidence enough wherever it stands.
    statements = statements_near(blocks, find_shapes, ())
    if not statements:
        return CheckResult.unanswered(check.id, check.label, check.kind, check.points, expected, check.hint)
    decision = decide(
        statements,
        matches=lambda shape: shape_matches(shape.dims, check.value),
        competes=lambda shape: _competes(shape, check, siblings),
        describe=lambda shape: shape.text,
        explained=lambda shape: any(
            shape_matches(shape.dims, other.value) for other in siblings if other.id != check.id
        ),
    )
    review = (f"{check.label}: {decision.conflict}",) if decision.conflict else ()
    if decision.accepted is not None:
        shape = decision.accepted.item
        return CheckResult.earned(check, expected, shape.text, f"{check.label}: {shape.text}")
    if decision.conflict:
        message = f"{check.label}: {decision.conflict}"
        found = decision.competing[-1].item.text
    else:
        closest = min((s.item for s in statements), key=lambda shape: _mismatch(shape, check.value))
        found = format_shape(closest.dims)
        message = f"{check.label}: found {found}, expected {expected}"
    return CheckResult.lost(check, expected, found, message, review)

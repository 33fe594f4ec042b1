"""Numeric checks: a number, possibly a memory size, matching the key or a named alternative."""

from __future__ import annotations

from dataclasses import dataclass, replace

from grader.checks.evidence import candidates_near
from grader.checks.result import CheckResult
from grader.extract import Number, find_numbers, number_matches
from grader.notebook import AnswerBlock
from grader.spec import NumericCheck
from grader.units import convert


@dataclass(frozen=True)
class Target:
    value: float
    unit: str | None
    reason: str


def format_value(value: float, unit: str | None) -> str:
    text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,g}"
    return f"{text} {unit}" if unit else text


def _targets(check: NumericCheck) -> list[Target]:
    main = Target(check.value, check.unit, "")
    return [main] + [Target(alt.value, alt.unit, alt.reason) for alt in check.alternatives]


def _readings(number: Number, unit: str | None) -> list[Number]:
    """The number expressed in ``unit``: a stated unit is converted; a bare number may be in the
    check's unit or in bytes."""
    if number.percent:
        return []
    if unit is None:
        return [number] if number.unit is None else []
    if number.unit is not None:
        factor = convert(1.0, number.unit, unit)
        return [replace(number, value=number.value * factor, resolution=number.resolution * factor)]
    factor = convert(1.0, "B", unit)
    as_bytes = replace(number, value=number.value * factor, resolution=number.resolution * factor)
    return [number, as_bytes]


def _distance(number: Number, target: Target) -> float:
    readings = _readings(number, target.unit)
    if not readings or target.value == 0:
        return float("inf")
    return min(abs(reading.value - target.value) / abs(target.value) for reading in readings)


def run_numeric(check: NumericCheck, blocks: list[AnswerBlock]) -> CheckResult:
    expected = format_value(check.value, check.unit)
    candidates = list(candidates_near(blocks, find_numbers, check.near))
    if not candidates:
        return CheckResult.unanswered(check.id, check.label, check.kind, check.points, expected, check.hint)
    for target in _targets(check):
        for number in candidates:
            for reading in _readings(number, target.unit):
                if number_matches(reading, target.value, rel_tol=check.rel_tol, abs_tol=check.abs_tol,
                                  accept_rounded=check.accept_rounded):
                    note = f" (accepted: {target.reason})" if target.reason else ""
                    return CheckResult(check.id, check.label, check.kind, check.points, check.points, True,
                                       expected, number.text, f"{check.label}: {number.text}{note}", check.hint)
    main = _targets(check)[0]
    closest = min(candidates, key=lambda number: (_distance(number, main), number.unit != main.unit))
    return CheckResult(
        check.id, check.label, check.kind, check.points, 0.0, False, expected, closest.text,
        f"{check.label}: found {closest.text}, expected {expected}", check.hint,
    )

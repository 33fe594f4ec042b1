"""Numeric checks: the number the student gave for a quantity, possibly a memory size, matching the key or
a named alternative."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from grader.checks.decision import decide
from grader.checks.evidence import MAX_BLOCK_CHARS, Statement, statements_near
from grader.checks.result import CheckResult
from grader.extract import Number, find_numbers, find_shapes, normalize, number_matches
from grader.notebook import AnswerBlock
from grader.spec import NumericCheck
from grader.units import convert

_SAME_QUANTITY = math.log(20)  # a wrong value further than this factor from the key answers something else
_BITS = 8
_AMBIGUOUS_MEGA = re.compile(r"\d\s*(?:Mb|mb)\b")
# What a bare count counts when it is not this quantity: "180,000 values", "1,500,000, 750,000 and 380,000
# activations" (the rest of a list of counts may come before the noun).
_OTHER_COUNT = re.compile(
    r"(?:[ \t]*(?:,|and|und|e|y|et|dan|和|、)[ \t]*\d(?:[\d,.]*\d)?)*"
    r"[ \t]*(?:(?:values?|activations?|floats?|elements?|entries|pixels?|neurons?|inputs?|outputs?|"
    r"werte|aktivierungen|valores|ativações|activaciones|valeurs|nilai|aktivasi|valori|attivazioni)(?![^\W\d_])"
    r"|个(?:值|数|激活|浮点)|個(?:值|數))",
    re.IGNORECASE,
)


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


def _matched_target(number: Number, check: NumericCheck) -> Target | None:
    for target in _targets(check):
        for reading in _readings(number, target.unit):
            if number_matches(
                reading, target.value, rel_tol=check.rel_tol, abs_tol=check.abs_tol, accept_rounded=check.accept_rounded
            ):
                return target
    return None


def _log_distance(number: Number, check: NumericCheck) -> float:
    """How far, as a log ratio, the number stands from the check's nearest figure; only a number in the
    check's kind of unit (stated, for a memory size) is comparable."""
    if number.percent or (check.unit is None) != (number.unit is None):
        return math.inf
    distances = [
        abs(math.log(reading.value / target.value))
        for target in _targets(check)
        for reading in _readings(number, target.unit)
        if reading.value > 0 and target.value > 0
    ]
    return min(distances, default=math.inf)


def _rounds_to_key(number: Number, check: NumericCheck) -> bool:
    """Whether the number is the key rounded to the digits written ("about 0.9 million" for 903,400)."""
    return any(
        number_matches(reading, target.value, accept_rounded=True)
        for target in _targets(check)
        for reading in _readings(number, target.unit)
    )


def _competes(number: Number, check: NumericCheck, siblings: Sequence[NumericCheck]) -> bool:
    """Whether a wrong value answers this check's quantity: comparable, and nearer to its figures than
    to those of every other quantity of the exercise (and right for none of them)."""
    distance = _log_distance(number, check)
    if distance > _SAME_QUANTITY or _rounds_to_key(number, check):
        return False
    others = [sibling for sibling in siblings if sibling.id != check.id]
    return not any(_matched_target(number, other) or _log_distance(number, other) < distance for other in others)


def _counts(statements: list[Statement[Number]], blocks: Sequence[AnswerBlock]) -> list[Statement[Number]]:
    """The statements whose number is not a dimension of a written shape ("(25, 38, 400)", "3×3×3")."""
    shapes = {index: find_shapes(block.text[:MAX_BLOCK_CHARS]) for index, block in enumerate(blocks)}
    return [
        s
        for s in statements
        if not any(shape.start <= s.item.start and s.item.end <= shape.end for shape in shapes[s.sentence[0]])
    ]


def _about_other_counts(
    statements: list[Statement[Number]], blocks: Sequence[AnswerBlock], check: NumericCheck
) -> list[Statement[Number]]:
    """Without the wrong bare counts that name what they count, when that is something else ("180,000 values"
    answers no parameter count); memory sizes carry their unit and are kept."""
    if check.unit is not None:
        return statements
    texts = [normalize(block.text[:MAX_BLOCK_CHARS]) for block in blocks]  # where the values' offsets point
    return [
        s
        for s in statements
        if _matched_target(s.item, check) is not None or not _OTHER_COUNT.match(texts[s.sentence[0]], s.item.end)
    ]


def _bits_note(candidates: Sequence[Number], check: NumericCheck) -> str:
    if check.unit is None:
        return ""
    for number in candidates:
        for reading in _readings(number, check.unit):
            if math.isclose(reading.value, _BITS * check.value, rel_tol=0.01):
                return f" ({number.text} is 8 × the expected size: bits counted instead of bytes)"
    return ""


def run_numeric(check: NumericCheck, blocks: list[AnswerBlock], siblings: Sequence[NumericCheck] = ()) -> CheckResult:
    expected = format_value(check.value, check.unit)
    statements = _about_other_counts(_counts(statements_near(blocks, find_numbers, check.near), blocks), blocks, check)
    if not statements:
        return CheckResult.unanswered(check.id, check.label, check.kind, check.points, expected, check.hint)
    decision = decide(
        statements,
        matches=lambda number: _matched_target(number, check) is not None,
        competes=lambda number: _competes(number, check, siblings),
        describe=lambda number: number.text,
        explained=lambda number: any(_matched_target(number, other) for other in siblings if other.id != check.id),
    )
    review: tuple[str, ...] = (f"{check.label}: {decision.conflict}",) if decision.conflict else ()
    if decision.accepted is not None:
        number = decision.accepted.item
        target = _matched_target(number, check)
        note = f" (accepted: {target.reason})" if target and target.reason else ""
        if _AMBIGUOUS_MEGA.search(number.text):
            review += (f"{check.label}: '{number.text}' may mean megabits or megabytes",)
        return CheckResult.earned(check, expected, number.text, f"{check.label}: {number.text}{note}", review)
    if decision.conflict:
        found = decision.competing[-1].item.text
        message = f"{check.label}: {decision.conflict}"
    elif decision.competing:
        found = decision.competing[-1].item.text
        message = f"{check.label}: found {found}, expected {expected}"
    else:
        result = CheckResult.unanswered(check.id, check.label, check.kind, check.points, expected, check.hint)
        bits = _bits_note([number for block in blocks for number in find_numbers(block.text[:MAX_BLOCK_CHARS])], check)
        return replace(result, message=result.message + bits) if bits else result
    return CheckResult.lost(check, expected, found, message, review)

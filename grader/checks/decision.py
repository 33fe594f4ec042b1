"""Which of the values a student wrote is their answer to one quantity.

A value used as a factor in some working ("903,400 × 4 B") is not an answer while stated answers exist;
a term of a sum ("2,800 + …") can be right but never competes with a right answer. When conclusions
("Answer:", "final", "in total") give the quantity, the last of them decides. Otherwise a right value
counts unless every right value is hedged ("902,700 or 903,400") against a wrong one in the same
sentence. Two different answers earn nothing and are sent to review.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from grader.checks.evidence import Located, Role, Statement

Found = TypeVar("Found", bound=Located)


@dataclass(frozen=True)
class Decision(Generic[Found]):
    """The value that earns the check (None when none does), the wrong answers competing with it, and
    why a person should look (empty when the reading is clear)."""

    accepted: Statement[Found] | None
    competing: tuple[Statement[Found], ...]
    conflict: str = ""


def _span(statement: Statement[Found]) -> tuple[int, int, int]:
    item = statement.item
    return statement.sentence[0], item.start, item.end


def _outermost(statements: Sequence[Statement[Found]]) -> list[Statement[Found]]:
    """Without the pieces of a longer value ("903" and "400" inside "903 400")."""
    inside: set[tuple[int, int, int]] = set()
    spans = sorted(set(map(_span, statements)), key=lambda span: (span[0], span[1], -span[2]))
    reach: dict[int, int] = {}  # per block, the furthest end of the spans seen so far
    for block, start, end in spans:
        if reach.get(block, -1) >= end:
            inside.add((block, start, end))
        reach[block] = max(reach.get(block, -1), end)
    return [statement for statement in statements if _span(statement) not in inside]


def _sort_out(
    statements: list[Statement[Found]],
    matches: Callable[[Found], bool],
    competes: Callable[[Found], bool],
    explained: Callable[[Found], bool],
) -> tuple[list[Statement[Found]], list[Statement[Found]]]:
    """The right values, and the wrong ones that answer the same quantity; a value read two ways
    ("903.400") is right when either reading is, and competes when either reading does and neither is
    the right answer to another quantity (``explained``)."""
    right_spans = {_span(s) for s in statements if matches(s.item)}
    matched = [s for s in statements if _span(s) in right_spans and matches(s.item)]
    by_span: dict[tuple[int, int, int], list[Statement[Found]]] = {}
    for statement in statements:
        by_span.setdefault(_span(statement), []).append(statement)
    competing = [
        next(s for s in readings if competes(s.item))
        for span, readings in by_span.items()
        if span not in right_spans
        and any(competes(s.item) for s in readings)
        and not any(explained(s.item) for s in readings)
    ]
    return matched, competing


def decide(
    statements: Sequence[Statement[Found]],
    matches: Callable[[Found], bool],
    competes: Callable[[Found], bool],
    describe: Callable[[Found], str],
    explained: Callable[[Found], bool] = lambda _: False,
) -> Decision[Found]:
    """Pick the answer among ``statements``: ``matches`` says a value is right, ``competes`` that a wrong
    value answers this same quantity (rather than another one of the exercise). Terms of some working
    count only when no stated answer gives the quantity."""
    outer = _outermost(statements)
    matched, competing = _sort_out([s for s in outer if s.role is not Role.FACTOR], matches, competes, explained)
    competing = [s for s in competing if s.role is Role.ANSWER]
    if not matched and not competing:
        matched, competing = _sort_out([s for s in outer if s.role is Role.FACTOR], matches, competes, explained)
    hedged = [s for s in matched if s.hedging and any(c.sentence == s.sentence for c in competing)]
    final = sorted((s for s in (*matched, *competing) if s.conclusion), key=_span)
    if final:
        last = final[-1]
        if last in hedged:
            return Decision(None, tuple(competing), _different(last, _hedge_of(last, competing), describe))
        if last in matched:
            return Decision(last, tuple(competing))
        return Decision(None, tuple(competing), _different(matched[-1], last, describe) if matched else "")
    unhedged = [s for s in matched if s not in hedged]
    if unhedged:
        return Decision(unhedged[-1], tuple(competing))
    if matched:
        return Decision(None, tuple(competing), _different(matched[0], _hedge_of(matched[0], competing), describe))
    return Decision(None, tuple(competing))


def _hedge_of(statement: Statement[Found], competing: list[Statement[Found]]) -> Statement[Found]:
    return next(c for c in competing if c.sentence == statement.sentence)


def _different(first: Statement[Found], second: Statement[Found], describe: Callable[[Found], str]) -> str:
    return f"different answers given: {describe(first.item)} and {describe(second.item)}"

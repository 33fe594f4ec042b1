"""The outcome of one check, as plain data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Graded(Protocol):
    """What a result needs of its check (read-only, as the spec's frozen checks have it)."""

    @property
    def id(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def points(self) -> float: ...
    @property
    def hint(self) -> str: ...


@dataclass(frozen=True)
class CheckResult:
    """What one check found, what it expected and the points it gave.

    ``recognised`` names what earned points (idea labels, values), safe to show a student; ``review``
    gives the reasons a person should look at this check (a hedge, a negated idea, another language…).
    """

    id: str
    label: str
    kind: str
    points: float
    score: float
    passed: bool
    expected: str
    found: str
    message: str
    hint: str = ""
    recognised: tuple[str, ...] = ()
    review: tuple[str, ...] = ()

    @classmethod
    def earned(
        cls, check: Graded, expected: str, found: str, message: str, review: tuple[str, ...] = ()
    ) -> CheckResult:
        """A value check passed by ``found``: all its points, and the value named as what earned them."""
        return cls(
            check.id,
            check.label,
            check.kind,
            check.points,
            check.points,
            True,
            expected,
            found,
            message,
            check.hint,
            recognised=(found,),
            review=review,
        )

    @classmethod
    def lost(cls, check: Graded, expected: str, found: str, message: str, review: tuple[str, ...] = ()) -> CheckResult:
        """A value check failed: no points; ``found`` is the student's wrong value."""
        return cls(
            check.id,
            check.label,
            check.kind,
            check.points,
            0.0,
            False,
            expected,
            found,
            message,
            check.hint,
            review=review,
        )

    @classmethod
    def unanswered(cls, id: str, label: str, kind: str, points: float, expected: str, hint: str) -> CheckResult:
        return cls(id, label, kind, points, 0.0, False, expected, "", f"{label}: no answer found", hint)

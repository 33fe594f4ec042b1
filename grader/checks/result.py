"""The outcome of one check, as plain data."""

from __future__ import annotations

from dataclasses import dataclass


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
    def unanswered(cls, id: str, label: str, kind: str, points: float, expected: str, hint: str) -> CheckResult:
        return cls(id, label, kind, points, 0.0, False, expected, "", f"{label}: no answer found", hint)

"""Reviewing flagged grades: the queue of exercises a person should look at, and each decision kept as a
manual grade in the overrides file the moment it is made, with the results refreshed.

A decision accepting the grader's points is recorded too (as a manual grade of the same points), so a
review stopped half-way resumes with the exercises not yet decided.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from grader import store
from grader.manual import as_graded
from grader.overrides import append_override, apply_overrides, load_overrides
from grader.scoring import ExerciseResult, SubmissionResult, SubmissionStatus
from grader.spec import Spec

DEFAULT_OVERRIDES = "overrides.csv"
_DECISION = re.compile(r"\s*(?P<points>\d+(?:\.\d+)?)(?:\s+(?P<comment>.*\S))?\s*")


@dataclass(frozen=True)
class ReviewItem:
    """One flagged exercise of one submission."""

    path: str
    exercise: ExerciseResult


def queue(results: Sequence[SubmissionResult]) -> list[ReviewItem]:
    """The exercises flagged for review and not graded by hand yet, submission by submission."""
    return [
        ReviewItem(result.path, exercise)
        for result in results
        if result.status is SubmissionStatus.GRADED
        for exercise in result.exercises
        if exercise.awaits_review
    ]


class Command(Enum):
    SKIP = "s"
    QUIT = "q"


@dataclass(frozen=True)
class Decision:
    """Points for the exercise (the grader's own when accepted) and an optional comment."""

    points: float
    comment: str = ""


def parse_decision(text: str, exercise: ExerciseResult) -> Decision | Command:
    """Read what the reviewer typed: Enter accepts, ``POINTS [COMMENT]`` sets the points, ``s`` skips, ``q`` quits.

    Raises ValueError, with what to type instead, for anything else.
    """
    stripped = text.strip()
    if not stripped:
        return Decision(exercise.score)
    for command in Command:
        if stripped.lower() == command.value:
            return command
    match = _DECISION.fullmatch(text)
    if match is None:
        raise ValueError("type points (then a comment if you like), Enter to accept, s to skip or q to quit")
    points = float(match["points"])
    if points > exercise.max_score:
        raise ValueError(f"points go from 0 to {exercise.max_score:g}")
    return Decision(points, match["comment"] or "")


_TIMES = {"x", "×", "*"}


def _token(token: str) -> str:
    return "[x×*]" if token.lower() in _TIMES else re.escape(token)


def highlights(answer: str, phrases: Sequence[str]) -> list[tuple[int, int]]:
    """Where each phrase occurs in the answer (any case, any spacing, ``x`` or ``×`` alike), as sorted spans."""
    spans = []
    for phrase in filter(str.strip, phrases):
        tokens = re.findall(r"[x×*](?=\s|$)|[^\s×*]+|[×*]", phrase)
        pattern = r"\s*".join(map(_token, tokens))
        spans += [match.span() for match in re.finditer(pattern, answer, re.IGNORECASE)]
    return sorted(spans)


class ReviewSession:
    """The results of an output folder with the overrides file applied; ``decide`` records one decision."""

    def __init__(self, out: Path, spec: Spec, overrides: Path):
        stored = store.load(out)
        if stored.spec_id != spec.id:
            raise store.StoreError(
                f"{out / store.RESULTS_FILE} was graded against spec {stored.spec_id!r}, "
                f"not {spec.id!r}: pass its --spec"
            )
        self.out, self.spec, self.overrides = out, spec, overrides
        self.graded = [as_graded(result) for result in stored.results]
        self.results = self._merged()

    def _merged(self) -> list[SubmissionResult]:
        """The graded results with every manual grade in the overrides file (OverrideError if it is wrong)."""
        if not self.overrides.exists():
            return list(self.graded)
        return apply_overrides(self.graded, load_overrides(self.overrides, self.spec))

    def pending(self) -> list[ReviewItem]:
        return queue(self.results)

    def decide(self, item: ReviewItem, decision: Decision) -> None:
        """Append the decision to the overrides file, then rewrite results.json and grades.csv with it."""
        append_override(self.overrides, item.path, item.exercise.number, decision.points, decision.comment)
        self.results = self._merged()
        store.save(self.results, self.spec, self.out)

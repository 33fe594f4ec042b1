"""Extra outputs beside results.json and grades.csv: Gradescope results, JUnit XML, student feedback."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path

from grader.formats.feedback import write_feedback
from grader.formats.gradescope import write_gradescope
from grader.formats.junit import write_junit
from grader.scoring import SubmissionResult
from grader.spec import Spec

Writer = Callable[[Sequence[SubmissionResult], Spec, Path], list[Path]]


class Format(str, Enum):
    """The names ``--format`` accepts."""

    gradescope = "gradescope"
    junit = "junit"
    feedback = "feedback"


_WRITERS: dict[str, Writer] = {"gradescope": write_gradescope, "junit": write_junit, "feedback": write_feedback}


def write_formats(results: Sequence[SubmissionResult], spec: Spec, out: Path, formats: set[str]) -> list[Path]:
    """Write each requested format under OUT and return the files written."""
    unknown = sorted(set(formats) - set(_WRITERS))
    if unknown:
        raise ValueError(f"unknown format {', '.join(unknown)}; known: {', '.join(_WRITERS)}")
    return [path for name, writer in _WRITERS.items() if name in formats for path in writer(results, spec, out)]


__all__ = ["Format", "write_formats"]

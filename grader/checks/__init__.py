"""One module per kind of check; each takes a check and the answer blocks and returns a CheckResult."""

from collections.abc import Sequence
from dataclasses import replace

from grader.checks.numeric import run_numeric
from grader.checks.result import CheckResult
from grader.checks.rubric import run_rubric
from grader.checks.shape import run_shape
from grader.notebook import AnswerBlock
from grader.spec import NumericCheck, RubricCheck, ShapeCheck

TextCheck = NumericCheck | ShapeCheck | RubricCheck


def run_text_check(
    check: TextCheck, blocks: list[AnswerBlock], question: str = "", others: Sequence[object] = ()
) -> CheckResult:
    """Run a check that reads the student's prose and printed outputs. ``question`` is the question as the
    notebook and the spec put it (restating it earns nothing); ``others`` are the exercise's other checks,
    whose quantities a value may answer instead."""
    if isinstance(check, NumericCheck):
        return run_numeric(check, blocks, [other for other in others if isinstance(other, NumericCheck)])
    if isinstance(check, ShapeCheck):
        return run_shape(check, blocks, [other for other in others if isinstance(other, ShapeCheck)])
    return run_rubric(check, blocks, question)


__all__ = ["CheckResult", "TextCheck", "credit_implied", "run_text_check"]


def credit_implied(checks: Sequence[object], results: list[CheckResult]) -> list[CheckResult]:
    """Give a figure the student did not state at all its points when the check that implies it passed
    (a layer's parameter count inside a right total)."""
    passed = {result.id for result in results if result.passed}
    credited = []
    for check, result in zip(checks, results, strict=True):
        implied_by = getattr(check, "implied_by", None)
        if implied_by in passed and not result.found and not result.passed:
            result = replace(
                result,
                score=result.points,
                passed=True,
                message=f"{result.label}: not stated; implied by the right {implied_by}",
            )
        credited.append(result)
    return credited

"""Model accuracy checks: the grader's own measurement against the spec's threshold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grader.checks.evidence import candidates_near
from grader.checks.result import CheckResult
from grader.extract import find_numbers
from grader.notebook import AnswerBlock
from grader.spec import ModelAccuracyCheck

REPORTED_GAP_FLAG = 0.005
_ACCURACY_WORDS = ("acc",)


@dataclass(frozen=True)
class ModelEvidence:
    """What the grader learned about the handed-off model."""

    accuracy: float | None
    problem: str
    source: str
    device: str | None
    train_seconds: float | None
    scaling: str = ""


def reported_accuracy(blocks: list[AnswerBlock]) -> float | None:
    """The last accuracy the notebook printed (as a fraction), preferring one that mentions "test"."""
    outputs = [block for block in blocks if block.kind == "output"]
    found = [number for number in candidates_near(outputs, find_numbers, _ACCURACY_WORDS)
             if 0 < number.value <= 100 and not number.text.isdigit()]
    if not found:
        return None
    value = found[-1].value
    return value / 100 if value > 1 or found[-1].percent else value


def run_model_check(check: ModelAccuracyCheck, evidence: ModelEvidence,
                    blocks: list[AnswerBlock]) -> tuple[CheckResult, dict[str, Any]]:
    expected = f"test accuracy ≥ {check.threshold:.4f}"
    reported = reported_accuracy(blocks)
    metrics: dict[str, Any] = {"accuracy": evidence.accuracy, "reported_accuracy": reported,
                               "device": evidence.device, "train_seconds": evidence.train_seconds}
    if evidence.accuracy is None:
        message = f"{check.label}: {evidence.problem}"
        return CheckResult(check.id, check.label, check.kind, check.points, 0.0, False, expected, "", message,
                           check.hint), metrics
    measured = evidence.accuracy
    passed = measured >= check.threshold
    message = f"{check.label}: measured {measured:.4f} on {evidence.source}"
    if not passed:
        message += f", needs {check.threshold:.4f}"
    if reported is not None and abs(reported - measured) > REPORTED_GAP_FLAG:
        message += f"; the notebook reported {reported:.4f}, {abs(reported - measured) * 100:.2f} points away"
        metrics["reported_gap_flag"] = True
    return CheckResult(check.id, check.label, check.kind, check.points, check.points if passed else 0.0, passed,
                       expected, f"{measured:.4f}", message, "" if passed else check.hint), metrics

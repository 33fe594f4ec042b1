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
    """What the grader learned about the handed-off model: ``device`` is what the kernel reported training on,
    ``given_gpu`` the GPU the grader gave the notebook (its number on the grading machine; "" for none)."""

    accuracy: float | None
    problem: str
    source: str
    device: str | None
    train_seconds: float | None
    scaling: str = ""
    given_gpu: str = ""


def reported_accuracy(blocks: list[AnswerBlock]) -> float | None:
    """The last accuracy the notebook printed (as a fraction), preferring one that mentions "test"."""
    outputs = [block for block in blocks if block.kind == "output"]
    found = [
        number
        for number in candidates_near(outputs, find_numbers, _ACCURACY_WORDS)
        if 0 < number.value <= 100 and not number.text.isdigit()
    ]
    if not found:
        return None
    value = found[-1].value
    return value / 100 if value > 1 or found[-1].percent else value


def device_problem(check: ModelAccuracyCheck, evidence: ModelEvidence, cpu_allowed: bool) -> str:
    """Why the training does not count for the device it ran on ("" when it does): a spec that requires a
    GPU is met only by training the kernel reports on a GPU, unless CPU training was allowed."""
    if check.device != "gpu" or cpu_allowed or evidence.accuracy is None:
        return ""
    if evidence.device is None or evidence.device.lower().startswith("cpu"):
        return f"trained on {evidence.device or 'an unknown device'}, but the spec requires a GPU"
    return ""


def run_model_check(
    check: ModelAccuracyCheck, evidence: ModelEvidence, blocks: list[AnswerBlock], cpu_allowed: bool = False
) -> tuple[CheckResult, dict[str, Any]]:
    """Score the model the grader measured; a GPU requirement is enforced on the device that really trained
    (unless ``cpu_allowed``: ``--device cpu``). Below the threshold, the spec's tiers give partial credit."""
    expected = f"test accuracy ≥ {check.threshold:.4f}"
    reported = reported_accuracy(blocks)
    metrics: dict[str, Any] = {
        "accuracy": evidence.accuracy,
        "reported_accuracy": reported,
        "device": evidence.device,
        "given_gpu": evidence.given_gpu or None,
        "train_seconds": evidence.train_seconds,
    }
    if evidence.accuracy is None:
        message = f"{check.label}: {evidence.problem}"
        return CheckResult(
            check.id, check.label, check.kind, check.points, 0.0, False, expected, "", message, check.hint
        ), metrics
    wrong_device = device_problem(check, evidence, cpu_allowed)
    if wrong_device:
        return CheckResult(
            check.id,
            check.label,
            check.kind,
            check.points,
            0.0,
            False,
            expected,
            "",
            f"{check.label}: {wrong_device}",
            check.hint,
        ), metrics
    measured = evidence.accuracy
    passed = measured >= check.threshold
    score = check.points if passed else next((t.points for t in check.tiers if measured >= t.accuracy), 0.0)
    message = f"{check.label}: measured {measured:.4f} on {evidence.source}"
    if not passed:
        message += f", needs {check.threshold:.4f} for full points"
    if reported is not None and abs(reported - measured) > REPORTED_GAP_FLAG:
        message += f"; the notebook reported {reported:.4f}, {abs(reported - measured) * 100:.2f} points away"
        metrics["reported_gap_flag"] = True
    return CheckResult(
        check.id,
        check.label,
        check.kind,
        check.points,
        score,
        passed,
        expected,
        f"{measured:.4f}",
        message,
        "" if passed else check.hint,
    ), metrics

"""Rubric checks: free text scored by the concepts it mentions."""

from __future__ import annotations

import re

from grader.checks.result import CheckResult
from grader.extract import normalize
from grader.notebook import AnswerBlock
from grader.spec import Concept, RubricCheck


def _mentions(concept: Concept, text: str) -> bool:
    return any(re.search(pattern, text, re.IGNORECASE) for pattern in concept.patterns)


def run_rubric(check: RubricCheck, blocks: list[AnswerBlock]) -> CheckResult:
    expected = "; ".join(concept.label for concept in check.concepts)
    text = " ".join(normalize(block.text) for block in blocks)
    text = re.sub(r"\s+", " ", text)
    if not text.strip():
        return CheckResult.unanswered(check.id, check.label, check.kind, check.points, expected, "")
    found = [concept for concept in check.concepts if _mentions(concept, text)]
    missing = [concept for concept in check.concepts if concept not in found]
    score = min(check.points, sum(concept.points for concept in found))
    found_labels = "; ".join(concept.label for concept in found) or "none of the expected ideas"
    message = f"{check.label}: {score:g}/{check.points:g}"
    if score < check.points:
        message += " — not found: " + "; ".join(concept.label for concept in missing)
    hint = " ".join(concept.hint for concept in missing if concept.hint) if score < check.points else ""
    return CheckResult(check.id, check.label, check.kind, check.points, score, score >= check.pass_points,
                       expected, found_labels, message, hint)

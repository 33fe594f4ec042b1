"""Student-facing text, built in one place: recognised ideas named, missing ones only hinted, no key anywhere."""

from __future__ import annotations

import json
from pathlib import Path

from grader.checks import CheckResult
from grader.formats import write_formats
from grader.formats.student import UNSURE_NOTE, student_record, submission_feedback
from grader.manual import with_manual
from grader.scoring import score_exercise, score_submission
from grader.spec import Spec

REMEDIES = CheckResult(
    "remedies", "five remedies for running out of GPU memory", "rubric", 5, 2.0, False,
    expected="a smaller mini-batch; lower-precision numbers; gradient checkpointing",
    found="a smaller mini-batch; lower-precision numbers",
    message="five remedies: 2/5 — not found: gradient checkpointing",
    hint="Does every activation have to be stored for backpropagation?",
    recognised=("a smaller mini-batch", "lower-precision numbers"), review=("negation near an idea",))
TOTAL = CheckResult("total-params", "total parameters", "numeric", 2, 0.0, False, expected="903,400",
                    found="902,400", message="total parameters: found 902,400, expected 903,400",
                    hint="Add up the three layers' weights and biases.")
SHAPE = CheckResult("conv1-shape", "output shape of the first layer", "shape", 1, 1.0, True,
                    expected="100 × 150 × 100", found="100 x 150 x 100", message="conv1: 100 x 150 x 100",
                    hint="unused when passed", recognised=("100 x 150 x 100",))
SECRET = ("903,400", "gradient checkpointing", "not found", "negation near an idea", "expected", "unused when passed")


def _result(spec: Spec):
    two = score_exercise(2, "cnn-arithmetic", spec.exercise(2).title, 3, [SHAPE, TOTAL], [])
    three = score_exercise(3, "gpu-memory", spec.exercise(3).title, 5, [REMEDIES], [])
    three = with_manual(three, 3, "checkpointing is in your second paragraph")
    return score_submission("class/dana.ipynb", [two, three], "none", 1.0)


def test_recognised_ideas_are_named_and_missing_ones_only_hinted(spec: Spec) -> None:
    two, three = submission_feedback(_result(spec)).exercises
    shape, total = two.checks
    assert shape.text == "output shape of the first layer: full marks, recognised: 100 x 150 x 100."
    assert shape.hints == ()
    assert total.line() == ("total parameters (-2): found 902,400, which is not an accepted answer. "
                            "Hint: Add up the three layers' weights and biases.")
    (remedies,) = three.checks
    assert remedies.line() == ("five remedies for running out of GPU memory (-3): 2 of 5 points, recognised: "
                               "a smaller mini-batch; lower-precision numbers. "
                               "Hint: Does every activation have to be stored for backpropagation?")
    assert three.manual == ("Score set by your instructor to 3/5 (the automatic grade was 2). "
                            "checkpointing is in your second paragraph")


def test_no_student_output_holds_the_key_or_review_notes(spec: Spec, tmp_path: Path) -> None:
    result = _result(spec)
    write_formats([result], spec, tmp_path, {"feedback", "gradescope", "junit"})
    texts = {path.name: path.read_text() for path in tmp_path.rglob("*") if path.is_file()}
    texts["record"] = json.dumps(student_record(result), ensure_ascii=False)
    assert set(texts) == {"dana.md", "dana.html", "dana.json", "junit.xml", "record"}
    for name, text in texts.items():
        for secret in SECRET:
            assert secret not in text.replace("checkpointing is in your", ""), (secret, name)
        assert "a smaller mini-batch" in text and "Does every activation" in text, name
        assert "902,400" in text, name


def test_an_accepted_grade_says_it_was_checked(spec: Spec) -> None:
    exercise = score_exercise(3, "gpu-memory", "GPU memory", 5, [REMEDIES], [])
    accepted = submission_feedback(score_submission("a.ipynb", [with_manual(exercise, 2, "")], "none", 0))
    assert accepted.exercises[0].manual == "Checked by your instructor."


def test_a_flagged_score_is_announced_without_its_reasons(spec: Spec, tmp_path: Path) -> None:
    exercise = score_exercise(3, "gpu-memory", "GPU memory", 5, [REMEDIES], [])
    assert exercise.awaits_review
    result = score_submission("class/erin.ipynb", [exercise], "none", 0)
    (item,) = submission_feedback(result).exercises
    assert item.unsure and not submission_feedback(_result(spec)).exercises[1].unsure  # decided by hand
    write_formats([result], spec, tmp_path, {"feedback", "gradescope"})
    for name in ("feedback/erin.md", "feedback/erin.html", "gradescope/erin.json"):
        text = (tmp_path / name).read_text()
        assert UNSURE_NOTE in text and "negation" not in text, name
    assert student_record(result)["exercises"][0]["unsure"] is True

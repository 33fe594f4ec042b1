"""The model exercise's score from the accuracy the grader measured: tiers below the threshold, and a GPU
requirement enforced on the device that really trained."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from grader.checks.model import ModelEvidence, run_model_check
from grader.spec import AccuracyTier, ModelAccuracyCheck, SpecError, bundled_spec_path, load_spec


def _check(spec) -> ModelAccuracyCheck:
    check = spec.exercise(9).checks[0]
    assert isinstance(check, ModelAccuracyCheck)
    return check


def _measured(accuracy: float, device: str = "GPU 0: NVIDIA H200") -> ModelEvidence:
    return ModelEvidence(accuracy, "", "the saved file mnist_cnn.keras", device, 42.0)


def test_the_bundled_spec_requires_a_gpu_and_gives_tiers(spec) -> None:
    check = _check(spec)
    assert check.device == "gpu" and check.threshold == 0.99
    assert check.tiers == (AccuracyTier(0.985, 7), AccuracyTier(0.97, 4))


@pytest.mark.parametrize(("accuracy", "points"), [(0.9931, 10), (0.99, 10), (0.9874, 7), (0.985, 7),
                                                  (0.9712, 4), (0.9699, 0), (0.5, 0)])
def test_partial_credit_by_tier(spec, accuracy: float, points: float) -> None:
    result, metrics = run_model_check(_check(spec), _measured(accuracy), [])
    assert result.score == points and metrics["accuracy"] == accuracy
    assert result.passed is (points == 10)
    if points < 10:
        assert "needs 0.9900 for full points" in result.message


def test_training_on_the_cpu_does_not_count_when_a_gpu_is_required(spec) -> None:
    result, metrics = run_model_check(_check(spec), _measured(0.995, device="CPU"), [])
    assert result.score == 0 and "trained on CPU, but the spec requires a GPU" in result.message
    assert metrics["device"] == "CPU"
    allowed, _ = run_model_check(_check(spec), _measured(0.995, device="CPU"), [], cpu_allowed=True)
    assert allowed.score == 10
    anywhere = replace(_check(spec), device="any")
    assert run_model_check(anywhere, _measured(0.995, device="CPU"), [])[0].score == 10


def test_tiers_must_fall_below_the_threshold(tmp_path: Path) -> None:
    raw = yaml.safe_load(bundled_spec_path().read_text())
    raw["exercises"][8]["checks"][0]["tiers"] = [{"accuracy": 0.995, "points": 7}, {"accuracy": 0.98, "points": 8}]
    path = tmp_path / "tiers.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    problems = [str(problem) for problem in caught.value.problems]
    assert any("tiers[0]: must be below the threshold" in problem for problem in problems)
    assert any("tiers[1]: must be below the threshold" in problem for problem in problems)

"""Spec loading: the bundled key is valid; broken specs give every error with its line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.spec import ModelAccuracyCheck, NumericCheck, SpecError, bundled_spec_path, load_spec

BROKEN = """\
id: broken
title: A spec with mistakes
exercises:
  - number: 1
    id: first
    title: First
    prompt: Say something.
    points: 3
    checks:
      - kind: rubric
        id: words
        label: some words
        points: 2
        full_at: 1
        concepts:
          - id: a
            label: an idea
            phrasings: {en: [an idea], klingon: [qaStaH]}
  - number: 2
    id: second
    title: Second
    prompt: Count.
    points: two
    checks:
      - kind: numeric
        id: count
        label: a count
        points: 1
        value: 3
        unit: furlongs
"""


def test_bundled_spec_is_valid() -> None:
    spec = load_spec(bundled_spec_path())
    assert [exercise.number for exercise in spec.exercises] == list(range(1, 10))
    assert spec.max_score == sum(check.points for exercise in spec.exercises for check in exercise.checks)
    total = next(c for c in spec.exercise(2).checks if c.id == "total-params")
    assert isinstance(total, NumericCheck) and total.value == 903400
    ram = next(c for c in spec.exercise(2).checks if c.id == "ram-instance")
    assert isinstance(ram, NumericCheck) and {alt.id for alt in ram.alternatives} >= {"without-input"}
    assert all(alt.reason for alt in ram.alternatives)
    model_check = spec.exercise(9).checks[0]
    assert isinstance(model_check, ModelAccuracyCheck) and model_check.threshold == 0.99


def test_schema_errors_name_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    text = str(caught.value)
    assert f"{path}:23: exercises[1].points:" in text and "'two' is not of type 'number'" in text
    assert f"{path}:30: exercises[1].checks[0].unit:" in text and "'furlongs' is not allowed" in text
    assert len(caught.value.problems) == 2


def test_rule_errors_after_schema_passes(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(BROKEN.replace("points: two", "points: 1").replace("unit: furlongs", "unit: MB"))
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    messages = [str(problem) for problem in caught.value.problems]
    assert any(":8: exercises[0].points: is 3 but its checks add up to 2" in message for message in messages)
    assert any(":18: exercises[0].checks[0].concepts[0].phrasings.klingon: unknown language code" in message
               for message in messages)


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    path = tmp_path / "syntax.yaml"
    path.write_text("id: x\ntitle: [unclosed\nexercises: []\n")
    with pytest.raises(SpecError, match=rf"{path}:\d+: not valid YAML"):
        load_spec(path)

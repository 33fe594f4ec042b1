"""``grader report``: class statistics, the lowest-scoring checks, failed submissions and the histogram."""

from __future__ import annotations

import json
import struct
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest
import typer
from conftest import CONCEPTUAL, DATA, class_folder, wrong_total
from typer.testing import CliRunner

from grader import store
from grader.class_report import summarize
from grader.commands import override as override_command
from grader.commands import report as report_command
from grader.grade import GradeOptions, grade_notebook
from grader.manual import with_manual
from grader.scoring import Review, SubmissionResult
from grader.spec import Spec

STORED = GradeOptions(execute=False, exercises=CONCEPTUAL)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture()
def results(tmp_path: Path, spec: Spec) -> list[SubmissionResult]:
    """alice: full marks; bob: wrong total; dave: wrong total and no exercise 3; carol: unreadable."""
    folder = class_folder(tmp_path)
    wrong = wrong_total(nbformat.read(DATA / "seed_style.ipynb", as_version=4))
    wrong.cells[3].source = "#### 3. If your GPU runs out of memory?\n**Answer:** no idea."
    nbformat.write(wrong, folder / "dave.ipynb")
    (folder / "carol.ipynb").write_bytes(b"\xff\xfe not utf-8")
    graded = [grade_notebook(folder / f"{name}.ipynb", spec, STORED) for name in ("alice", "bob", "carol", "dave")]
    assert [result.score for result in graded] == [39, 37, 0, 32]
    return graded


def _app() -> typer.Typer:
    app = typer.Typer()
    report_command.register(app)
    override_command.register(app)
    return app


def test_summary_statistics(results: list[SubmissionResult]) -> None:
    summary = summarize(results)
    assert summary.graded == 3 and [Path(result.path).name for result in summary.failed] == ["carol.ipynb"]
    by_number = {stats.number: stats for stats in summary.exercises}
    assert by_number[2].mean == pytest.approx((12 + 10 + 10) / 3) and by_number[2].pass_rate == pytest.approx(1 / 3)
    assert by_number[3].mean == pytest.approx(10 / 3) and by_number[3].pass_rate == pytest.approx(2 / 3)
    assert by_number[1].pass_rate == 1 and set(by_number) == set(CONCEPTUAL)
    lowest = [(stats.exercise, stats.id, round(stats.mean_fraction, 3)) for stats in summary.checks[:2]]
    assert lowest == [(2, "total-params", 0.333), (3, "remedies", 0.667)]
    assert summary.percents == pytest.approx([100, 37 / 39 * 100, 32 / 39 * 100])


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_report_prints_the_summary_and_saves_a_histogram(results, spec: Spec, tmp_path: Path) -> None:
    out = tmp_path / "out"
    store.save(results, spec, out)
    done = CliRunner().invoke(_app(), ["report", str(out), "--top", "2"])
    assert done.exit_code == 0, done.output
    text = done.output
    assert "ch14: 3 graded, 1 failed to grade" in text
    assert "2. Shapes, parameters and RAM" in text and "10.67/12" in text and "33%" in text
    assert "2. total-params" in text and "3. remedies" in text and "2. ram-instance" not in text
    assert "Failed to grade" in text and "carol.ipynb" in text and "not UTF-8" in text
    width, height = _png_size(out / "histogram.png")
    assert width >= 600 and height >= 300
    import matplotlib.image

    assert matplotlib.image.imread(out / "histogram.png").shape[:2] == (height, width)


def test_report_merges_overrides_first(results, spec: Spec, tmp_path: Path) -> None:
    out = tmp_path / "out"
    store.save(results, spec, out)
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text("- {submission: dave, exercise: 3, points: 5, comment: answered on paper}\n")
    done = CliRunner().invoke(_app(), ["report", str(out), "--overrides", str(overrides)])
    assert done.exit_code == 0, done.output
    assert "1 manual grade from" in done.output
    dave = json.loads((out / "results.json").read_text())["submissions"][3]
    assert dave["score"] == 37 and dave["exercises"][2]["manual"]["original_score"] == 0


def test_report_without_results_is_a_usage_error(tmp_path: Path) -> None:
    done = CliRunner().invoke(_app(), ["report", str(tmp_path)])
    assert done.exit_code == 2 and "results.json: cannot read" in done.output


def test_report_shows_the_review_queue_per_exercise(results, spec: Spec, tmp_path: Path) -> None:
    def flag(result: SubmissionResult, numbers: set[int]) -> SubmissionResult:
        return replace(result, exercises=tuple(
            replace(exercise, review=Review.of(["hedged answer"])) if exercise.number in numbers else exercise
            for exercise in result.exercises))

    alice, bob, carol, dave = results
    flagged = [flag(alice, {2}), flag(bob, {2, 3}), carol, flag(dave, {3})]
    flagged[3] = replace(flagged[3], exercises=tuple(
        with_manual(exercise, 4, "") if exercise.number == 3 else exercise for exercise in flagged[3].exercises))
    assert {stats.number: stats.to_review for stats in summarize(flagged).exercises if stats.to_review} == {2: 2, 3: 1}
    out = tmp_path / "out"
    store.save(flagged, spec, out)
    done = CliRunner().invoke(_app(), ["report", str(out)])
    assert done.exit_code == 0, done.output
    assert "to review" in done.output and f"3 exercises to review: grader review {out}" in done.output

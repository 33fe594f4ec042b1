"""Batches: parallel and serial runs agree, unchanged submissions are not regraded, --force or another isolation
tier regrades."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from conftest import DATA, edit_markdown
from nbformat.v4 import new_code_cell, new_markdown_cell

from grader.sandbox import Isolation, available

GRADER = [sys.executable, "-m", "grader", "grade"]
QUICK = ["-e", "1", "-e", "2", "-e", "4"]


def _class(tmp_path: Path, size: int) -> Path:
    """``size`` seed-style submissions, each with a code cell so that every one really executes."""
    folder = tmp_path / "class"
    folder.mkdir()
    for index in range(size):
        notebook = nbformat.read(DATA / "seed_style.ipynb", as_version=4)
        if index % 2:
            edit_markdown(notebook, "903400", "90340")
            edit_markdown(notebook, "903,400", "90,340")
        notebook.cells.insert(2, new_markdown_cell("#### 1. (continued)"))
        notebook.cells.insert(3, new_code_cell(f"print('student {index}: weight sharing')"))
        nbformat.write(notebook, folder / f"student{index:02d}.ipynb")
    return folder


def _grades(out: Path) -> list[tuple]:
    document = json.loads((out / "results.json").read_text())
    return [(Path(sub["path"]).name, sub["score"], [(ex["number"], ex["score"], ex["status"],
             [(check["id"], check["score"], check["message"]) for check in ex["checks"]]) for ex in sub["exercises"]])
            for sub in document["submissions"]]


def test_parallel_and_serial_results_are_identical(tmp_path: Path) -> None:
    folder = _class(tmp_path, 4)
    serial = subprocess.run([*GRADER, str(folder), *QUICK, "-j", "1", "--out", "serial"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=600)
    parallel = subprocess.run([*GRADER, str(folder), *QUICK, "-j", "3", "--out", "parallel"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=600)
    assert serial.returncode == parallel.returncode == 0, serial.stderr + parallel.stderr
    assert _grades(tmp_path / "serial") == _grades(tmp_path / "parallel")
    scores = [score for _, score, _ in _grades(tmp_path / "serial")]
    assert scores[0] > scores[1] and scores[0] == scores[2]
    assert "[4/4]" in parallel.stdout  # plain progress lines when output is not a terminal


def test_unchanged_submissions_are_skipped_and_force_regrades(tmp_path: Path) -> None:
    folder = _class(tmp_path, 2)
    command = [*GRADER, str(folder), *QUICK, "--out", "out"]
    first = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0 and "not regraded" not in first.stdout
    before = _grades(tmp_path / "out")
    shutil.copy(folder / "student00.ipynb", folder / "student01.ipynb")  # one submission changes
    second = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert "student00.ipynb: 19/19 (unchanged, not regraded)" in second.stdout
    assert "student01.ipynb: 19/19 (unchanged" not in second.stdout
    after = _grades(tmp_path / "out")
    assert after[0] == before[0] and after[1][1] == before[0][1]
    forced = subprocess.run([*command, "--force"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert "not regraded" not in forced.stdout and _grades(tmp_path / "out") == after
    if available()[0] is not Isolation.RLIMITS:  # the runs above were contained: a run without is another tier
        uncontained = subprocess.run([*command, "--isolation", "none"], cwd=tmp_path, capture_output=True, text=True,
                                     timeout=600)
        assert "not regraded" not in uncontained.stdout, "a run in another isolation tier reused the earlier grades"


def test_ctrl_c_stops_kernels_and_keeps_finished_results(tmp_path: Path) -> None:
    import os
    import signal
    import time

    import psutil

    folder = _class(tmp_path, 1)
    stuck = nbformat.v4.new_notebook(cells=[new_markdown_cell("## 1. Loop"), new_code_cell("while True:\n    pass")])
    nbformat.write(stuck, folder / "student99.ipynb")
    grading = subprocess.Popen([*GRADER, str(folder), *QUICK, "-j", "1", "--out", "out", "--cell-timeout", "300"],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = tmp_path / "out" / "results.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (results.exists() and "student00" in results.read_text()):
        time.sleep(0.2)
    time.sleep(3)  # the stuck notebook's kernel is now busy
    descendants = psutil.Process(grading.pid).children(recursive=True)
    grading.send_signal(signal.SIGINT)
    started = time.monotonic()
    grading.communicate(timeout=60)
    assert time.monotonic() - started < 30 and grading.returncode != 0
    assert [Path(sub["path"]).name for sub in json.loads(results.read_text())["submissions"]] == ["student00.ipynb"]
    time.sleep(1)
    assert not [child for child in descendants if child.is_running() and child.status() != psutil.STATUS_ZOMBIE]
    assert os.path.exists(folder / "student99.ipynb")


def test_exercise_runs_merge_into_the_earlier_result(tmp_path: Path) -> None:
    folder = _class(tmp_path, 2)
    grade = [*GRADER, str(folder), "--no-execute", "--out", "out"]
    first = subprocess.run([*grade, "-e", "1", "-e", "2"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    before = {name: exercises for name, _, exercises in _grades(tmp_path / "out")}
    second = subprocess.run([*grade, "-e", "4"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    merged = _grades(tmp_path / "out")
    for name, score, exercises in merged:
        assert [exercise[0] for exercise in exercises] == [1, 2, 4]
        assert exercises[:2] == before[name] and score == sum(exercise[1] for exercise in exercises)
    notebook = nbformat.read(folder / "student00.ipynb", as_version=4)
    edit_markdown(notebook, "903400", "90340")
    edit_markdown(notebook, "903,400", "90,340")
    nbformat.write(notebook, folder / "student00.ipynb")
    third = subprocess.run([*grade, "-e", "2"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert third.returncode == 0, third.stderr
    after = {name: (score, exercises) for name, score, exercises in _grades(tmp_path / "out")}
    score, exercises = after["student00.ipynb"]
    assert exercises[0] == merged[0][2][0] and exercises[2] == merged[0][2][2]
    assert exercises[1][1] < merged[0][2][1][1] and score == merged[0][1] - (merged[0][2][1][1] - exercises[1][1])
    assert after["student01.ipynb"] == (merged[1][1], merged[1][2])
    document = json.loads((tmp_path / "out" / "results.json").read_text())
    assert document["submissions"][0]["max_score"] == sum(ex["max_score"] for ex in document["submissions"][0]
                                                          ["exercises"])

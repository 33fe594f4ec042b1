"""The ``grader`` command as users run it: real processes, real files, documented exit codes."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from conftest import DATA, class_folder

GRADER = [sys.executable, "-m", "grader"]
CONCEPTUAL = [arg for number in range(1, 9) for arg in ("-e", str(number))]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GRADER, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_grade_folder_writes_results_and_csv(tmp_path: Path) -> None:
    folder = class_folder(tmp_path)
    done = run("grade", str(folder), "--no-execute", *CONCEPTUAL, "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    by_name = {Path(sub["path"]).name: sub for sub in results["submissions"]}
    alice, bob = by_name["alice.ipynb"], by_name["bob.ipynb"]
    assert alice["status"] == "graded" and alice["score"] == alice["max_score"] == 39
    assert bob["score"] == 37
    exercise = bob["exercises"][1]
    assert set(exercise) >= {"number", "id", "score", "max_score", "status", "checks", "metrics"}
    lost = [check for check in exercise["checks"] if not check["passed"]]
    assert [(check["id"], check["expected"]) for check in lost] == [("total-params", "903,400")]
    assert set(lost[0]) >= {"id", "passed", "expected", "found", "message"}
    rows = list(csv.DictReader((tmp_path / "out" / "grades.csv").open()))
    assert [Path(row["submission"]).name for row in rows] == ["alice.ipynb", "bob.ipynb"]
    assert rows[1]["exercise_2"] == "10" and rows[1]["total"] == "37" and rows[1]["exercise_9"] == ""
    assert "found 902,400, expected 903,400" in done.stdout


def test_fail_under_gates_the_exit_code(tmp_path: Path) -> None:
    folder = class_folder(tmp_path)
    assert run("grade", str(folder), "--no-execute", *CONCEPTUAL, "--fail-under", "90", cwd=tmp_path).returncode == 0
    assert run("grade", str(folder), "--no-execute", *CONCEPTUAL, "--fail-under", "99", cwd=tmp_path).returncode == 1


def test_bad_inputs_are_reported_and_the_rest_graded(tmp_path: Path) -> None:
    folder = class_folder(tmp_path)
    (folder / "carol.ipynb").write_bytes(b"\xff\xfe not utf-8")
    done = run("grade", str(folder), str(tmp_path / "missing.ipynb"), "--no-execute", *CONCEPTUAL, cwd=tmp_path)
    assert done.returncode == 0
    assert "missing.ipynb: no such file or folder" in done.stderr
    results = json.loads((tmp_path / "grades" / "results.json").read_text())["submissions"]
    statuses = {Path(sub["path"]).name: (sub["status"], sub["error"]) for sub in results}
    assert statuses["carol.ipynb"][0] == "failed" and "not UTF-8" in statuses["carol.ipynb"][1]
    assert statuses["missing.ipynb"][0] == "failed"
    assert statuses["alice.ipynb"] == ("graded", "")


def test_nothing_to_grade_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    done = run("grade", str(tmp_path / "empty"), cwd=tmp_path)
    assert done.returncode == 2 and "no notebooks" in done.stderr


def test_invalid_spec_lists_every_error_with_lines(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("id: x\ntitle: Broken\nexercises:\n  - number: one\n    id: a\n    title: A\n    prompt: P\n"
                    "    points: 1\n    checks: []\n")
    validated = run("validate", str(spec), cwd=tmp_path)
    assert validated.returncode == 2
    assert f"{spec}:4: exercises[0].number: 'one' is not of type 'integer'" in validated.stderr
    assert f"{spec}:9: exercises[0].checks: [] should be non-empty" in validated.stderr
    graded = run("grade", str(DATA / "seed_style.ipynb"), "--spec", str(spec), cwd=tmp_path)
    assert graded.returncode == 2 and "spec error" in graded.stderr


def test_keycheck_confirms_the_bundled_key(tmp_path: Path) -> None:
    done = run("keycheck", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("ok exercise 2") == 12 and "MISMATCH" not in done.stdout


def test_keycheck_catches_a_drifted_key(tmp_path: Path) -> None:
    from grader.spec import bundled_spec_path

    drifted = tmp_path / "drifted.yaml"
    drifted.write_text(bundled_spec_path().read_text().replace("value: 903400", "value: 902400"))
    done = run("keycheck", "--spec", str(drifted), cwd=tmp_path)
    assert done.returncode == 1 and "MISMATCH exercise 2 total-params" in done.stdout


def test_isolation_option_runs_the_tier_asked_for_or_refuses(tmp_path: Path) -> None:
    from grader.sandbox import Isolation
    from grader.sandbox.tiers import unavailable_reason

    for tier, option in [(Isolation.BUBBLEWRAP, "bubblewrap"), (Isolation.LANDLOCK, "landlock")]:
        done = run("grade", str(DATA / "seed_style.ipynb"), "-e", "2", "--isolation", option, "--out", option,
                   cwd=tmp_path)
        if unavailable_reason(tier):
            assert done.returncode == 2 and f"isolation {option}:" in done.stderr, done.stderr
            continue
        assert done.returncode == 0 and "NOT contained" not in done.stderr, done.stderr
        (entry,) = json.loads((tmp_path / option / "results.json").read_text())["submissions"]
        assert entry["isolation"] == option and entry["score"] == 12
    done = run("check", str(DATA / "seed_style.ipynb"), "-e", "2", "--isolation", "none", cwd=tmp_path)
    assert done.returncode == 0 and "NOT contained" in done.stderr


def test_fallback_isolation_is_announced(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "CNN_GRADER_ISOLATION": "rlimits"}
    done = subprocess.run([*GRADER, "grade", str(DATA / "seed_style.ipynb"), "-e", "1"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and "Sandbox isolation is unavailable" in done.stderr
    results = json.loads((tmp_path / "grades" / "results.json").read_text())
    assert results["submissions"][0]["isolation"] == "rlimits"

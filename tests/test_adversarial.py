"""Hostile notebooks (``tests/adversarial/``) graded for real: each is contained and the rest is graded.

Most cases run once, together with two good notebooks, in one batch through the ``grader`` command
(``hostile_batch``), once per isolation tier that can run here; the good ones must score exactly as they do alone.
Cases that need their own setting (TensorFlow, exercise 9, bad input files) grade on their own. Containment that
the process-limits tier does not provide (files, network) is tested under bubblewrap and Landlock only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import psutil
import pytest
import yaml
from conftest import CONCEPTUAL, DATA, REPO
from interpreters import reachable_python, remove_venv
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.checks import CheckResult
from grader.grade import GradeOptions, grade_notebook
from grader.sandbox import Isolation
from grader.sandbox.tiers import drop_blocked, unavailable_reason
from grader.scoring import ExerciseResult, SubmissionResult
from grader.spec import Limits, Spec, bundled_spec_path

pytestmark = pytest.mark.kernel
ADVERSARIAL = Path(__file__).resolve().parent / "adversarial"
LIMITS = Limits(cell_timeout=4, notebook_timeout=60, memory_mb=768, max_processes=64, max_file_mb=64,
                max_output_mb=1)
TF_LIMITS = Limits(cell_timeout=90, notebook_timeout=120, memory_mb=4096, max_processes=256, max_file_mb=64,
                   max_output_mb=1)
EXERCISES = [arg for number in CONCEPTUAL for arg in ("-e", str(number))]
RUNTIME_CASES = ("infinite_loop", "stubborn_loop", "memory_bomb", "memory_bomb_processes", "os_exit", "segfault",
                 "huge_output")
TIMEOUT = "cell 3 (timeout): the cell ran past its 4 s limit"
DEAD = "DeadKernelError: the kernel died (out of memory, a crash or an exit)"
OVER_MEMORY = ("cell 3 (dead): DeadKernelError: the kernel and its processes used more than 768 MB together and were "
               "killed")
GOOD = ("alice", "bob")
MAX_GRADER_RSS_MB = 300
_MEASURED_CLI = """\
import resource, runpy, sys
sys.argv = ["grader", *sys.argv[1:]]
try:
    runpy.run_module("grader", run_name="__main__")
finally:
    print("max-rss-kib", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def _contains_files(tier: Isolation) -> bool:
    return tier is not Isolation.RLIMITS


def _fork_bomb_contained(tier: Isolation) -> bool:
    """RLIMIT_NPROC does not apply to root: contained when the sandbox runs as a uid of its own (or not as root)."""
    return tier is not Isolation.RLIMITS or os.geteuid() != 0 or not drop_blocked()


def _needs_containment(batch: Batch) -> None:
    if not _contains_files(batch.tier):
        pytest.skip("process limits alone contain neither files nor the network (see the README's threat table)")


@dataclass
class Batch:
    """One ``grader grade`` run over the hostile notebooks and two good ones, and what it left behind."""

    tier: Isolation
    scratch: Path
    results: dict[str, dict]
    alone: dict[str, dict]
    grader_rss_mb: float
    survivors: list[str]
    server: socket.socket
    snapshot_before: dict[str, str]
    snapshot_after: dict[str, str]
    stray_writes: list[str]


def _spec_file(folder: Path, limits: Limits) -> Path:
    """A copy of the bundled spec with these limits, in its own folder."""
    raw = yaml.safe_load(bundled_spec_path().read_text(encoding="utf-8"))
    raw["limits"] = dict(limits.__dict__)
    folder.mkdir(parents=True)
    path = folder / "ch14.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def _place(source: Path, batch: Path, name: str) -> Path:
    """Copy a notebook into ``batch/name/name.ipynb``, as one student's folder."""
    folder = batch / name
    folder.mkdir(parents=True)
    target = folder / f"{name}.ipynb"
    shutil.copy(source, target)
    return target


def grader_cli(*args: str, cwd: Path, tmp: Path | None = None, python: Path = Path(sys.executable)
               ) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``grader`` in a child process (its workspaces in ``tmp``); return it and its own peak memory in MB."""
    env = {**os.environ, **({"TMPDIR": str(tmp)} if tmp else {})}
    done = subprocess.run([str(python), "-c", _MEASURED_CLI, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)
    line = next(line for line in done.stderr.splitlines() if line.startswith("max-rss-kib"))
    return done, int(line.split()[1]) / 1024


def _entries(out: Path) -> dict[str, dict]:
    submissions = json.loads((out / "results.json").read_text(encoding="utf-8"))["submissions"]
    return {Path(entry["path"]).stem: entry for entry in submissions}


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with a hash of its content and its mode."""
    return {str(path.relative_to(folder)): f"{hashlib.sha256(path.read_bytes()).hexdigest()} {path.stat().st_mode:o}"
            for path in sorted(folder.rglob("*")) if path.is_file()}


def _survivors(marker: str) -> list[str]:
    """Processes still running that a sandbox of this test started: children of ours, or any whose command line or
    environment names ``marker`` (the folder the grader made its workspaces in: every kernel's HOME is there)."""
    mine = {child.pid for child in psutil.Process().children(recursive=True)}
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "environ", "status"]):
        info = proc.info
        named = " ".join([*(info["cmdline"] or []), *(info["environ"] or {}).values()])
        if info["status"] != psutil.STATUS_ZOMBIE and (info["pid"] in mine or marker in named):
            found.append(f"{info['pid']} {' '.join(info['cmdline'] or [])[:160]}")
    return found


def _escape_targets(scratch: Path, spec_path: Path, marker: str) -> dict[str, list[str]]:
    batch, out = scratch / "batch", scratch / "out"
    read = [spec_path, bundled_spec_path(), REPO / "exercises" / "ch14.yaml", REPO / "answers" / "ch14_solutions.ipynb",
            batch / "alice" / "alice.ipynb", batch / "alice", out, out / "results.json",
            REPO / "tests" / "data" / "seed_style.ipynb", REPO / ".git"]
    write = [REPO / marker, batch / "mallory" / marker, batch / "mallory" / "mallory.ipynb", batch / "alice" / marker,
             out / marker]
    return {"read": [str(path) for path in read], "write": [str(path) for path in write]}


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    """A world-readable folder outside /tmp (which the sandbox replaces anyway), as an instructor's would be."""
    parent = REPO / "build"
    parent.mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="adversarial-", dir=parent))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(OSError):
        parent.rmdir()


def _stage(scratch: Path, spec_path: Path, port: int, marker: str, tier: Isolation) -> tuple[Path, ...]:
    """Put one folder per student under ``scratch/batch``; return the good notebooks."""
    batch = scratch / "batch"
    good = (_place(DATA / "seed_style.ipynb", batch, "alice"), _place(ADVERSARIAL / "honest.ipynb", batch, "bob"))
    for case in RUNTIME_CASES:
        _place(ADVERSARIAL / f"{case}.ipynb", batch, case)
    if _fork_bomb_contained(tier):
        _place(ADVERSARIAL / "fork_bomb.ipynb", batch, "forked")
    if _contains_files(tier):
        (_place(ADVERSARIAL / "network.ipynb", batch, "network").parent / "port.txt").write_text(str(port))
        mallory = _place(ADVERSARIAL / "escape.ipynb", batch, "mallory")
        (mallory.parent / "targets.json").write_text(json.dumps(_escape_targets(scratch, spec_path, marker)))
    for path in scratch.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return good


@pytest.fixture(scope="module")
def reachable() -> Iterator[list[Path]]:
    """The Python a dropped uid can run, made once for this module when the Landlock tier needs it."""
    made: list[Path] = []
    yield made
    for python in made:
        remove_venv(python)


def _tier_python(tier: Isolation, reachable: list[Path]) -> Path:
    """The Python to run the grader with under ``tier``; skip when the tier cannot run here."""
    reason = unavailable_reason(tier)
    if not reason:
        return Path(sys.executable)
    if tier is not Isolation.LANDLOCK or not reason.startswith("running as root"):
        pytest.skip(reason)
    if not reachable:
        python = reachable_python()
        if python is None:
            pytest.skip(f"{reason}, and no system Python of this version is there to use instead")
        reachable.append(python)
    return reachable[0]


@pytest.fixture(scope="module", params=list(Isolation), ids=str)
def hostile_batch(request: pytest.FixtureRequest, scratch: Path, reachable: list[Path]) -> Iterator[Batch]:
    tier = request.param
    python = _tier_python(tier, reachable)
    scratch = scratch / tier.value
    scratch.mkdir()
    scratch.chmod(0o755)
    spec_path = _spec_file(scratch / "spec", LIMITS)
    server = socket.create_server(("127.0.0.1", 0))
    marker = f"escaped-{os.getpid()}-{time.monotonic_ns()}"
    good = _stage(scratch, spec_path, server.getsockname()[1], marker, tier)
    option = "none" if tier is Isolation.RLIMITS else tier.value
    common = ("--spec", str(spec_path), "--isolation", option, *EXERCISES)
    alone = {}
    for notebook in good:
        single = scratch / f"alone-{notebook.stem}"
        done, _ = grader_cli("grade", str(notebook), "--out", str(single), *common, cwd=scratch, python=python)
        assert done.returncode == 0, done.stderr[-3000:]
        alone.update(_entries(single))
    batch, workspaces = scratch / "batch", scratch / "workspaces"
    workspaces.mkdir()
    workspaces.chmod(0o755)
    before = _snapshot(batch)
    done, rss = grader_cli("grade", str(batch), "--out", str(scratch / "out"), *common, cwd=scratch, tmp=workspaces,
                           python=python)
    assert done.returncode == 0, done.stdout + done.stderr
    stray = [path for path in _escape_targets(scratch, spec_path, marker)["write"]
             if Path(path).exists() and not path.endswith(".ipynb")]
    try:
        yield Batch(tier, scratch, _entries(scratch / "out"), alone, rss, _survivors(str(workspaces)), server, before,
                    _snapshot(batch), stray)
    finally:
        server.close()
        for path in stray:
            Path(path).unlink(missing_ok=True)


def _exercise(entry: dict, number: int) -> dict:
    return next(exercise for exercise in entry["exercises"] if exercise["number"] == number)


def _check(exercise: dict, check_id: str) -> dict:
    return next(check for check in exercise["checks"] if check["id"] == check_id)


def _answers_after_the_hostile_cell_count(entry: dict) -> None:
    arithmetic, memory = _exercise(entry, 2), _exercise(entry, 3)
    assert _check(arithmetic, "total-params")["passed"], arithmetic
    assert memory["score"] == 1 and memory["errors"] == [], memory
    assert entry["status"] == "graded"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("infinite_loop", [TIMEOUT]),
        ("stubborn_loop", [f"{TIMEOUT}; the kernel did not recover from the interrupt and was replaced"]),
        ("memory_bomb", ["cell 3 (error): MemoryError", f"cell 3 (dead): {DEAD}", OVER_MEMORY]),
        ("memory_bomb_processes", [OVER_MEMORY]),
        ("os_exit", [f"cell 3 (dead): {DEAD}"]),
        ("segfault", [f"cell 3 (dead): {DEAD}"]),
    ],
)
def test_failing_cell_is_recorded_and_the_rest_graded(hostile_batch: Batch, case: str, expected: list[str]) -> None:
    entry = hostile_batch.results[case]
    arithmetic = _exercise(entry, 2)
    assert arithmetic["status"] == "error"
    assert len(arithmetic["errors"]) == 1 and arithmetic["errors"][0] in expected, arithmetic["errors"]
    _answers_after_the_hostile_cell_count(entry)


def test_fork_bomb_is_contained_and_leaves_no_process(hostile_batch: Batch) -> None:
    if not _fork_bomb_contained(hostile_batch.tier):
        pytest.skip("running as root with process limits only: RLIMIT_NPROC does not apply, so no fork bomb is run")
    entry = hostile_batch.results["forked"]
    assert entry["seconds"] < LIMITS.notebook_timeout
    (error,) = _exercise(entry, 2)["errors"]
    assert error.startswith(TIMEOUT), error
    _answers_after_the_hostile_cell_count(entry)
    assert hostile_batch.survivors == []


def test_huge_output_is_truncated_and_the_grader_stays_small(hostile_batch: Batch) -> None:
    entry = hostile_batch.results["huge_output"]
    assert _exercise(entry, 2)["errors"] in ([TIMEOUT], [OVER_MEMORY])  # the kernel may buffer what it cannot send
    _answers_after_the_hostile_cell_count(entry)
    assert any("truncated" in note and "cell 3" in note for note in entry["notes"]), entry["notes"]
    assert hostile_batch.grader_rss_mb < MAX_GRADER_RSS_MB


def test_no_network(hostile_batch: Batch) -> None:
    _needs_containment(hostile_batch)
    entry = hostile_batch.results["network"]
    assert _check(_exercise(entry, 2), "total-params")["found"] == "903400"
    hostile_batch.server.setblocking(False)
    with pytest.raises(BlockingIOError):
        hostile_batch.server.accept()


def test_answer_keys_other_submissions_and_outputs_are_out_of_reach(hostile_batch: Batch) -> None:
    _needs_containment(hostile_batch)
    found = _check(_exercise(hostile_batch.results["mallory"], 2), "total-params")["found"]
    readable = int(found) - 903400
    targets = json.loads((hostile_batch.scratch / "batch" / "mallory" / "targets.json").read_text())["read"]
    assert readable == 0, [path for bit, path in enumerate(targets) if readable >> bit & 1]
    assert hostile_batch.stray_writes == []
    assert hostile_batch.snapshot_after == hostile_batch.snapshot_before


def test_every_result_names_its_tier(hostile_batch: Batch) -> None:
    assert {entry["isolation"] for entry in hostile_batch.results.values()} == {hostile_batch.tier.value}


def test_good_notebooks_score_as_they_do_alone(hostile_batch: Batch) -> None:
    for name in GOOD:
        in_batch, alone = dict(hostile_batch.results[name]), dict(hostile_batch.alone[name])
        in_batch.pop("seconds"), alone.pop("seconds")
        assert in_batch == alone
    assert hostile_batch.results["alice"]["score"] == 39
    assert set(hostile_batch.results) >= {*GOOD, *RUNTIME_CASES}


def _copy_case(name: str, tmp_path: Path) -> Path:
    return _place(ADVERSARIAL / f"{name}.ipynb", tmp_path, name)


def _by_number(result: SubmissionResult) -> dict[int, ExerciseResult]:
    return {exercise.number: exercise for exercise in result.exercises}


def _check_result(exercise: ExerciseResult, check_id: str) -> CheckResult:
    return next(check for check in exercise.checks if check.id == check_id)


def test_forged_grader_files_are_not_followed(spec: Spec, tmp_path: Path) -> None:
    path = _copy_case("forged_results", tmp_path)
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    with (decoy / "mnist_cnn.keras").open("wb") as model:
        model.truncate(300 * 1024**2)
    reference = REPO / "answers" / "ch14_solutions.ipynb"
    (path.parent / "targets.json").write_text(json.dumps({"notebook": str(reference), "folder": str(decoy)}))
    result = grade_notebook(path, spec, GradeOptions(exercises=(2, 3, 9), limits=LIMITS))
    exercises = _by_number(result)
    assert exercises[2].score == 0
    assert exercises[3].score == 1
    assert "refused" not in exercises[9].checks[0].message
    assert exercises[9].metrics["accuracy"] is None
    (note,) = result.notes
    assert "replaced the grader's work folder" in note and "the executed notebook was not read: it is a link" in note


def test_a_shared_folder_lends_no_files_to_its_notebooks(spec: Spec, tmp_path: Path) -> None:
    """In a flat batch folder, one student's files are not copied beside another student's notebook."""
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "alice_notes.txt").write_text("903400", encoding="utf-8")
    shutil.copy(ADVERSARIAL / "honest.ipynb", folder / "alice.ipynb")
    nbformat.write(new_notebook(cells=[new_markdown_cell("## 2. Arithmetic"), new_code_cell(
        "import os\nprint('total parameters:', open('alice_notes.txt').read() if os.path.exists('alice_notes.txt') "
        "else 0)")]), folder / "mallory.ipynb")
    result = grade_notebook(folder / "mallory.ipynb", spec, GradeOptions(exercises=(2,), limits=LIMITS))
    total = _check_result(result.exercises[0], "total-params")
    assert total.score == 0 and "903" not in total.found


@pytest.mark.slow
def test_fake_printed_accuracy_scores_the_measured_one(tmp_path: Path) -> None:
    """Through the command, so the model is measured with the answer keys and the checkout hidden."""
    path = _copy_case("fake_accuracy", tmp_path / "class")
    spec_path = _spec_file(tmp_path / "spec", TF_LIMITS)
    done, _ = grader_cli("grade", str(path), "--spec", str(spec_path), "-e", "9", "--device", "cpu", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    ninth = _exercise(_entries(tmp_path / "grades")["fake_accuracy"], 9)
    assert ninth["score"] == 0
    assert ninth["metrics"]["reported_accuracy"] == pytest.approx(0.999)
    assert ninth["metrics"]["accuracy"] is not None and ninth["metrics"]["accuracy"] < 0.5
    assert "the notebook reported 0.9990" in ninth["checks"][0]["message"]


@pytest.mark.slow
def test_shadowing_modules_change_nothing(spec: Spec, tmp_path: Path) -> None:
    folder = tmp_path / "shadowing"
    shutil.copytree(ADVERSARIAL / "shadowing", folder)
    shadowed = _by_number(grade_notebook(folder / "shadowing.ipynb", spec,
                                         GradeOptions(limits=TF_LIMITS, device="cpu")))
    plain = _by_number(grade_notebook(DATA / "seed_style.ipynb", spec,
                                      GradeOptions(limits=LIMITS, exercises=CONCEPTUAL)))
    assert {number: shadowed[number] for number in CONCEPTUAL} == plain
    ninth = shadowed[9]
    assert ninth.score == 0 and ninth.metrics["reported_accuracy"] == pytest.approx(0.999)
    assert ninth.metrics["accuracy"] is not None and ninth.metrics["accuracy"] < 0.5, ninth.checks[0].message


def _bad_inputs(folder: Path) -> dict[str, str]:
    """Write the bad input files; return each name with the words its problem line must contain."""
    folder.mkdir()
    (folder / "malformed.ipynb").write_text('{"cells": [', encoding="utf-8")
    (folder / "latin1.ipynb").write_bytes('{"cells": [], "note": "café"}'.encode("latin-1"))
    (folder / "empty_file.ipynb").write_bytes(b"")
    (folder / "not_a_notebook.ipynb").write_text('{"hello": "world"}', encoding="utf-8")
    return {"malformed": "not valid JSON", "latin1": "not UTF-8", "empty_file": "not valid JSON",
            "not_a_notebook": "not a Jupyter notebook"}


def _old_nbformat(path: Path) -> None:
    old = nbformat.v3.new_notebook(worksheets=[nbformat.v3.new_worksheet(cells=[
        nbformat.v3.new_text_cell("markdown", source="## 3. Out of memory\nUse a smaller batch size.")])])
    path.write_text(nbformat.writes(old, version=3), encoding="utf-8")


def _many_cells(path: Path, count: int = 10_000) -> None:
    """``count`` cells, one in ten of them code, answering exercise 2 in the last code cell."""
    cells = [new_markdown_cell("## 2. Arithmetic")]
    for index in range(count - 3):
        cells.append(new_code_cell(f"x{index} = {index}") if index % 10 == 0 else new_markdown_cell(f"step {index}"))
    cells += [new_code_cell("print('total parameters:', 2800 + 180200 + 720400)"),
              new_markdown_cell("## 3. Out of memory\nUse a smaller batch size.")]
    nbformat.write(new_notebook(cells=cells), path)


def test_bad_inputs_each_get_one_line_and_the_rest_is_graded(tmp_path: Path) -> None:
    spec_path = _spec_file(tmp_path / "spec", LIMITS)
    folder = tmp_path / "class"
    problems = _bad_inputs(folder)
    _old_nbformat(folder / "old_v3.ipynb")
    nbformat.write(new_notebook(), folder / "no_cells.ipynb")
    _many_cells(folder / "many_cells.ipynb")
    shutil.copy(ADVERSARIAL / "honest.ipynb", folder / "honest.ipynb")
    (tmp_path / "nothing_here").mkdir()
    started = time.monotonic()
    done, _ = grader_cli("grade", str(folder), str(tmp_path / "nothing_here"), str(tmp_path / "missing.ipynb"),
                         "--spec", str(spec_path), *EXERCISES, cwd=tmp_path)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    lines = (done.stdout + done.stderr).splitlines()
    results = _entries(tmp_path / "grades")
    for name, words in problems.items():
        assert results[name]["status"] == "failed" and words in results[name]["error"]
        assert any(f"{name}.ipynb" in line and words in line for line in lines), name
    assert any("nothing_here: no notebooks" in line for line in lines)
    assert any("missing.ipynb: no such file or folder" in line for line in lines)
    assert results["missing"]["status"] == "failed"
    assert _exercise(results["old_v3"], 3)["score"] == 1
    assert results["no_cells"]["status"] == "graded" and results["no_cells"]["score"] == 0
    many = results["many_cells"]
    assert _check(_exercise(many, 2), "total-params")["passed"] and _exercise(many, 3)["score"] == 1
    assert many["seconds"] < LIMITS.notebook_timeout and elapsed < 120
    assert results["honest"]["status"] == "graded" and results["honest"]["score"] > 0


def test_spec_with_errors_is_one_line_per_error_and_nothing_graded(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: x\ntitle: Broken\nexercises:\n  - number: one\n    id: a\n    title: A\n    prompt: P\n"
                      "    points: 1\n    checks: []\n", encoding="utf-8")
    done, _ = grader_cli("grade", str(ADVERSARIAL / "honest.ipynb"), "--spec", str(broken), cwd=tmp_path)
    assert done.returncode == 2
    assert f"{broken}:4: exercises[0].number: 'one' is not of type 'integer'" in done.stderr
    assert not (tmp_path / "grades").exists()


"""``grader grade --cluster``: real Dask schedulers and workers, real sandboxed kernels.

``local:2`` clusters are started by the grader itself; the other tests start a scheduler and workers as
``dask`` processes of their own, so that they can kill a worker, declare resources or lose the scheduler.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import nbformat
import psutil
import pytest
import yaml
from conftest import DATA, class_folder
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import grader
from grader.cluster import DaskEngine, worker_of
from grader.cluster.engine import run_on_worker
from grader.cluster.plugin import GraderPlugin, fill_mnist
from grader.cluster.task import VersionMismatch, pack_task
from grader.datasets import ensure_mnist
from grader.datasets.cache import mnist_dir
from grader.datasets.catalog import MNIST_FILES
from grader.grade import GradeOptions
from grader.model_exercise.device import kernel_environment
from grader.spec import Spec, bundled_spec_path

GRADER = [sys.executable, "-m", "grader", "grade"]
ADVERSARIAL = Path(__file__).resolve().parent / "adversarial"
WORKER_MARK = ", on Dask worker "


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600, env=env)


def _submissions(out: Path) -> list[dict]:
    return json.loads((out / "results.json").read_text())["submissions"]


def _grades(out: Path) -> list[tuple]:
    return [(Path(sub["path"]).name, sub["status"], sub["score"], sub["error"],
             [(ex["number"], ex["score"], ex["status"], ex["errors"],
               [(check["id"], check["score"], check["message"]) for check in ex["checks"]]) for ex in sub["exercises"]])
            for sub in _submissions(out)]


def _worker(submission: dict) -> str:
    """The worker recorded after the isolation tier: "NAME (ADDRESS)"."""
    tier, mark, worker = submission["isolation"].partition(WORKER_MARK)
    assert mark and tier in ("bubblewrap", "landlock", "rlimits"), submission["isolation"]
    return worker


def _slow_class(root: Path, size: int, seconds: float) -> Path:
    """``size`` notebooks whose exercise 1 takes ``seconds`` to run."""
    folder = root / "slow"
    folder.mkdir()
    for index in range(size):
        notebook = new_notebook(cells=[
            new_markdown_cell("## 1. CNNs\nWeight sharing and local receptive fields."),
            new_code_cell(f"import os, time\ntime.sleep({seconds})\n"
                          f"print('student {index}, GPUs:', os.environ.get('CUDA_VISIBLE_DEVICES'))"),
        ])
        nbformat.write(notebook, folder / f"s{index}.ipynb")
    return folder


@dataclass
class Dask:
    """A scheduler and workers run as ``dask`` processes; ``workers`` maps each worker's name to its process."""

    address: str
    scheduler: subprocess.Popen
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)

    def busy(self, name: str) -> bool:
        """Whether the worker has a sandbox running (it is grading)."""
        return bool(psutil.Process(self.workers[name].pid).children(recursive=True))


def _wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@contextmanager
def dask_cluster(tmp_path: Path, workers: dict[str, list[str]], env: dict[str, str] | None = None,
                 worker_env: dict[str, dict[str, str]] | None = None) -> Iterator[Dask]:
    """A scheduler and one single-threaded worker (no nanny) per entry of ``workers`` (name -> extra options)."""
    scheduler_file = Path(tempfile.mkdtemp(dir=tmp_path)) / "scheduler.json"
    base_env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0", **(env or {})}
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                  "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)],
                                 env=base_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cluster = Dask("", scheduler)
    try:
        _wait_for(scheduler_file.exists, 60, "the scheduler")
        cluster.address = json.loads(scheduler_file.read_text())["address"]
        for name, options in workers.items():
            cluster.workers[name] = subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", cluster.address, "--name", name,
                 "--nthreads", "1", "--no-nanny", "--no-dashboard", *options],
                env={**base_env, **(worker_env or {}).get(name, {})}, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
        from distributed import Client

        with Client(cluster.address, timeout=60) as client:
            client.wait_for_workers(len(workers), timeout=120)
        yield cluster
    finally:
        for process in [*cluster.workers.values(), scheduler]:
            process.kill()
            process.wait()


def test_local_cluster_grades_exactly_as_the_local_path(tmp_path: Path) -> None:
    folder = class_folder(tmp_path)
    shutil.copy(ADVERSARIAL / "os_exit.ipynb", folder / "os_exit.ipynb")
    quick = ["-e", "1", "-e", "2", "-e", "3"]
    local = _run([*GRADER, str(folder), *quick, "-j", "2", "--out", "local"], tmp_path)
    on_cluster = _run([*GRADER, str(folder), *quick, "--cluster", "local:2", "--out", "cluster"], tmp_path)
    assert local.returncode == on_cluster.returncode == 0, local.stderr + on_cluster.stderr
    assert _grades(tmp_path / "cluster") == _grades(tmp_path / "local")
    scores = {name: score for name, _, score, _, _ in _grades(tmp_path / "cluster")}
    assert scores["alice.ipynb"] > scores["bob.ipynb"] > scores["os_exit.ipynb"]
    assert "dead" in json.dumps(_submissions(tmp_path / "cluster")[2]["exercises"])
    assert {_worker(sub).split(" ")[0] for sub in _submissions(tmp_path / "cluster")} <= {"0", "1"}
    assert "cluster: 2 workers, isolation" in on_cluster.stdout and "[3/3]" in on_cluster.stdout
    again = _run([*GRADER, str(folder), *quick, "--cluster", "local:2", "--out", "cluster"], tmp_path)
    assert again.stdout.count("(unchanged, not regraded)") == 3
    assert _grades(tmp_path / "cluster") == _grades(tmp_path / "local")


@pytest.mark.parametrize("allowed_failures", [3, 0])
def test_a_killed_worker_loses_no_submission(tmp_path: Path, allowed_failures: int) -> None:
    """Killed mid-grading: the task runs again on the other worker, or (no retries allowed) fails with the
    reason while the rest of the batch is graded."""
    folder = _slow_class(tmp_path, 4, 4)
    env = {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": str(allowed_failures)}
    with dask_cluster(tmp_path, {"victim": [], "survivor": []}, env) as cluster:
        grading = subprocess.Popen([*GRADER, str(folder), "-e", "1", "--cluster", cluster.address, "--out", "out"],
                                   cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_for(lambda: cluster.busy("victim"), 120, "the victim to grade")
        time.sleep(1)
        cluster.workers["victim"].send_signal(signal.SIGKILL)
        _, stderr = grading.communicate(timeout=300)
    assert grading.returncode == 0, stderr
    results = _submissions(tmp_path / "out")
    assert sorted(Path(sub["path"]).name for sub in results) == [f"s{index}.ipynb" for index in range(4)]
    graded = [sub for sub in results if sub["status"] == "graded"]
    assert all(sub["exercises"][0]["errors"] == [] for sub in graded)
    if allowed_failures:
        assert len(graded) == 4
        assert any(_worker(sub).startswith("survivor") for sub in graded)
    else:
        failed = [sub for sub in results if sub["status"] == "failed"]  # those running or waiting on the victim
        assert failed and len(graded) + len(failed) == 4
        assert all("1 worker died while grading it" in sub["error"] and "allowed-failures" in sub["error"]
                   for sub in failed)


def _gpu_spec(tmp_path: Path) -> Path:
    """The bundled spec with training required on a GPU: without one, exercise 9 is an error at once."""
    document = yaml.safe_load(bundled_spec_path().read_text())
    (ninth,) = [exercise for exercise in document["exercises"] if exercise["number"] == 9]
    for check in ninth["checks"]:
        check["device"] = "gpu"
    path = tmp_path / "gpu.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def verified_mnist() -> Path:
    """A cache folder holding verified MNIST (kept between runs, as in test_datasets)."""
    import platformdirs

    root = os.environ.get("CNN_GRADER_TEST_CACHE") or platformdirs.user_cache_dir("cnn-grader-test")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CNN_GRADER_CACHE", root)
        ensure_mnist()
    return Path(root)


def _verified(cache: Path) -> bool:
    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    return all(digest(cache / "mnist" / item.name) == item.sha256 for item in MNIST_FILES)


def test_gpu_tasks_run_only_on_gpu_workers_and_workers_get_mnist(tmp_path: Path, verified_mnist: Path) -> None:
    folder = _slow_class(tmp_path, 4, 0)
    spec = _gpu_spec(tmp_path)
    caches = {"gpu": tmp_path / "gpu-cache", "cpu": tmp_path / "cpu-cache"}
    worker_env = {name: {"CNN_GRADER_CACHE": str(cache)} for name, cache in caches.items()}
    worker_env["gpu"]["CUDA_VISIBLE_DEVICES"] = "0"  # as dask cuda worker assigns each worker its GPU
    driver = {**os.environ, "CNN_GRADER_CACHE": str(verified_mnist)}
    with dask_cluster(tmp_path, {"gpu": ["--resources", "GPU=1"], "cpu": []}, worker_env=worker_env) as cluster:
        model = _run([*GRADER, str(folder), "--spec", str(spec), "-e", "1", "-e", "9", "--cluster", cluster.address,
                      "--out", "model"], tmp_path, driver)
        assert all(_verified(cache) for cache in caches.values())  # each worker filled its empty cache
        prose = _run([*GRADER, str(folder), "--spec", str(spec), "-e", "1", "--cluster", cluster.address,
                      "--out", "prose"], tmp_path, driver)
    assert model.returncode == prose.returncode == 0, model.stderr + prose.stderr
    placed = [_worker(sub) for sub in _submissions(tmp_path / "model")]
    assert len(placed) == 4 and all(worker.startswith("gpu ") for worker in placed)
    assert all("GPUs: 0" in sub["exercises"][0]["answer"] for sub in _submissions(tmp_path / "model"))
    ninth = [sub["exercises"][1] for sub in _submissions(tmp_path / "model")]
    assert all(exercise["status"] == "error" and "GPU required" in exercise["errors"][0] for exercise in ninth)
    assert {_worker(sub).split(" ")[0] for sub in _submissions(tmp_path / "prose")} <= {"gpu", "cpu"}


def test_mnist_from_the_driver_is_verified_before_use(tmp_path: Path, verified_mnist: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from grader.cluster.plugin import mnist_payload

    monkeypatch.setenv("CNN_GRADER_CACHE", str(verified_mnist))
    payload = dict(mnist_payload())
    monkeypatch.setenv("CNN_GRADER_CACHE", str(tmp_path / "worker"))
    labels = f"{MNIST_FILES[3].name}.gz"
    import gzip

    tampered = bytearray(gzip.decompress(payload[labels]))
    tampered[-1] ^= 1
    state = fill_mnist(tuple({**payload, labels: gzip.compress(bytes(tampered))}.items()))
    assert state.startswith("refused") and "SHA-256 mismatch" in state
    assert not (mnist_dir() / MNIST_FILES[3].name).exists()
    assert fill_mnist(tuple(payload.items())) == "verified, from the driver"
    assert _verified(tmp_path / "worker") and fill_mnist(()) == "present"


def test_losing_the_scheduler_keeps_results_and_a_rerun_resumes(tmp_path: Path) -> None:
    folder = _slow_class(tmp_path, 3, 3)
    command = [*GRADER, str(folder), "-e", "1", "--out", "out"]
    with dask_cluster(tmp_path, {"only": []}) as cluster:
        grading = subprocess.Popen([*command, "--cluster", cluster.address], cwd=tmp_path, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        results = tmp_path / "out" / "results.json"
        _wait_for(lambda: results.exists() and ".ipynb" in results.read_text(), 120, "a first result")
        cluster.scheduler.kill()
        at_loss = _submissions(tmp_path / "out")
        _, stderr = grading.communicate(timeout=120)
    assert grading.returncode == 3 and "lost the scheduler" in stderr
    kept = _submissions(tmp_path / "out")
    assert kept == at_loss and 1 <= len(kept) < 3 and all(sub["status"] == "graded" for sub in kept)
    with dask_cluster(tmp_path, {"only": []}) as again:
        rerun = _run([*command, "--cluster", again.address], tmp_path)
    assert rerun.returncode == 0 and rerun.stdout.count("(unchanged, not regraded)") == len(kept)
    assert [Path(sub["path"]).name for sub in _submissions(tmp_path / "out")] == ["s0.ipynb", "s1.ipynb", "s2.ipynb"]


def test_ctrl_c_cancels_the_rest_and_keeps_what_was_written(tmp_path: Path) -> None:
    folder = _slow_class(tmp_path, 1, 0)
    stuck = new_notebook(cells=[new_markdown_cell("## 1. Loop"), new_code_cell("while True:\n    pass")])
    for index in range(1, 4):
        nbformat.write(stuck, folder / f"s{index}.ipynb")
    grading = subprocess.Popen([*GRADER, str(folder), "-e", "1", "--cluster", "local:1", "--out", "out",
                                "--cell-timeout", "300"], cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    results = tmp_path / "out" / "results.json"
    _wait_for(lambda: results.exists() and "s0.ipynb" in results.read_text(), 120, "a first result")
    time.sleep(2)
    descendants = psutil.Process(grading.pid).children(recursive=True)
    grading.send_signal(signal.SIGINT)
    grading.communicate(timeout=60)
    assert grading.returncode != 0
    assert [Path(sub["path"]).name for sub in _submissions(tmp_path / "out")] == ["s0.ipynb"]
    time.sleep(1)
    assert not [child for child in descendants if child.is_running() and child.status() != psutil.STATUS_ZOMBIE]


def test_ctrl_c_stops_the_notebook_running_on_a_remote_worker(tmp_path: Path) -> None:
    """A worker outlives the driver: its running notebook is stopped at once, not left to its time limit, and the
    worker goes on serving."""
    folder = tmp_path / "stuck"
    folder.mkdir()
    stuck = new_notebook(cells=[new_markdown_cell("## 1. Loop"), new_code_cell("while True:\n    pass")])
    nbformat.write(stuck, folder / "s0.ipynb")
    with dask_cluster(tmp_path, {"only": []}) as cluster:
        worker = psutil.Process(cluster.workers["only"].pid)
        grading = subprocess.Popen([*GRADER, str(folder), "-e", "1", "--cluster", cluster.address, "--out", "out",
                                    "--cell-timeout", "300"], cwd=tmp_path, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        _wait_for(lambda: any("ipykernel" in " ".join(child.cmdline()) for child in _alive(worker)), 120,
                  "the notebook's kernel on the worker")
        grading.send_signal(signal.SIGINT)
        grading.communicate(timeout=60)
        _wait_for(lambda: not _alive(worker), 30, "the worker's sandboxes to stop")
        assert cluster.workers["only"].poll() is None, "the worker died with the batch"
        again = _run([*GRADER, str(class_folder(tmp_path)), "-e", "1", "--no-execute", "--cluster", cluster.address,
                      "--out", "again"], tmp_path)
        assert again.returncode == 0, again.stderr


def test_what_a_notebook_is_doing_on_a_worker_shows_on_the_driver(tmp_path: Path) -> None:
    folder = tmp_path / "slow"
    folder.mkdir()
    notebook = new_notebook(cells=[new_markdown_cell("## 1. CNNs"),
                                   new_code_cell("import time\nprint('epoch 3/9: still learning', flush=True)\n"
                                                 "time.sleep(9)")])
    nbformat.write(notebook, folder / "s0.ipynb")
    done = _run([*GRADER, str(folder), "-e", "1", "--cluster", "local:1", "--out", "out"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "s0.ipynb — exercise 1, cell 2, 0:0" in done.stdout and "— epoch 3/9: still learning" in done.stdout


def _alive(process: psutil.Process) -> list[psutil.Process]:
    """The processes under ``process`` still running."""
    found = []
    for child in process.children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def test_a_worker_s_gpu_assignment_reaches_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """``dask cuda worker`` gives each worker one GPU through CUDA_VISIBLE_DEVICES; its notebooks see only that."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    assert kernel_environment("auto", ()) == kernel_environment("gpu", ()) == {"CUDA_VISIBLE_DEVICES": "3"}
    assert kernel_environment("cpu", ()) == {"CUDA_VISIBLE_DEVICES": "-1"}
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert kernel_environment("auto", ()) == {}


@pytest.fixture(scope="module")
def one_worker() -> Iterator:
    """A client of a LocalCluster with one single-threaded worker process."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def test_notebooks_are_sent_a_window_at_a_time(tmp_path: Path, spec: Spec, one_worker) -> None:
    """A course's notebooks are not all on the scheduler at once: with a window of 2, at most 2 tasks are."""
    folder = class_folder(tmp_path)
    for index in range(3):
        shutil.copy(folder / "alice.ipynb", folder / f"carol{index}.ipynb")
    notebooks = sorted(folder.glob("*.ipynb"))
    engine = DaskEngine(one_worker, spec, GradeOptions(execute=False, exercises=(2,)), gpu_resource=False, in_flight=2)
    for notebook in notebooks:
        engine.submit(notebook, "stamp")
    in_flight, results = [], {}
    for notebook, result in engine.finished():
        in_flight.append(len(engine.pending))
        results[notebook] = result
    assert max(in_flight) == 2 and len(in_flight) == len(notebooks) == len(results)
    assert {Path(result.path) for result in results.values()} == set(notebooks)
    scores = {notebook.name: result.score for notebook, result in results.items()}
    assert scores["alice.ipynb"] == scores["carol0.ipynb"] > scores["bob.ipynb"]
    assert all(worker_of(result) for result in results.values())


def test_a_worker_with_another_grader_version_does_not_grade(tmp_path: Path, spec: Spec, one_worker) -> None:
    """Refused when the plugin starts (the command stops), and again by each task (for workers joining later)."""
    mismatch = f"runs grader {grader.__version__}, the driver 0.0.1"
    with pytest.raises(RuntimeError, match=mismatch):
        one_worker.register_plugin(GraderPlugin(version="0.0.1"), name="other-version")
    one_worker.unregister_worker_plugin("other-version")
    notebook = class_folder(tmp_path) / "alice.ipynb"
    task = replace(pack_task(notebook, GradeOptions(execute=False, exercises=(2,)), "stamp"), version="0.0.1")
    refused = one_worker.submit(run_on_worker, task, spec, "batch")
    assert isinstance(refused.exception(timeout=60), VersionMismatch) and mismatch in str(refused.exception())
    same = replace(task, version=grader.__version__)
    graded = one_worker.submit(run_on_worker, same, spec, "batch").result(timeout=60)
    assert graded.status == "graded" and graded.path == str(notebook) and graded.fingerprint == "stamp"


def test_cluster_usage_errors(tmp_path: Path) -> None:
    shutil.copy(DATA / "seed_style.ipynb", tmp_path / "one.ipynb")
    both = _run([*GRADER, "one.ipynb", "--cluster", "local:1", "-j", "2"], tmp_path)
    assert both.returncode == 2 and "--workers sets local grading" in both.stderr
    empty = _run([*GRADER, "one.ipynb", "--cluster", "local:0"], tmp_path)
    assert empty.returncode == 2 and "at least one worker" in empty.stderr


def test_without_cluster_nothing_of_dask_is_imported(tmp_path: Path) -> None:
    shutil.copy(DATA / "seed_style.ipynb", tmp_path / "one.ipynb")
    probe = ("import sys, runpy; sys.argv = ['grader', 'grade', 'one.ipynb', '--no-execute', '-e', '2']\n"
             "try:\n    runpy.run_module('grader', run_name='__main__')\nexcept SystemExit:\n    pass\n"
             "print('dask modules:', sorted(m for m in sys.modules if m.split('.')[0] in ('distributed', 'dask')))")
    run = _run([sys.executable, "-c", probe], tmp_path)
    assert (tmp_path / "grades" / "results.json").is_file() and "dask modules: []" in run.stdout

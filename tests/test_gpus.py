"""GPUs for the model exercise, with stand-in device nodes (character devices of NVIDIA's major, 195, made with
``mknod`` under a device root of their own; no driver answers them, so opening one that is reachable fails with
ENXIO, one that is hidden with ENOENT or EACCES). What a notebook's kernel sees is probed from inside each
isolation tier; the scheduling is recorded by the notebooks themselves, with timestamps.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from interpreters import landlock_in_child
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.batch import grade_batch
from grader.grade import GradeOptions
from grader.model_exercise import GpuSelectionError, GpuSlots, discover
from grader.model_exercise.device import kernel_environment
from grader.model_exercise.gpus import DEVICE_ROOT_ENV
from grader.sandbox import ISOLATION_ENV, Isolation, SandboxPolicy, run_sandboxed
from grader.sandbox.tiers import unavailable_reason
from grader.spec import Spec

NVIDIA_MAJOR = 195
NODES = {"nvidia0": 0, "nvidia1": 1, "nvidiactl": 255, "nvidia-modeset": 254, "nvidia-uvm": 253,
         "nvidia-caps/nvidia-cap1": 252}
SHARED = ("nvidiactl", "nvidia-modeset", "nvidia-uvm", "nvidia-caps/nvidia-cap1")
HIDDEN = {"ENOENT", "EACCES", "EPERM"}
OPEN_NODES = """\
import errno, json, os, sys, time
def open_nodes(root, names):
    seen = {}
    for name in names:
        try:
            os.close(os.open(os.path.join(root, name), os.O_RDWR))
            seen[name] = "opened"
        except OSError as error:
            seen[name] = errno.errorcode[error.errno]
    return {"nodes": seen, "cuda": os.environ.get("CUDA_VISIBLE_DEVICES")}
"""
PROBE = OPEN_NODES + "print(json.dumps(open_nodes(sys.argv[1], sys.argv[2:])))\n"


@pytest.fixture()
def device_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Stand-ins for two GPUs and the driver's shared nodes, in a folder every user can reach, as the device root;
    ``nvidia2`` is a plain file (not a GPU)."""
    root = Path(tempfile.mkdtemp(prefix="cnn-grader-devices-", dir="/var/tmp"))
    root.chmod(0o755)
    (root / "nvidia-caps").mkdir(mode=0o755)
    try:
        for name, minor in NODES.items():
            os.mknod(root / name, 0o666 | stat.S_IFCHR, os.makedev(NVIDIA_MAJOR, minor))
            (root / name).chmod(0o666)
    except PermissionError:
        shutil.rmtree(root)
        pytest.skip("making stand-in device nodes needs root (CAP_MKNOD)")
    (root / "nvidia2").write_text("not a device")
    monkeypatch.setenv(DEVICE_ROOT_ENV, str(root))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _reachable(seen: dict[str, str]) -> set[str]:
    return {name for name, outcome in seen.items() if outcome not in HIDDEN}


# --- finding and sharing out GPUs -------------------------------------------------------------------------------


def test_discovery_finds_the_gpus_and_the_shared_nodes(device_root: Path) -> None:
    inventory = discover()
    assert [(gpu.index, gpu.node) for gpu in inventory.gpus] == [(0, device_root / "nvidia0"),
                                                                  (1, device_root / "nvidia1")]
    assert {path.relative_to(device_root).as_posix() for path in inventory.shared} == set(SHARED)
    second = inventory.select("1")
    assert inventory.nodes(second) == (*inventory.shared, device_root / "nvidia1")
    assert inventory.nodes(()) == ()
    assert inventory.select("all") == inventory.gpus == inventory.select("1,0,1")[::-1]


def test_a_gpu_that_is_not_here_or_a_bad_list_is_refused(device_root: Path) -> None:
    with pytest.raises(GpuSelectionError, match=r"no GPU 2 on this machine \(GPUs found: 0, 1\)"):
        discover().select("0,2")
    with pytest.raises(GpuSelectionError, match="'all' or GPU numbers"):
        discover().select("first")


def test_cuda_visible_devices_limits_and_orders_the_gpus(device_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As ``dask cuda worker`` sets it: the worker's own GPU first."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,0")
    assert [gpu.index for gpu in discover().allowed()] == [1, 0]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert discover().allowed() == () and discover().select("all") == ()


def test_gpus_are_named_by_uuid_when_the_driver_tells(device_root: Path, tmp_path: Path) -> None:
    """A sandbox hiding the other GPUs makes CUDA number its one GPU 0; a UUID names it whatever the numbering."""
    info = tmp_path / "gpus" / "0000:41:00.0"
    info.mkdir(parents=True)
    (info / "information").write_text("Model: \t\t Stand-in GPU\nGPU UUID: \t GPU-5e1f-stand-in\nDevice Minor: \t 1\n")
    inventory = discover(info=tmp_path / "gpus")
    first, second = inventory.gpus
    assert (first.uuid, second.uuid) == ("", "GPU-5e1f-stand-in")
    assert kernel_environment("auto", (second,)) == {"CUDA_VISIBLE_DEVICES": "GPU-5e1f-stand-in"}
    assert kernel_environment("auto", (first,)) == {"CUDA_VISIBLE_DEVICES": "0"}
    assert kernel_environment("cpu", (first,)) == {"CUDA_VISIBLE_DEVICES": "-1"}


def test_slots_give_the_least_busy_gpu_and_never_more_than_k(device_root: Path) -> None:
    first, second = discover().gpus
    slots = GpuSlots((first, second), per_gpu=2)
    taken = [slots.take() for _ in range(4)]
    assert taken == [first, second, first, second] and slots.take() is None
    slots.give_back(second)
    assert slots.take() is second and slots.take() is None


# --- what a sandbox sees, tier by tier --------------------------------------------------------------------------


def _probe(root: Path, tier: Isolation, workdir: Path) -> dict:
    inventory = discover()
    assigned = inventory.select("1")
    policy = SandboxPolicy(workdir=workdir, devices=inventory.nodes(assigned), env=kernel_environment("gpu", assigned))
    result = run_sandboxed([sys.executable, "-c", PROBE, str(root), *NODES], policy, timeout=60)
    assert result.isolation == tier and result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("tier", [Isolation.BUBBLEWRAP, Isolation.LANDLOCK])
def test_a_contained_sandbox_opens_only_its_gpu_s_nodes(tier: Isolation, device_root: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    reason = unavailable_reason(tier)
    if reason:
        pytest.skip(reason)
    monkeypatch.setenv(ISOLATION_ENV, tier.value)
    workdir = device_root.parent / f"{device_root.name}-work"
    workdir.mkdir(mode=0o755)
    try:
        seen = _probe(device_root, tier, workdir)
    finally:
        shutil.rmtree(workdir)
    assert _reachable(seen["nodes"]) == {"nvidia1", *SHARED}, seen
    assert seen["nodes"]["nvidia0"] == ("ENOENT" if tier is Isolation.BUBBLEWRAP else "EACCES")
    assert seen["cuda"] == "1"


def test_landlock_device_nodes_with_a_reachable_python() -> None:
    """As root with a Python other users cannot read, the Landlock case runs in a child pytest under one they can."""
    done = landlock_in_child(Path(__file__), "contained and LANDLOCK")
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout[-3000:]


def test_process_limits_alone_still_name_the_assigned_gpu(device_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rlimits tier contains nothing (its warning says so), but CUDA is still pointed at the notebook's GPU."""
    monkeypatch.setenv(ISOLATION_ENV, "none")
    workdir = device_root.parent / f"{device_root.name}-work"
    workdir.mkdir(mode=0o755)
    try:
        seen = _probe(device_root, Isolation.RLIMITS, workdir)
    finally:
        shutil.rmtree(workdir)
    assert seen["cuda"] == "1"


# --- grading a class on two stand-in GPUs -----------------------------------------------------------------------


def _training_notebook(root: Path, seconds: float) -> nbformat.NotebookNode:
    """Exercise 9 records what its kernel sees and when it ran (as training would, it holds its GPU meanwhile)."""
    record = OPEN_NODES + (f"start = time.time()\nseen = open_nodes({str(root)!r}, {list(NODES)!r})\n"
                           f"time.sleep({seconds})\nprint(json.dumps({{**seen, 'start': start, 'end': time.time()}}))")
    return new_notebook(cells=[
        new_markdown_cell("## 1. CNNs\nWeight sharing and local receptive fields."),
        new_markdown_cell("## 9. Your own CNN on MNIST"),
        new_code_cell(record),
    ])


def _plain_notebook() -> nbformat.NotebookNode:
    """A notebook that never attempted exercise 9: it needs no GPU."""
    return new_notebook(cells=[
        new_markdown_cell("## 1. CNNs\nWeight sharing and local receptive fields."),
        new_code_cell("import json, time\nstart = time.time()\ntime.sleep(1)\n"
                      "print(json.dumps({'start': start, 'end': time.time()}))"),
    ])


def _record(result, number: int) -> dict:
    (exercise,) = [item for item in result.exercises if item.number == number]
    (line,) = [line for line in exercise.answer.splitlines() if line.startswith("{")]
    return json.loads(line)


@pytest.mark.slow
def test_each_training_notebook_gets_one_gpu_of_its_own_and_the_others_do_not_wait(
    device_root: Path, tmp_path: Path, spec: Spec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two stand-in GPUs, one notebook per GPU, four workers: four training notebooks run two at a time, each
    seeing only its GPU's nodes with CUDA_VISIBLE_DEVICES to match, while two that do not train start at once."""
    monkeypatch.setattr("grader.model_exercise.device.gpu_count", lambda: 2)  # TensorFlow would use the stand-ins
    folder = tmp_path / "class"
    folder.mkdir()
    notebooks = []
    for name, notebook in [*((f"train{index}", _training_notebook(device_root, 3)) for index in range(4)),
                           *((f"plain{index}", _plain_notebook()) for index in range(2))]:
        (folder / name).mkdir()
        notebooks.append(folder / name / f"{name}.ipynb")
        nbformat.write(notebook, notebooks[-1])
    options = GradeOptions(exercises=(1, 9), gpus=discover().select("all"))
    results = grade_batch(notebooks, spec, options, tmp_path / "out", workers=4, per_gpu=1)

    training = [_record(result, 9) for result in results[:4]]
    for result, record in zip(results[:4], training, strict=True):
        gpu = record["cuda"]
        assert gpu in ("0", "1")
        assert _reachable(record["nodes"]) == {f"nvidia{gpu}", *SHARED}, record
        assert result.exercises[-1].metrics["given_gpu"] == gpu  # the results say which GPU it was given
    for gpu in ("0", "1"):
        runs = sorted((record["start"], record["end"]) for record in training if record["cuda"] == gpu)
        assert len(runs) == 2 and runs[0][1] <= runs[1][0], f"two notebooks on GPU {gpu} at once: {runs}"
    first_done = min(record["end"] for record in training)
    assert all(_record(result, 1)["start"] < first_done for result in results[4:]), "plain notebooks waited"


@pytest.mark.slow
def test_training_on_the_cpu_with_a_gpu_present_is_an_error(device_root: Path, write_notebook, spec: Spec,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel reports the device that really trained: a stand-in GPU cannot train, so the model is trained on
    the CPU, and the spec's GPU requirement makes the exercise an error, with that reason."""
    from test_mnist_exercise import BUILD_TINY, TRAIN_TINY, _exercise9

    monkeypatch.setattr("grader.model_exercise.device.gpu_count", lambda: 1)
    path = write_notebook(_exercise9(TRAIN_TINY.format(build=BUILD_TINY)))
    (result,) = grade_batch([path], spec, GradeOptions(exercises=(9,)), path.parent / "out")
    (ninth,) = result.exercises
    assert ninth.status == "error" and ninth.score == 0
    assert ninth.metrics["device"] == "CPU" and ninth.metrics["accuracy"] > 0.5
    assert "trained on CPU, but the spec requires a GPU" in ninth.errors[-1]


def test_the_command_line_refuses_gpus_it_cannot_give(device_root: Path, tmp_path: Path) -> None:
    from test_cli import run

    notebook = str(Path(__file__).parent / "data" / "seed_style.ipynb")
    missing = run("grade", notebook, "-e", "1", "--gpus", "0,5", "--out", "out", cwd=tmp_path)
    assert missing.returncode == 2 and "no GPU 5 on this machine (GPUs found: 0, 1)" in missing.stderr
    on_cluster = run("grade", notebook, "--gpus", "0", "--cluster", "local:1", cwd=tmp_path)
    assert on_cluster.returncode == 2 and "cluster workers use their own" in on_cluster.stderr
    chosen = run("grade", notebook, "-e", "1", "--gpus", "1", "--per-gpu", "2", "--out", "out", cwd=tmp_path)
    assert chosen.returncode == 0, chosen.stderr

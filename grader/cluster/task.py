"""One submission as a self-contained task: packed on the driver, graded on a worker, returned as data.

A task carries the notebook, its folder's files (as the local path would copy them into the scratch
space) and the options; with the spec, sent once for the batch, a worker needs no file system shared
with the driver.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import grader
from grader.grade import GradeOptions, grade_notebook, no_progress, selected_exercises
from grader.scoring import SubmissionResult
from grader.spec import ModelAccuracyCheck, Spec
from grader.submissions import hidden_paths
from grader.workspace import create_workspace

WORKER_MARK = ", on Dask worker "
_FOLDER = "submission"


class VersionMismatch(RuntimeError):
    """The worker runs another version of the grader than the driver."""


@dataclass(frozen=True)
class GradingTask:
    """Everything a worker needs to grade one submission, besides the spec (sent once for the batch).

    ``files`` maps paths relative to the notebook's folder to their bytes (``None`` for a folder);
    ``path`` is the submission as the driver names it, which the result keeps.
    """

    path: str
    name: str
    files: tuple[tuple[str, bytes | None], ...]
    options: GradeOptions
    stamp: str
    version: str = grader.__version__


def needs_model(spec: Spec, options: GradeOptions) -> bool:
    """Whether a selected exercise is graded by a trained model (and so needs MNIST)."""
    return any(
        isinstance(check, ModelAccuracyCheck) for item in selected_exercises(spec, options) for check in item.checks
    )


def needs_gpu(spec: Spec, options: GradeOptions) -> bool:
    """Whether grading trains a model: an executed run of the model exercise, training not skipped and
    not confined to the CPU (``--device cpu``)."""
    if not options.execute or options.skip_training or options.device == "cpu":
        return False
    return needs_model(spec, options)


def pack_task(notebook: Path, options: GradeOptions, stamp: str) -> GradingTask:
    """The task for ``notebook``: its folder's files are those the local path copies into its workspace."""
    workspace = create_workspace(notebook)
    try:
        files = tuple(
            (path.relative_to(workspace.work).as_posix(), path.read_bytes() if path.is_file() else None)
            for path in sorted(workspace.work.rglob("*"))
        )
    finally:
        workspace.remove()
    return GradingTask(str(notebook), notebook.name, files, replace(options, progress=no_progress), stamp)


def _unpack(task: GradingTask, root: Path) -> Path:
    folder = root / _FOLDER
    folder.mkdir()
    for relative, data in task.files:
        target = folder / relative
        if data is None:
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return folder / task.name


def grade_task(task: GradingTask, spec: Spec, worker: str = "") -> SubmissionResult:
    """Grade the task in a scratch folder of this machine; the result names the driver's path, and ``worker``
    after its isolation tier (instructors see it in results.json; student outputs do not show it).

    Besides what the driver hides, notebooks cannot see this machine's spec folders, answers and grader
    checkout, nor the scratch folder holding the task.
    """
    if task.version != grader.__version__:
        raise VersionMismatch(f"this worker runs grader {grader.__version__}, the driver {task.version}")
    root = Path(tempfile.mkdtemp(prefix="cnn-grader-task-"))
    try:
        notebook = _unpack(task, root)
        hidden = hidden_paths(spec, root, task.options.hidden)
        result = grade_notebook(notebook, spec, replace(task.options, hidden=hidden))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    isolation = f"{result.isolation}{WORKER_MARK}{worker}" if worker else result.isolation
    return replace(
        result,
        path=task.path,
        error=result.error.replace(str(notebook), task.path),
        isolation=isolation,
        fingerprint=task.stamp,
    )


def worker_of(result: SubmissionResult) -> str:
    """The worker named in a result's ``isolation`` ("" when it was graded locally)."""
    return result.isolation.partition(WORKER_MARK)[2]

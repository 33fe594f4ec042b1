"""Grading a batch on Dask: one task per submission, results handed back as they finish.

A task whose worker dies is run again elsewhere by Dask; one that killed ``allowed-failures`` + 1
workers comes back as a ``failed`` result saying so. Losing the scheduler raises ``ClusterLost``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

from distributed import Client, Future, KilledWorker, as_completed, get_worker

from grader.cluster.task import GradingTask, grade_task, needs_gpu, pack_task, selected_exercises
from grader.grade import GradeOptions
from grader.scoring import SubmissionResult, failed_submission
from grader.spec import Spec

GPU = {"GPU": 1}


class ClusterLost(RuntimeError):
    """The driver lost its connection to the scheduler; the tasks still running were lost with it."""


def run_on_worker(task: GradingTask) -> SubmissionResult:
    """The Dask task: grade on this worker and name it in the result."""
    worker = get_worker()
    return grade_task(task, f"{worker.name} ({worker.address})")


def _reason(error: BaseException) -> str:
    if isinstance(error, KilledWorker):
        deaths = error.allowed_failures + 1
        return (f"{deaths} worker{'s' if deaths != 1 else ''} died while grading it, {error.last_worker.address} "
                "last (Dask's distributed.scheduler.allowed-failures); not graded")
    return f"grading on the cluster failed: {type(error).__name__}: {error}"


class DaskEngine:
    """Submits each notebook as a task; GPU-needing ones ask for the ``GPU`` resource when ``gpu_resource``."""

    def __init__(self, client: Client, spec: Spec, options: GradeOptions, *, gpu_resource: bool) -> None:
        self.client = client
        self.spec = spec
        self.options = options
        self.resources = GPU if gpu_resource and needs_gpu(spec, options) else None
        self.max_score = sum(item.points for item in selected_exercises(spec, options))
        self.pending: dict[Future, Path] = {}
        self.token = uuid.uuid4().hex[:8]

    def submit(self, notebook: Path, stamp: str) -> None:
        task = pack_task(notebook, self.spec, self.options, stamp)
        key = f"grade-{hashlib.sha256(f'{self.token}{notebook}{stamp}'.encode()).hexdigest()[:20]}"
        self.pending[self.client.submit(run_on_worker, task, key=key, resources=self.resources)] = notebook

    def finished(self) -> Iterator[tuple[Path, SubmissionResult]]:
        for future in as_completed(list(self.pending)):
            notebook = self.pending.pop(future)
            yield notebook, self._outcome(future, notebook)

    def _outcome(self, future: Future, notebook: Path) -> SubmissionResult:
        if future.status == "finished":
            return future.result()
        if future.status == "cancelled":
            raise ClusterLost(f"lost the scheduler at {self.client.scheduler.address} while grading {notebook}")
        return failed_submission(str(notebook), self.max_score, _reason(future.exception()))

    def cancel(self) -> None:
        """Cancel the tasks not finished yet (those running finish on their worker, unrecorded)."""
        if self.pending and self.client.status == "running":
            self.client.cancel(list(self.pending), force=True)
        self.pending.clear()

    def close(self) -> None:
        self.cancel()

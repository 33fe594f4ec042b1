"""Grading a batch on Dask: one task per submission, results handed back as they finish.

The spec goes to the cluster once, as a task of its own that every grading task depends on (kept on a
worker, computed again if that worker dies). Submissions are packed and sent a window at a time, so
neither the driver nor the scheduler holds a whole course's notebooks at once. A task whose worker dies
is run again elsewhere by Dask; one that killed ``allowed-failures`` + 1 workers comes back as a
``failed`` result saying so. Losing the scheduler raises ``ClusterLost``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path

from distributed import Client, Future, KilledWorker, Worker, as_completed, get_worker

from grader.activity import Activity, activity_from
from grader.cluster.task import GradingTask, grade_task, needs_gpu, pack_task
from grader.grade import GradeOptions, selected_exercises
from grader.sandbox import owned_by, stop_all
from grader.scoring import SubmissionResult, failed_submission
from grader.spec import Spec

GPU = {"GPU": 1}
MIN_IN_FLIGHT = 64


class ClusterLost(RuntimeError):
    """The driver lost its connection to the scheduler; the tasks still running were lost with it."""


def the_spec(spec: Spec) -> Spec:
    """The batch's spec as a task: its result is what the grading tasks receive."""
    return spec


def run_on_worker(task: GradingTask, spec: Spec, batch: str) -> SubmissionResult:
    """The Dask task: grade on this worker, as part of ``batch`` (its notebooks' activity published under the
    batch's topic), and name the worker in the result."""
    worker = get_worker()
    publish = partial(_publish_activity, worker, activity_topic(batch), task.path)
    with owned_by(batch):
        return grade_task(
            replace(task, options=replace(task.options, activity=publish)), spec, f"{worker.name} ({worker.address})"
        )


def activity_topic(batch: str) -> str:
    return f"grader-activity-{batch}"


def _publish_activity(worker: Worker, topic: str, path: str, activity: Activity) -> None:
    worker.log_event(topic, {"path": path, **asdict(activity)})


def stop_batch(batch: str) -> None:
    """On a worker: kill the sandboxes ``batch``'s tasks are running there (a cancelled task's thread cannot be
    stopped otherwise); other batches' are left alone."""
    stop_all(batch)


def _reason(error: BaseException) -> str:
    if isinstance(error, KilledWorker):
        deaths = error.allowed_failures + 1
        return (
            f"{deaths} worker{'s' if deaths != 1 else ''} died while grading it, {error.last_worker.address} "
            "last (Dask's distributed.scheduler.allowed-failures); not graded"
        )
    return f"grading on the cluster failed: {type(error).__name__}: {error}"


def _received_activity(report: Callable[[Path, Activity], None], event: tuple[float, object]) -> None:
    """A notebook's activity published by a worker, handed to ``report``."""
    _, message = event
    activity = activity_from(message)
    if activity is not None and isinstance(message, dict) and isinstance(message.get("path"), str):
        report(Path(message["path"]), activity)


class DaskEngine:
    """Submits each notebook as a task; GPU-needing ones ask for the ``GPU`` resource when ``gpu_resource``.

    At most ``in_flight`` tasks are on the cluster at once (default: twice its threads, at least
    ``MIN_IN_FLIGHT``); the rest wait on the driver, unpacked.
    """

    def __init__(
        self,
        client: Client,
        spec: Spec,
        options: GradeOptions,
        *,
        gpu_resource: bool,
        in_flight: int | None = None,
        activity: Callable[[Path, Activity], None] | None = None,
    ) -> None:
        self.client = client
        self.options = options
        self.resources = GPU if gpu_resource and needs_gpu(spec, options) else None
        self.max_score = sum(item.points for item in selected_exercises(spec, options))
        self.in_flight = in_flight
        self.token = uuid.uuid4().hex[:8]
        self.spec = client.submit(the_spec, spec, key=f"grader-spec-{self.token}")
        if activity is not None:
            client.subscribe_topic(activity_topic(self.token), partial(_received_activity, activity))
        self.waiting: deque[tuple[Path, str]] = deque()
        self.pending: dict[Future, Path] = {}

    def submit(self, notebook: Path, stamp: str) -> None:
        self.waiting.append((notebook, stamp))

    def _window(self) -> int:
        if self.in_flight is not None:
            return self.in_flight
        threads = sum(info["nthreads"] for info in self.client.scheduler_info(n_workers=-1)["workers"].values())
        return max(MIN_IN_FLIGHT, 2 * threads)

    def _send(self) -> list[Future]:
        """Pack and send waiting notebooks while the window has room."""
        sent: list[Future] = []
        room = self._window() - len(self.pending)
        while self.waiting and len(sent) < room:
            notebook, stamp = self.waiting.popleft()
            digest = hashlib.sha256(f"{self.token}{notebook}{stamp}".encode()).hexdigest()[:20]
            future = self.client.submit(
                run_on_worker,
                pack_task(notebook, self.options, stamp),
                self.spec,
                self.token,
                key=f"grade-{digest}",
                resources=self.resources,
            )
            self.pending[future] = notebook
            sent.append(future)
        return sent

    def finished(self) -> Iterator[tuple[Path, SubmissionResult]]:
        arrivals = as_completed(self._send())
        for future in arrivals:
            notebook = self.pending.pop(future)
            result = self._outcome(future, notebook)
            arrivals.update(self._send())
            yield notebook, result

    def _outcome(self, future: Future, notebook: Path) -> SubmissionResult:
        if future.status == "finished":
            return future.result()
        if future.status == "cancelled":
            raise ClusterLost(f"lost the scheduler at {self.client.scheduler.address} while grading {notebook}")
        return failed_submission(str(notebook), self.max_score, _reason(future.exception()))

    def cancel(self) -> None:
        """Drop the notebooks not sent, cancel the tasks not finished and stop the notebooks running on the
        workers (their tasks end at once, unrecorded)."""
        self.waiting.clear()
        if self.pending and self.client.status == "running":
            self.client.cancel(list(self.pending), force=True)
            self.client.run(stop_batch, self.token, on_error="ignore")
        self.pending.clear()

    def close(self) -> None:
        self.cancel()
        if self.client.status == "running":
            self.client.unsubscribe_topic(activity_topic(self.token))

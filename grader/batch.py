"""Grade many notebooks: in parallel, with progress, writing results as each one finishes, skipping
those whose notebook, folder and spec are unchanged since the last run, and merging a run of some
exercises (``-e``) into the submission's earlier result."""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import nullcontext
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Protocol

from grader import store
from grader.activity import Activity
from grader.grade import GradeOptions, grade_notebook, trains_on_gpu
from grader.manual import as_graded
from grader.model_exercise import Gpu, GpuSlots, discover
from grader.sandbox import isolation_available, stop_all
from grader.scoring import SubmissionResult, SubmissionStatus, score_submission
from grader.spec import Spec

_FINGERPRINT_MAX_FILE = 64 * 1024**2


@dataclass(frozen=True)
class BatchEvents:
    """Callbacks for progress reporting; each gets the notebook concerned."""

    started: Callable[[Path], None] = lambda path: None
    finished: Callable[[Path, SubmissionResult, bool], None] = lambda path, result, reused: None
    activity: Callable[[Path, Activity], None] = lambda path, activity: None


def fingerprint(notebook: Path, spec: Spec, options: GradeOptions) -> str:
    """A digest of everything a grade depends on: the notebook, its folder's files, the spec, the options and the
    isolation tier it runs in."""
    digest = hashlib.sha256()
    digest.update(spec.path.read_bytes())
    tier = isolation_available().value if options.execute else None  # a stronger sandbox is worth a regrade
    settings = (options.execute, options.device, options.exercises, options.skip_training, options.limits, tier)
    digest.update(repr(settings).encode())
    folder = notebook.parent
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.is_symlink() or (path.suffix == ".ipynb" and path != notebook):
            continue
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes() if path.stat().st_size <= _FINGERPRINT_MAX_FILE else b"large")
    return digest.hexdigest()


def merge_exercises(earlier: SubmissionResult | None, graded: SubmissionResult, spec: Spec) -> SubmissionResult:
    """``graded`` (a run of some exercises) with the earlier result's other exercises kept, in spec order.

    A submission that failed in either run is not merged: the new result stands.
    """
    if earlier is None or SubmissionStatus.FAILED in (earlier.status, graded.status):
        return graded
    by_number = {exercise.number: exercise for exercise in (*earlier.exercises, *graded.exercises)}
    exercises = [by_number[item.number] for item in spec.exercises if item.number in by_number]
    merged = score_submission(graded.path, exercises, graded.isolation, graded.seconds, graded.notes)
    return replace(merged, fingerprint=graded.fingerprint)


def _grade_one(notebook: Path, spec: Spec, options: GradeOptions, stamp: str) -> SubmissionResult:
    return replace(grade_notebook(notebook, spec, options), fingerprint=stamp)


class Engine(Protocol):
    """Where a batch is graded: each notebook is submitted with its fingerprint, and ``finished`` yields
    ``(notebook, result)`` as each is done (the result carrying the fingerprint); ``cancel`` drops the rest."""

    def submit(self, notebook: Path, stamp: str) -> None: ...

    def finished(self) -> Iterator[tuple[Path, SubmissionResult]]: ...

    def cancel(self) -> None: ...


class LocalEngine:
    """Threads of this process, each grading one notebook at a time in a sandbox of its own.

    A notebook that trains on a GPU starts only when a GPU (of ``options.gpus``, else those this process may use)
    has fewer than ``per_gpu`` notebooks, and is given that GPU alone; the others start at once, so they never
    wait behind it.
    """

    def __init__(
        self, spec: Spec, options: GradeOptions, workers: int, per_gpu: int = 1, events: BatchEvents = BatchEvents()
    ) -> None:
        self.spec = spec
        self.options = options
        self.events = events
        self.slots = GpuSlots(discover().allowed() if options.gpus is None else options.gpus, per_gpu)
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="grade")
        self.pending: dict[Future[SubmissionResult], tuple[Path, Gpu | None]] = {}
        self.waiting: deque[tuple[Path, str]] = deque()

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.pool.shutdown()

    def submit(self, notebook: Path, stamp: str) -> None:
        if self.slots and trains_on_gpu(notebook, self.spec, self.options, self.slots.gpus):
            self.waiting.append((notebook, stamp))
            self._start_waiting()
        else:
            self._start(notebook, stamp, None)

    def _start(self, notebook: Path, stamp: str, gpu: Gpu | None) -> None:
        options = self.options if gpu is None else replace(self.options, gpus=(gpu,))
        options = replace(options, activity=partial(self.events.activity, notebook))
        self.pending[self.pool.submit(_grade_one, notebook, self.spec, options, stamp)] = (notebook, gpu)

    def _start_waiting(self) -> None:
        while self.waiting:
            gpu = self.slots.take()
            if gpu is None:
                return
            notebook, stamp = self.waiting.popleft()
            self._start(notebook, stamp, gpu)

    def finished(self) -> Iterator[tuple[Path, SubmissionResult]]:
        while self.pending:
            done, _ = wait(self.pending, return_when=FIRST_COMPLETED)
            for future in done:
                notebook, gpu = self.pending.pop(future)
                if gpu is not None:
                    self.slots.give_back(gpu)
                    self._start_waiting()
                yield notebook, future.result()

    def cancel(self) -> None:
        """Drop the notebooks not started and kill the sandboxes running (their runs end as timed out)."""
        self.waiting.clear()
        for future in self.pending:
            future.cancel()
        stop_all()


def grade_batch(
    notebooks: Sequence[Path],
    spec: Spec,
    options: GradeOptions,
    out: Path,
    *,
    workers: int = 1,
    per_gpu: int = 1,
    force: bool = False,
    extra: Sequence[SubmissionResult] = (),
    events: BatchEvents = BatchEvents(),
    engine: Engine | None = None,
) -> list[SubmissionResult]:
    """Grade ``notebooks`` with ``workers`` at once, or on ``engine`` (e.g. a cluster's); results keep the input
    order whatever finishes first. Here, each notebook that trains on a GPU is given one, at most ``per_gpu`` to
    a GPU at once.

    ``extra`` (e.g. submissions that could not be found) is written with the rest. results.json and
    grades.csv are rewritten after every submission, so an interrupted run keeps what it graded. With
    ``options.exercises``, those exercises replace theirs in a submission's earlier result in ``out``
    and its other exercises are kept (even with ``force``). Manual grades are not kept: apply overrides after.
    """
    previous = {result.path: as_graded(result) for result in store.load_for(out, spec)}
    done: dict[Path, SubmissionResult] = {}

    def record(path: Path, result: SubmissionResult, reused: bool) -> None:
        done[path] = result
        ordered = [*extra, *(done[item] for item in notebooks if item in done)]
        store.save(ordered, spec, out)
        events.finished(path, result, reused)

    with nullcontext(engine) if engine is not None else LocalEngine(spec, options, workers, per_gpu, events) as running:
        try:
            for notebook in notebooks:
                stamp = fingerprint(notebook, spec, options)
                earlier = previous.get(str(notebook))
                if earlier is not None and earlier.fingerprint == stamp and not force:
                    record(notebook, earlier, True)
                    continue
                events.started(notebook)
                running.submit(notebook, stamp)
            for notebook, graded in running.finished():
                earlier = previous.get(str(notebook))
                record(notebook, merge_exercises(earlier, graded, spec) if options.exercises else graded, False)
        except BaseException:
            running.cancel()
            raise
    return [*extra, *(done[item] for item in notebooks)]

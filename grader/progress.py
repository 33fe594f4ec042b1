"""Progress of a grading batch: a live bar in a terminal, plain lines otherwise."""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from grader.batch import BatchEvents
from grader.scoring import SubmissionResult


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


class BatchProgress:
    """Shows submissions done / total, those being graded, elapsed and remaining time."""

    def __init__(self, console: Console, total: int):
        self.console = console
        self.total = total
        self.done = 0
        self.running: list[str] = []
        self.started_at = time.monotonic()
        self.bar: Progress | None = None
        self.task: TaskID | None = None
        self.events = BatchEvents(started=self._started, finished=self._finished)

    def __enter__(self) -> BatchProgress:
        if self.console.is_terminal:
            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self.console,
            )
            self.bar.start()
            self.task = self.bar.add_task("grading", total=self.total)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.bar is not None:
            self.bar.stop()

    def _describe(self) -> str:
        shown = ", ".join(self.running[:3]) + (" …" if len(self.running) > 3 else "")
        return f"grading {shown}" if shown else "grading"

    def _started(self, path: Path) -> None:
        self.running.append(path.name)
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, description=self._describe())

    def _finished(self, path: Path, result: SubmissionResult, reused: bool) -> None:
        self.done += 1
        if path.name in self.running:
            self.running.remove(path.name)
        score = f"{result.score:g}/{result.max_score:g}" if result.status == "graded" else "failed"
        note = " (unchanged, not regraded)" if reused else ""
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, advance=1, description=self._describe())
            self.bar.console.print(f"{path.name}: {score}{note}", highlight=False)
        else:
            elapsed = time.monotonic() - self.started_at
            self.console.print(
                f"[{self.done}/{self.total}] {path.name}: {score}{note} ({elapsed:.0f} s elapsed)", highlight=False
            )

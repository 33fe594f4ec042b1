"""Progress of a grading batch: a live bar in a terminal, plain lines otherwise.

What each running notebook is doing (its exercise and cell, for how long, its last printed line) shows under
the bar; without a terminal, as a line once a cell has run ``QUIET_S`` and then at most every ``PLAIN_EVERY_S``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from grader.activity import Activity
from grader.batch import BatchEvents
from grader.scoring import SubmissionResult, SubmissionStatus

QUIET_S = 5.0
PLAIN_EVERY_S = 30.0


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


@dataclass(frozen=True)
class Sighting:
    """A notebook's activity and when it was seen, by the progress display's clock."""

    activity: Activity
    at: float


def activity_line(name: str, activity: Activity, seconds: float) -> str:
    """``name — exercise 9, cell 14, 3:12 — last line``: the exercise left out when unknown, the line when empty."""
    where = f"cell {activity.cell}, {_duration(seconds)}"
    text = f"{name} — {where}" if activity.exercise is None else f"{name} — exercise {activity.exercise}, {where}"
    return f"{text} — {activity.line}" if activity.line else text


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{rest:02d}" if hours else f"{minutes}:{rest:02d}"


class ActivityBar(Progress):
    """A progress bar with ``lines()`` under it, one each, cut to the terminal's width."""

    def __init__(self, *columns: Any, lines: Callable[[], list[str]], **options: Any):
        self.lines = lines  # before Progress's set-up, which renders once
        super().__init__(*columns, **options)

    def get_renderables(self) -> Iterable[RenderableType]:
        yield from super().get_renderables()
        yield from (Text(line, no_wrap=True, overflow="ellipsis") for line in self.lines())


class BatchProgress:
    """Shows submissions done / total, those being graded, what those running do, elapsed and remaining time."""

    def __init__(self, console: Console, total: int, clock: Callable[[], float] = time.monotonic):
        self.console = console
        self.total = total
        self.clock = clock
        self.done = 0
        self.running: list[str] = []
        self.started_at = time.monotonic()
        self.bar: Progress | None = None
        self.task: TaskID | None = None
        self.seen: dict[Path, Sighting] = {}  # each running notebook's latest activity (terminal) or last line shown
        self.lock = threading.Lock()  # activity comes from the threads running notebooks
        self.events = BatchEvents(started=self._started, finished=self._finished, activity=self._activity)

    def __enter__(self) -> BatchProgress:
        if self.console.is_terminal:
            self.bar = ActivityBar(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                lines=self._activity_lines,
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

    def _activity(self, path: Path, activity: Activity) -> None:
        """On a terminal, keep it for the lines under the bar; otherwise print it when it is news."""
        now = self.clock()
        with self.lock:
            shown = self.bar is not None or self._news(self.seen.get(path), activity, now)
            if shown:
                self.seen[path] = Sighting(activity, now)
        if shown and self.bar is None:
            self.console.print(Text(activity_line(path.name, activity, activity.seconds)), soft_wrap=True)

    @staticmethod
    def _news(last: Sighting | None, activity: Activity, now: float) -> bool:
        """Whether a plain line is due: the cell has run ``QUIET_S`` and is another than the one last shown, or
        ``PLAIN_EVERY_S`` have passed since."""
        if activity.seconds < QUIET_S:
            return False
        if last is None or (last.activity.exercise, last.activity.cell) != (activity.exercise, activity.cell):
            return True
        return now - last.at >= PLAIN_EVERY_S

    def _activity_lines(self) -> list[str]:
        now = self.clock()
        with self.lock:
            return [
                activity_line(path.name, seen.activity, seen.activity.seconds + now - seen.at)
                for path, seen in self.seen.items()
            ]

    def _finished(self, path: Path, result: SubmissionResult, reused: bool) -> None:
        self.done += 1
        if path.name in self.running:
            self.running.remove(path.name)
        with self.lock:
            self.seen.pop(path, None)
        score = f"{result.score:g}/{result.max_score:g}" if result.status is SubmissionStatus.GRADED else "failed"
        note = " (unchanged, not regraded)" if reused else ""
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, advance=1, description=self._describe())
            self.bar.console.print(f"{path.name}: {score}{note}", highlight=False)
        else:
            elapsed = time.monotonic() - self.started_at
            self.console.print(
                f"[{self.done}/{self.total}] {path.name}: {score}{note} ({elapsed:.0f} s elapsed)", highlight=False
            )

"""What a running notebook is doing: the cell its runner is running, for how long, and the last line it printed.

The runner keeps this in an activity file inside the sandbox, so it is read as untrusted: only a plain file
(neither it nor its folder a link) of a bounded size, holding a valid record; the line shown is cleaned of
terminal escapes and control characters.
"""

from __future__ import annotations

import json
import os
import re
import stat
import threading
import time
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from grader.protocol import ACTIVITY_FILE, CellActivity

POLL_S = 1.0
MAX_ACTIVITY_BYTES = 16 * 1024
MAX_LINE_CHARS = 120
_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_LINE_BREAK = re.compile(r"[\r\n]")


@dataclass(frozen=True)
class Activity:
    """A notebook's running cell: its exercise (None when outside any or not known), its number (from 1), how long
    it has run and the last line it printed."""

    exercise: int | None
    cell: int
    seconds: float
    line: str


def no_activity(_activity: Activity) -> None:
    """Activity sink for library use."""


def activity_from(value: object) -> Activity | None:
    """The activity a plain mapping describes (as it crosses a cluster), or None when it is not one."""
    if not isinstance(value, dict):
        return None
    exercise, cell, seconds, line = (value.get(name) for name in ("exercise", "cell", "seconds", "line"))
    if not (exercise is None or type(exercise) is int) or type(cell) is not int or not isinstance(line, str):
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return None
    return Activity(exercise, cell, float(seconds), last_line(line))


def last_line(output: str) -> str:
    """The last line of ``output`` that shows anything, as a terminal would leave it (a line rewritten after
    ``\\r`` counts as its last version), without escapes or control characters, cut to ``MAX_LINE_CHARS``."""
    for segment in reversed(_LINE_BREAK.split(_ESCAPE.sub("", output))):
        line = _printable(segment).strip()
        if line:
            return line if len(line) <= MAX_LINE_CHARS else line[: MAX_LINE_CHARS - 1] + "…"
    return ""


def _printable(text: str) -> str:
    """``text`` with tabs as spaces, less control, format, surrogate, private-use and unassigned characters."""
    return "".join(char for char in text.replace("\t", " ") if unicodedata.category(char)[0] != "C")


def in_exercise(activity: Activity, sections: Mapping[int, Sequence[int]]) -> Activity:
    """``activity`` with the exercise its cell belongs to, by ``sections`` (exercise → the notebook's cell indices)."""
    index = activity.cell - 1
    return replace(activity, exercise=next((number for number, cells in sections.items() if index in cells), None))


def read_activity(folder: Path) -> CellActivity | None:
    """The activity record in ``folder``, or None when there is none or it is not one: ``folder`` or the file a
    link, not a plain file, over ``MAX_ACTIVITY_BYTES``, not JSON, not a valid record."""
    try:
        directory = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            handle = os.open(ACTIVITY_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=directory)
        finally:
            os.close(directory)
        with os.fdopen(handle, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                return None
            data = file.read(MAX_ACTIVITY_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_ACTIVITY_BYTES:
        return None
    try:
        return CellActivity.from_untrusted(json.loads(data))
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested too deep
        return None


class ActivityWatch:
    """While a notebook runs: read the activity in ``folder`` every ``POLL_S`` and hand ``report`` the running
    cell, when it is one of the notebook's ``cells`` (the runner's indices count ``offset`` set-up cells first)."""

    def __init__(self, folder: Path, offset: int, cells: int, report: Callable[[Activity], None]):
        self.folder = folder
        self.offset = offset
        self.cells = cells
        self.report = report
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="activity-watch", daemon=True)

    def __enter__(self) -> ActivityWatch:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join()

    def current(self) -> Activity | None:
        """The notebook's cell running now, or None when none is (or the record cannot be used)."""
        record = read_activity(self.folder)
        if record is None or not 0 <= record.cell_index - self.offset < self.cells:
            return None
        seconds = max(0.0, time.time() - record.started)
        return Activity(None, record.cell_index - self.offset + 1, seconds, last_line(record.output))

    def _watch(self) -> None:
        while not self.stopped.wait(POLL_S):
            activity = self.current()
            if activity is not None:
                self.report(activity)

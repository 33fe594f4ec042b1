"""What crosses the sandbox boundary: the runner's request, written by the grader; each cell's outcome and the
running cell's activity, written inside the sandbox and so read back with ``from_untrusted``.

Imports nothing of the grader, so that the runner inside the sandbox can use it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Any

OUTCOME_KEY = "grader"  # the code cell's metadata entry holding its outcome
MAX_ERROR_CHARS = 2000
ACTIVITY_FILE = "activity.json"  # the running cell's activity, next to the executed notebook
MAX_ACTIVITY_OUTPUT = 1000  # characters kept of the end of a running cell's output


class CellStatus(str, Enum):
    """How a code cell's run ended."""

    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"
    DEAD = "dead"
    SKIPPED = "skipped"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class CellOutcome:
    """A code cell's outcome; ``truncated`` when its output was cut."""

    status: CellStatus
    error: str = ""
    truncated: bool = False

    @property
    def failed(self) -> bool:
        return self.status not in (CellStatus.OK, CellStatus.SKIPPED)

    def with_error(self, more: str) -> CellOutcome:
        return replace(self, error=(self.error + more)[:MAX_ERROR_CHARS])

    def record(self, cell: Any) -> None:
        """Store this outcome in ``cell``'s metadata."""
        cell.metadata[OUTCOME_KEY] = {
            "status": self.status.value,
            "error": self.error[:MAX_ERROR_CHARS],
            **({"truncated": True} if self.truncated else {}),
        }

    @classmethod
    def of(cls, cell: Any) -> CellOutcome | None:
        """The outcome stored in ``cell``'s metadata (checked as untrusted), or None."""
        metadata = cell.get("metadata", {}) if isinstance(cell, Mapping) else {}
        return cls.from_untrusted(metadata.get(OUTCOME_KEY) if isinstance(metadata, Mapping) else None)

    @classmethod
    def from_untrusted(cls, value: object) -> CellOutcome | None:
        """The outcome ``value`` describes, or None when it is not one: not a mapping, an unknown status, an
        error that is not text. The error is cut to ``MAX_ERROR_CHARS``; anything else in it is ignored."""
        if not isinstance(value, Mapping) or not isinstance(value.get("error"), str):
            return None
        try:
            status = CellStatus(value.get("status"))
        except ValueError:
            return None
        return cls(status, value["error"][:MAX_ERROR_CHARS], value.get("truncated") is True)


@dataclass(frozen=True)
class CellActivity:
    """The cell being run: its index, when it started (seconds since the epoch) and the end of its printed output
    (raw, at most ``MAX_ACTIVITY_OUTPUT`` characters)."""

    cell_index: int
    started: float
    output: str = ""

    def write(self, path: Path) -> None:
        """Replace the file at ``path`` with this record in one step, so that no reader sees half of it."""
        partial = path.with_name(f"{path.name}.partial")
        partial.write_text(json.dumps(asdict(self)), encoding="utf-8")
        os.replace(partial, path)

    @classmethod
    def from_untrusted(cls, value: object) -> CellActivity | None:
        """The activity ``value`` describes, or None when it is not one: not a mapping, a cell index that is not a
        whole number from 0, a start that is not a finite number, output that is not text. The output keeps its
        last ``MAX_ACTIVITY_OUTPUT`` characters; anything else in it is ignored."""
        if not isinstance(value, Mapping):
            return None
        index, started, output = value.get("cell_index"), value.get("started"), value.get("output")
        if type(index) is not int or index < 0 or not isinstance(output, str):
            return None
        if isinstance(started, bool) or not isinstance(started, (int, float)) or not math.isfinite(started):
            return None
        return cls(index, float(started), output[-MAX_ACTIVITY_OUTPUT:])


@dataclass(frozen=True)
class RunRequest:
    """What the runner is asked to do: run ``notebook`` in ``workdir``, save it to ``output``, within the limits.

    ``cell_limits`` are ``(cell index, seconds, memory bytes, exercise)``; ``group_seconds`` are
    ``(exercise, seconds all its cells may use together)``; other cells get ``cell_timeout`` and ``memory_bytes``.
    The running cell's activity is kept in the file ``activity`` (none when empty).
    """

    notebook: str
    output: str
    workdir: str
    cell_timeout: float
    max_output_bytes: int
    kernel_name: str = "python3"
    epilogue: str = ""
    epilogue_output: str = ""
    skip_cells: tuple[int, ...] = ()
    memory_bytes: int = 0
    cell_limits: tuple[tuple[int, float, int, int], ...] = ()
    group_seconds: tuple[tuple[int, float], ...] = ()
    activity: str = ""

    @classmethod
    def read(cls, path: Path) -> RunRequest:
        return cls(**json.loads(path.read_text(encoding="utf-8")))

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)), encoding="utf-8")

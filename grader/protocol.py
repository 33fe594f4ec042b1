"""What crosses the sandbox boundary: the runner's request, written by the grader, and each cell's outcome,
written inside the sandbox and so read back with ``CellOutcome.from_untrusted``.

Imports nothing of the grader, so that the runner inside the sandbox can use it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Any

OUTCOME_KEY = "grader"  # the code cell's metadata entry holding its outcome
MAX_ERROR_CHARS = 2000


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
class RunRequest:
    """What the runner is asked to do: run ``notebook`` in ``workdir``, save it to ``output``, within the limits.

    ``cell_limits`` are ``(cell index, seconds, memory bytes, exercise)``; ``group_seconds`` are
    ``(exercise, seconds all its cells may use together)``; other cells get ``cell_timeout`` and ``memory_bytes``.
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

    @classmethod
    def read(cls, path: Path) -> RunRequest:
        return cls(**json.loads(path.read_text(encoding="utf-8")))

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)), encoding="utf-8")

"""How long, and with how much memory, each cell may run: the spec's limits per exercise.

An exercise's cells each get its ``cell_timeout`` (default: the spec-wide one) and, when it sets one, all of
them together its ``timeout``; cells outside any exercise get the spec-wide values. The whole notebook gets what
the cells it runs may use added up, plus ``STARTUP_S``, capped by the spec's ``notebook_timeout``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from nbformat import NotebookNode

from grader.spec import Exercise, Limits

STARTUP_S = 60.0
OUTSIDE = 0  # the group of cells that belong to no exercise
_MB = 1024**2


@dataclass(frozen=True)
class CellLimit:
    """One code cell's limits; ``group`` is its exercise's number (``OUTSIDE`` for none)."""

    timeout: float
    memory_bytes: int
    group: int = OUTSIDE


@dataclass(frozen=True)
class Budget:
    """Each code cell's limits (by index in the notebook), the time of each exercise that sets one for all its
    cells, the whole run's."""

    default: CellLimit
    cells: Mapping[int, CellLimit] = field(default_factory=dict)
    groups: Mapping[int, float] = field(default_factory=dict)
    notebook_timeout: float = 0.0

    @property
    def most_memory_bytes(self) -> int:
        return max([self.default.memory_bytes, *(cell.memory_bytes for cell in self.cells.values())])

    def shifted(self, offset: int) -> Budget:
        """The same budget for the notebook with ``offset`` cells put in front."""
        return Budget(
            self.default,
            {index + offset: cell for index, cell in self.cells.items()},
            self.groups,
            self.notebook_timeout,
        )


def uniform(limits: Limits) -> Budget:
    """Every cell gets the spec-wide limits; the run gets ``notebook_timeout``."""
    return Budget(CellLimit(limits.cell_timeout, limits.memory_mb * _MB), notebook_timeout=limits.notebook_timeout)


def plan(
    notebook: NotebookNode,
    limits: Limits,
    exercises: Sequence[Exercise],
    sections: Mapping[int, list[int]],
    skipped: Collection[int] = (),
    extra_cells: int = 0,
) -> Budget:
    """The budget for running ``notebook`` (cells in ``skipped`` are not run; ``extra_cells`` more run in front)."""
    default = CellLimit(limits.cell_timeout, limits.memory_mb * _MB)
    by_number = {exercise.number: exercise for exercise in exercises}
    cells: dict[int, CellLimit] = {}
    groups: dict[int, float] = {}
    spent = 0.0
    for number, indices in sections.items():
        code = [index for index in indices if _runs(notebook, index) and index not in skipped]
        own = by_number[number].limits if number in by_number else None
        if not code or own is None:
            continue
        limit = CellLimit(own.cell_timeout or limits.cell_timeout, (own.memory_mb or limits.memory_mb) * _MB, number)
        cells.update(dict.fromkeys(code, limit))
        spent += min(own.timeout or float("inf"), limit.timeout * len(code))
        if own.timeout is not None:
            groups[number] = own.timeout
    outside = sum(
        1
        for index in range(len(notebook.cells))
        if _runs(notebook, index) and index not in cells and index not in skipped
    )
    total = STARTUP_S + (outside + extra_cells) * limits.cell_timeout + spent
    return Budget(default, cells, groups, min(total, limits.notebook_timeout))


def _runs(notebook: NotebookNode, index: int) -> bool:
    cell = notebook.cells[index]
    return cell.cell_type == "code" and bool(cell.source.strip())

"""What crosses the sandbox boundary is typed, and what comes back from it is checked before it is believed."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from grader.protocol import MAX_ERROR_CHARS, CellOutcome, CellStatus, RunRequest


@pytest.mark.parametrize("value", [
    None, "ok", [], {"status": "ok"}, {"status": "fine", "error": ""}, {"status": "ok", "error": 3},
    {"status": ["ok"], "error": ""},
])
def test_anything_but_an_outcome_is_refused(value: object) -> None:
    assert CellOutcome.from_untrusted(value) is None


def test_an_outcome_is_read_back_bounded_and_only_its_fields() -> None:
    value = {"status": "dead", "error": "x" * (3 * MAX_ERROR_CHARS), "truncated": "yes", "score": 100}
    outcome = CellOutcome.from_untrusted(value)
    assert outcome == CellOutcome(CellStatus.DEAD, "x" * MAX_ERROR_CHARS, truncated=False)
    assert outcome.failed and not CellOutcome(CellStatus.SKIPPED).failed


def test_outcomes_round_trip_through_a_cell() -> None:
    cell = nbformat.v4.new_code_cell("1")
    CellOutcome(CellStatus.TIMEOUT, "the cell ran past its 4 s limit", truncated=True).record(cell)
    assert CellOutcome.of(cell) == CellOutcome(CellStatus.TIMEOUT, "the cell ran past its 4 s limit", True)
    assert CellOutcome.of(nbformat.v4.new_code_cell("2")) is None


def test_a_request_round_trips(tmp_path: Path) -> None:
    request = RunRequest("in.ipynb", "out.ipynb", "work", 60.0, 1024, skip_cells=(3,),
                         cell_limits=((4, 2.0, 1024, 4),), group_seconds=((4, 3.0),))
    request.write(tmp_path / "request.json")
    back = RunRequest.read(tmp_path / "request.json")
    assert (back.notebook, back.cell_timeout, list(back.skip_cells)) == ("in.ipynb", 60.0, [3])
    assert [tuple(limit) for limit in back.cell_limits] == [(4, 2.0, 1024, 4)]

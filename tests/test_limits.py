"""Limits per exercise: each exercise's cells get its own time (the spec-wide one by default), the notebook the
sum of what its exercises may use, capped; a loop in one exercise costs only that exercise's time."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
import yaml
from conftest import DATA
from nbformat.v4 import new_code_cell

from grader.budget import STARTUP_S, plan
from grader.grade import GradeOptions, grade_notebook
from grader.notebook import split_sections
from grader.spec import Spec, bundled_spec_path, load_spec

LOOP = "while True:\n    pass"


def _spec(folder: Path, limits: dict, exercise_limits: dict[int, dict]) -> Spec:
    raw = yaml.safe_load(bundled_spec_path().read_text(encoding="utf-8"))
    raw["limits"] = limits
    for exercise in raw["exercises"]:
        exercise.pop("limits", None)
        if exercise["number"] in exercise_limits:
            exercise["limits"] = exercise_limits[exercise["number"]]
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return load_spec(path)


def _with_loops(count: int) -> nbformat.NotebookNode:
    """The seed-style answers with ``count`` endless loops at the end of exercise 4."""
    notebook = nbformat.read(DATA / "seed_style.ipynb", as_version=4)
    end = max(split_sections(notebook)[4]) + 1
    notebook.cells[end:end] = [new_code_cell(LOOP) for _ in range(count)]
    return notebook


def test_the_bundled_spec_gives_a_minute_per_cell_and_training_its_own_time(spec: Spec) -> None:
    by_number = {exercise.number: exercise for exercise in spec.exercises}
    assert spec.limits.cell_timeout == 60
    assert all(by_number[number].limits.cell_timeout is None for number in range(1, 9))
    assert by_number[9].limits.cell_timeout == 3600 and by_number[9].limits.timeout == 5400


def test_the_notebook_gets_its_exercises_time_added_up_and_capped(tmp_path: Path) -> None:
    spec = _spec(tmp_path, {"cell_timeout": 10, "notebook_timeout": 1000},
                 {4: {"cell_timeout": 3, "timeout": 5}, 9: {"cell_timeout": 300}})
    notebook = _with_loops(3)
    sections = split_sections(notebook)
    budget = plan(notebook, spec.limits, spec.exercises, sections, extra_cells=1)
    code = {number: [i for i in cells if notebook.cells[i].cell_type == "code" and notebook.cells[i].source.strip()]
            for number, cells in sections.items()}
    assert budget.groups == {4: 5}  # three 3 s cells, but 5 s in all; exercise 9 sets no total
    assert all(budget.cells[index].timeout == 3 and budget.cells[index].group == 4 for index in code[4])
    outside = sum(1 for index, cell in enumerate(notebook.cells)
                  if cell.cell_type == "code" and cell.source.strip() and index not in budget.cells)
    expected = STARTUP_S + 10 * (outside + 1) + 5 + 300 * len(code.get(9, []))
    assert budget.notebook_timeout == min(expected, 1000)
    assert plan(notebook, spec.limits, spec.exercises, sections, skipped=code[4]).groups.get(4) is None
    capped = _spec(tmp_path, {"cell_timeout": 10, "notebook_timeout": 30}, {})
    assert plan(notebook, capped.limits, capped.exercises, sections).notebook_timeout == 30


@pytest.mark.kernel
def test_a_loop_in_one_exercise_costs_its_time_and_the_rest_is_graded(tmp_path: Path) -> None:
    spec = _spec(tmp_path, {"cell_timeout": 30, "notebook_timeout": 600}, {4: {"cell_timeout": 2, "timeout": 3}})
    path = tmp_path / "looping" / "looping.ipynb"
    path.parent.mkdir()
    nbformat.write(_with_loops(2), path)
    exercises = tuple(range(1, 9))
    plain = grade_notebook(DATA / "seed_style.ipynb", spec, GradeOptions(exercises=exercises))
    started = time.monotonic()
    looping = grade_notebook(path, spec, GradeOptions(exercises=exercises))
    elapsed = time.monotonic() - started
    assert elapsed < plain.seconds + 3 + 15  # exercise 4's 3 s, interrupts and a fresh kernel at most
    fourth = {exercise.number: exercise for exercise in looping.exercises}[4]
    assert len(fourth.errors) == 2, fourth.errors
    assert "ran past its 2 s limit" in fourth.errors[0]
    assert "exercise 4" in fourth.errors[1]  # the second loop gets what is left of the 3 s, or nothing
    others = [(exercise.number, exercise.score) for exercise in looping.exercises if exercise.number != 4]
    assert others == [(exercise.number, exercise.score) for exercise in plain.exercises if exercise.number != 4]
    assert fourth.score == {exercise.number: exercise for exercise in plain.exercises}[4].score


@pytest.mark.kernel
def test_an_exercise_memory_limit_applies_to_its_cells_only(tmp_path: Path) -> None:
    spec = _spec(tmp_path, {"cell_timeout": 30, "notebook_timeout": 600, "memory_mb": 2048},
                 {4: {"memory_mb": 400}})
    hoard = "import time\nhoard = b'x' * (600 * 1024**2)\ntime.sleep(3)\ndel hoard"
    notebook = nbformat.read(DATA / "seed_style.ipynb", as_version=4)
    sections = split_sections(notebook)
    for number in (4, 3):  # from the end, so the indices found stay right
        end = max(sections[number]) + 1
        notebook.cells[end:end] = [new_code_cell(hoard)]
    path = tmp_path / "hoarding" / "hoarding.ipynb"
    path.parent.mkdir()
    nbformat.write(notebook, path)
    result = grade_notebook(path, spec, GradeOptions(exercises=(3, 4)))
    errors = {exercise.number: exercise.errors for exercise in result.exercises}
    assert not errors[3], errors
    assert len(errors[4]) == 1 and "more than 400 MB together" in errors[4][0], errors

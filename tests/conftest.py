"""Shared fixtures: the bundled spec, the reference and seed-style notebooks, and notebook builders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from nbformat import NotebookNode

from grader.spec import Spec, bundled_spec_path, load_spec

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
CONCEPTUAL = tuple(range(1, 9))


@pytest.fixture(scope="session")
def spec() -> Spec:
    return load_spec(bundled_spec_path())


@pytest.fixture()
def seed_style() -> NotebookNode:
    return nbformat.read(DATA / "seed_style.ipynb", as_version=4)


@pytest.fixture()
def reference_path() -> Path:
    return REPO / "answers" / "ch14_solutions.ipynb"


@pytest.fixture()
def write_notebook(tmp_path: Path) -> Callable[..., Path]:
    """Write a notebook into its own folder under tmp_path and return its path."""

    def write(notebook: NotebookNode, name: str = "submission") -> Path:
        folder = tmp_path / name
        folder.mkdir(exist_ok=True)
        path = folder / f"{name}.ipynb"
        nbformat.write(notebook, path)
        return path

    return write


def wrong_total(notebook: NotebookNode) -> NotebookNode:
    """The seed-style answers with a wrong total parameter count (902,400), carried through."""
    edit_markdown(notebook, "903400", "902400")
    return edit_markdown(notebook, "903,400", "902,400")


def class_folder(root: Path) -> Path:
    """``root/class`` with alice (seed-style answers, full marks) and bob (the same with a wrong total)."""
    folder = root / "class"
    folder.mkdir()
    nbformat.write(nbformat.read(DATA / "seed_style.ipynb", as_version=4), folder / "alice.ipynb")
    nbformat.write(wrong_total(nbformat.read(DATA / "seed_style.ipynb", as_version=4)), folder / "bob.ipynb")
    return folder


def edit_markdown(notebook: NotebookNode, old: str, new: str) -> NotebookNode:
    """Replace text in every markdown cell (the edit must apply somewhere)."""
    hits = 0
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and old in cell.source:
            cell.source = cell.source.replace(old, new)
            hits += 1
    assert hits, f"{old!r} is not in the notebook"
    return notebook

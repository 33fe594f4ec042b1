"""Find the notebooks a user asked to grade, and what the grader must hide from them."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import grader


@dataclass(frozen=True)
class Discovery:
    notebooks: tuple[Path, ...]
    problems: tuple[str, ...]
    roots: tuple[Path, ...]


def _notebooks_under(folder: Path) -> list[Path]:
    return sorted(
        path for path in folder.rglob("*.ipynb")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


def discover(arguments: list[Path]) -> Discovery:
    """Expand files and folders into notebooks; every argument that yields none is a problem line."""
    notebooks: list[Path] = []
    problems: list[str] = []
    roots: list[Path] = []
    for argument in arguments:
        path = argument.expanduser()
        if path.is_dir():
            found = _notebooks_under(path)
            if not found:
                problems.append(f"{argument}: no notebooks (.ipynb) in this folder")
            notebooks += found
            roots.append(path.resolve())
        elif path.is_file():
            if path.suffix != ".ipynb":
                problems.append(f"{argument}: not a notebook (expected a .ipynb file)")
                continue
            notebooks.append(path)
            roots.append(path.resolve().parent)
        else:
            problems.append(f"{argument}: no such file or folder")
    unique = list(dict.fromkeys(notebook.resolve() for notebook in notebooks))
    return Discovery(tuple(unique), tuple(problems), tuple(dict.fromkeys(roots)))


def _needed_by_grader() -> list[Path]:
    package = Path(grader.__file__).resolve().parent
    return [Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), package]


def hideable(paths: list[Path]) -> tuple[Path, ...]:
    """The paths that can be hidden from notebooks without hiding the grader or Python themselves."""
    needed = _needed_by_grader()
    kept = []
    for path in dict.fromkeys(path.resolve() for path in paths):
        if path.exists() and not any(path == need or path in need.parents for need in needed):
            kept.append(path)
    return tuple(kept)

"""Find the notebooks a user asked to grade, and what the grader must hide from them."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grader
from grader.spec import Spec, bundled_spec_path


@dataclass(frozen=True)
class Discovery:
    notebooks: tuple[Path, ...]
    problems: tuple[str, ...]
    roots: tuple[Path, ...]


def _notebooks_under(folder: Path) -> list[Path]:
    return sorted(
        path
        for path in folder.rglob("*.ipynb")
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


def _source_checkout() -> Path | None:
    """The source checkout the grader runs from (an editable install), if any: it holds answer keys in its
    tests and history."""
    root = Path(grader.__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() else None


def _needed_by_grader() -> set[Path]:
    package = Path(grader.__file__).resolve().parent
    return {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), package, Path("/")}


def hideable(paths: list[Path]) -> tuple[Path, ...]:
    """The paths to hide from notebooks: ``paths`` and the grader's source checkout, less what cannot be hidden.

    The sandbox binds the Python installation and the grader package back inside hidden folders, so only
    those themselves (and ``/``) are left out. Paths that do not exist yet are kept: the sandbox hides
    each one that exists when a notebook starts (the output folder, once the first result is written).
    """
    needed = _needed_by_grader()
    checkout = _source_checkout()
    candidates = [*paths, *([checkout] if checkout else [])]
    return tuple(path for path in dict.fromkeys(path.resolve() for path in candidates) if path not in needed)


def hidden_paths(spec: Spec, out: Path, roots: Sequence[Path]) -> tuple[Path, ...]:
    """What a notebook must not see: the spec and answer keys, the output folder, other submissions."""
    bundled = bundled_spec_path().parent
    return hideable([spec.path.resolve().parent, bundled, bundled.parent / "answers", out, *roots])

"""A scratch copy of a submission's folder: the only place the notebook's code may write."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

MAX_COPY_BYTES = 256 * 1024**2
_FOLDERS = ("work", "out", "home")


@dataclass(frozen=True)
class Workspace:
    """Scratch layout: ``work/`` is the notebook's folder, ``out/`` receives the executed notebook."""

    root: Path

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def out(self) -> Path:
        return self.root / "out"

    @property
    def home(self) -> Path:
        return self.root / "home"

    def reclaim(self) -> list[str]:
        """After the sandbox: put an empty folder in place of any of ``work``, ``out``, ``home`` that its code
        replaced (by a link or a file), so the grader never follows a path the notebook chose; return their names."""
        replaced = []
        for name in _FOLDERS:
            path = self.root / name
            if path.is_dir() and not path.is_symlink():
                continue
            replaced.append(name)
            if path.is_symlink() or path.exists():
                path.unlink()
            path.mkdir()
        return replaced

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _visible(path: Path, folder: Path) -> bool:
    """Not a link and not hidden (no part of it below ``folder`` starts with a dot)."""
    return not path.is_symlink() and not any(part.startswith(".") for part in path.relative_to(folder).parts)


def _holds_other_notebooks(folder: Path, notebook: Path) -> bool:
    return any(path != notebook and path.is_file() and _visible(path, folder) for path in folder.rglob("*.ipynb"))


def _copy_siblings(source_dir: Path, target: Path, keep: Path) -> None:
    """Copy the notebook's folder without links or hidden files, within a size budget."""
    budget = MAX_COPY_BYTES
    for path in sorted(source_dir.rglob("*")):
        if not _visible(path, source_dir):
            continue
        destination = target / path.relative_to(source_dir)
        if path.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
        elif path.is_file() and path != keep:
            size = path.stat().st_size
            if size > budget:
                continue
            budget -= size
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)


def create_workspace(notebook: Path, copy_folder: bool = True) -> Workspace:
    """Make a workspace holding a copy of the notebook and, by default, its folder's other files.

    The folder is copied only when it holds no other notebook: a folder shared by several
    submissions (a flat batch) is not one student's, so nothing but the notebook itself is copied.
    """
    workspace = Workspace(Path(tempfile.mkdtemp(prefix="cnn-grader-")))
    for name in _FOLDERS:
        (workspace.root / name).mkdir()
    if copy_folder and not _holds_other_notebooks(notebook.parent, notebook):
        _copy_siblings(notebook.parent, workspace.work, notebook)
    shutil.copy2(notebook, workspace.work / notebook.name)
    return workspace

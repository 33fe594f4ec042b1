"""A scratch copy of a submission's folder: the only place the notebook's code may write."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

MAX_COPY_BYTES = 256 * 1024**2


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

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _copy_siblings(source_dir: Path, target: Path, keep: Path) -> None:
    """Copy the notebook's folder without other notebooks or links, within a size budget."""
    budget = MAX_COPY_BYTES
    for path in sorted(source_dir.rglob("*")):
        relative = path.relative_to(source_dir)
        if path.is_symlink() or any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and path.suffix == ".ipynb" and path != keep:
            continue
        destination = target / relative
        if path.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
        elif path.is_file():
            size = path.stat().st_size
            if size > budget:
                continue
            budget -= size
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)


def create_workspace(notebook: Path, copy_folder: bool = True) -> Workspace:
    """Make a workspace holding a copy of the notebook (and, by default, its folder's other files)."""
    workspace = Workspace(Path(tempfile.mkdtemp(prefix="cnn-grader-")))
    for folder in (workspace.work, workspace.out, workspace.home):
        folder.mkdir()
    if copy_folder:
        _copy_siblings(notebook.parent, workspace.work, notebook)
    shutil.copy2(notebook, workspace.work / notebook.name)
    return workspace

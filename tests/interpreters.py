"""Python interpreters for tests that need another install of the grader or one every user can run.

As root, Landlock and process-limit sandboxes switch to a uid of their own, which must be able to read the
Python installation; where this one lives under a private folder (``/root/.pyenv``), tests use a virtual
environment made from the system's interpreter of the same version that reaches this environment's packages.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import tempfile
from pathlib import Path

import grader
from grader.sandbox.view import python_paths, unreachable


def _world_folder(prefix: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/var/tmp"))
    folder.chmod(0o755)
    return folder


def _system_python() -> Path | None:
    """The system's interpreter of this Python's version, if it is reachable by every user."""
    for folder in ("/usr/bin", "/usr/local/bin"):
        candidate = Path(folder) / f"python{sys.version_info.major}.{sys.version_info.minor}"
        if candidate.is_file() and not unreachable({candidate.resolve().parent}):
            return candidate
    return None


def make_venv(extra_paths: list[Path], prefix: str) -> Path | None:
    """A venv of the system's interpreter whose import path adds ``extra_paths``; its python, or None."""
    base = _system_python()
    if base is None:
        return None
    root = _world_folder(prefix)
    subprocess.run([str(base), "-m", "venv", "--without-pip", str(root)], check=True, capture_output=True, timeout=120)
    (site_dir,) = root.glob("lib/python3*/site-packages")
    (site_dir / "grader-test-env.pth").write_text("".join(f"{path}\n" for path in extra_paths), encoding="utf-8")
    for folder, _, _ in os.walk(root):
        os.chmod(folder, 0o755)
    return root / "bin" / "python"


def reachable_python() -> Path | None:
    """An interpreter with this environment (the grader as installed here) that a dropped uid can run."""
    if os.geteuid() != 0 or not unreachable(python_paths()):
        return Path(sys.executable)
    source = Path(grader.__file__).resolve().parents[1]
    return make_venv([*map(Path, site.getsitepackages()), source], "cnn-grader-test-python-")


def remove_venv(python: Path) -> None:
    if python != Path(sys.executable):
        shutil.rmtree(python.parents[1], ignore_errors=True)


def landlock_in_child(test_file: Path, selection: str) -> subprocess.CompletedProcess[str]:
    """Run ``test_file``'s tests matching ``selection`` (a ``-k`` expression) in a child pytest under a Python the
    sandbox's own uid can run: as root with a private Python, the Landlock tier can only be tested so. Skips
    where Landlock runs in this process already, or no such Python exists."""
    import pytest

    from grader.sandbox.policy import Isolation
    from grader.sandbox.tiers import unavailable_reason

    if not unavailable_reason(Isolation.LANDLOCK).startswith("running as root"):
        pytest.skip("the Landlock tier runs in this process (or Landlock is unavailable here)")
    python = reachable_python()
    if python is None:
        pytest.skip("no system Python of this version to run the Landlock tier with")
    arguments = ["-q", "-p", "no:cacheprovider", "-k", selection, str(test_file)]
    try:
        return subprocess.run([str(python), "-m", "pytest", *arguments], cwd=test_file.parents[1], capture_output=True,
                              text=True, timeout=600)
    finally:
        remove_venv(python)

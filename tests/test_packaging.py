"""The built wheel carries the chapter spec, so a non-editable install grades with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import REPO


def test_wheel_bundles_the_spec(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path / "dist"),
                    str(REPO)], check=True, capture_output=True, timeout=600)
    (wheel,) = (tmp_path / "dist").glob("cnn_grader-*.whl")
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, capture_output=True, timeout=600)
    probe = ("import grader, sys; from grader.spec import bundled_spec_path, load_spec; "
             "path = bundled_spec_path(); print(grader.__file__); print(path); print(load_spec(path).max_score)")
    shown = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                           env={"PYTHONPATH": str(target)}, check=True).stdout.splitlines()
    assert shown[0].startswith(str(target)) and shown[1].startswith(str(target))
    assert shown[1].endswith("grader/bundled/exercises/ch14.yaml") and float(shown[2]) > 0

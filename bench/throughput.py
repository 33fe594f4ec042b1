"""Grading throughput: K copies of a small notebook with 1 and with N workers, and the grader's overhead
per notebook over a bare ``jupyter nbconvert --execute`` of the same notebook.

Usage: python bench/throughput.py [--copies K] [--workers N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.progress import default_workers


def _small_notebook() -> nbformat.NotebookNode:
    return new_notebook(cells=[
        new_markdown_cell("## 1. CNNs\nWeight sharing, local receptive fields, translation invariance, hierarchy."),
        new_code_cell("x = 1 + 1\nprint('parameters:', 2800 + 180200 + 720400)"),
        new_markdown_cell("## 4. Pooling\nNo parameters, less computation, some invariance."),
    ])


def _time(command: list[str], cwd: Path) -> float:
    started = time.monotonic()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=12)
    parser.add_argument("--workers", type=int, default=default_workers())
    args = parser.parse_args()
    grader = [sys.executable, "-m", "grader", "grade", "-e", "1", "-e", "2", "-e", "4", "--force"]
    with tempfile.TemporaryDirectory() as root:
        base = Path(root)
        folder = base / "class"
        folder.mkdir()
        for index in range(args.copies):
            nbformat.write(_small_notebook(), folder / f"s{index:03d}.ipynb")
        single = base / "single"
        single.mkdir()
        shutil.copy(folder / "s000.ipynb", single / "one.ipynb")
        serial = _time([*grader, str(folder), "-j", "1", "--out", "o1"], base)
        parallel = _time([*grader, str(folder), "-j", str(args.workers), "--out", "oN"], base)
        nbconvert = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                     "--output", "executed", str(single / "one.ipynb")]
        bare = statistics.median(_time(nbconvert, base) for _ in range(5))
        ours = statistics.median(_time([*grader, str(single / "one.ipynb"), "--out", "o1b"], base) for _ in range(5))
    print(f"{args.copies} notebooks, 1 worker: {serial:.1f} s ({60 * args.copies / serial:.1f} notebooks/min)")
    print(f"{args.copies} notebooks, {args.workers} workers: {parallel:.1f} s "
          f"({60 * args.copies / parallel:.1f} notebooks/min), speed-up {serial / parallel:.2f}x")
    print(f"one notebook, whole command, median of 5: grader {ours:.2f} s, jupyter nbconvert --execute {bare:.2f} s, "
          f"overhead {ours - bare:+.2f} s")


if __name__ == "__main__":
    main()

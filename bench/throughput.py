"""Grading throughput: K copies of a small notebook with 1 and with N workers, and the grader's overhead
per notebook over a bare ``jupyter nbconvert --execute`` of the same notebook. With ``--cluster ADDRESS``
(e.g. ``local:2``) the same batch is also graded on that Dask cluster and compared with N local workers:
the start-up (until the first result) and the seconds per notebook after it.

Usage: python bench/throughput.py [--copies K] [--workers N] [--cluster ADDRESS [--rounds R]]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
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


@dataclass(frozen=True)
class BatchTiming:
    """A graded batch: the whole command, and when its first and last results were printed."""

    total: float
    first: float
    last: float

    def per_notebook(self, copies: int) -> float:
        """Seconds per notebook from the first result to the last (start-up left out)."""
        return (self.last - self.first) / max(1, copies - 1)


def _time_batch(command: list[str], cwd: Path) -> BatchTiming:
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    results = [time.monotonic() - started for line in process.stdout if line.startswith("[")]
    if process.wait() or not results:
        raise subprocess.CalledProcessError(process.returncode, command)
    return BatchTiming(time.monotonic() - started, results[0], results[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=12)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--cluster", help="also grade the batch on this Dask cluster (local:N or a scheduler address)")
    parser.add_argument("--rounds", type=int, default=3, help="with --cluster: runs of each, medians reported")
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
        local_runs, cluster_runs = [], []
        for _ in range(args.rounds if args.cluster else 1):  # interleaved, so that a busy spell hits both
            local_runs.append(_time_batch([*grader, str(folder), "-j", str(args.workers), "--out", "oN"], base))
            if args.cluster:
                cluster_runs.append(_time_batch([*grader, str(folder), "--cluster", args.cluster, "--out", "oC"], base))
        parallel = statistics.median(run.total for run in local_runs)
        nbconvert = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                     "--output", "executed", str(single / "one.ipynb")]
        bare = statistics.median(_time(nbconvert, base) for _ in range(5))
        ours = statistics.median(_time([*grader, str(single / "one.ipynb"), "--out", "o1b"], base) for _ in range(5))
    print(f"{args.copies} notebooks, 1 worker: {serial:.1f} s ({60 * args.copies / serial:.1f} notebooks/min)")
    print(f"{args.copies} notebooks, {args.workers} workers: {parallel:.1f} s "
          f"({60 * args.copies / parallel:.1f} notebooks/min), speed-up {serial / parallel:.2f}x")
    if cluster_runs:
        total = statistics.median(run.total for run in cluster_runs)
        first, first_local = (statistics.median(run.first for run in runs) for runs in (cluster_runs, local_runs))
        remote, local = (statistics.median(run.per_notebook(args.copies) for run in runs)
                         for runs in (cluster_runs, local_runs))
        print(f"{args.copies} notebooks, --cluster {args.cluster}, median of {args.rounds}: {total:.1f} s "
              f"({60 * args.copies / total:.1f} notebooks/min); first result after {first:.1f} s ({first_local:.1f} s "
              f"with {args.workers} local workers), then {remote:.2f} s per notebook ({local:.2f} s locally): "
              f"{remote - local:+.2f} s per notebook ({100 * (remote - local) / local:+.0f} %)")
    print(f"one notebook, whole command, median of 5: grader {ours:.2f} s, jupyter nbconvert --execute {bare:.2f} s, "
          f"overhead {ours - bare:+.2f} s")


if __name__ == "__main__":
    main()

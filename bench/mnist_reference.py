"""Train the reference notebook's MNIST CNN for real and measure it the way the grader does.

Usage: python bench/mnist_reference.py [--epochs N] [--fraction F] [--device auto|cpu|gpu]

Prints epochs, wall time, training time, device and the test accuracy measured by the grader's own
evaluator; the last line is the accuracy alone.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import nbformat

from grader.grade import GradeOptions, grade_notebook
from grader.spec import bundled_spec_path, load_spec

REFERENCE = Path(__file__).resolve().parents[1] / "answers" / "ch14_solutions.ipynb"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, help="override the notebook's EPOCHS (default: its full run)")
    parser.add_argument("--fraction", type=float, help="override TRAIN_FRACTION")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "gpu"))
    args = parser.parse_args()
    notebook = nbformat.read(REFERENCE, as_version=4)
    (parameters,) = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    namespace: dict = {}
    exec(parameters.source, namespace)  # the notebook's own parameter cell: plain assignments
    epochs = args.epochs or namespace["EPOCHS"]
    fraction = args.fraction or namespace["TRAIN_FRACTION"]
    parameters.source += f"\nEPOCHS = {epochs}\nTRAIN_FRACTION = {fraction}"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / REFERENCE.name
        nbformat.write(notebook, path)
        started = time.monotonic()
        result = grade_notebook(path, load_spec(bundled_spec_path()),
                                GradeOptions(exercises=(9,), device=args.device, progress=print))
        wall = time.monotonic() - started
    (exercise,) = result.exercises
    metrics = exercise.metrics
    print(f"epochs: {epochs}, training fraction: {fraction}")
    print(f"wall time: {wall:.0f} s, exercise 9 cells: {metrics['train_seconds']} s, device: {metrics['device']}")
    print(f"status: {exercise.status}, {exercise.score:g}/{exercise.max_score:g}; "
          f"{exercise.checks[0].message}; errors: {list(exercise.errors)}")
    print(f"reported by the notebook: {metrics['reported_accuracy']}")
    print(f"{metrics['accuracy']}")


if __name__ == "__main__":
    main()

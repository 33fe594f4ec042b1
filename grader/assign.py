"""The student notebook generated from a spec: each question, an empty answer cell under it, starter code.

Question cells carry the tags ``exercise-N`` and ``prompt`` (the grader reads them as the question, not
as an answer); answer cells carry ``exercise-N``. Nothing of the key is written: only titles, prompts,
points and, for a model exercise, the data loading and how to hand the model off.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.datasets import utils_module_source
from grader.spec import Exercise, ModelAccuracyCheck, Spec

PROMPT_TAG = "prompt"
UTILS_FILE = "utils.py"
_KERNEL = {
    "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
    "language_info": {"name": "python"},
}
_INTRO = """\
Write each answer in the empty cell under its question: prose in Markdown, numbers with the working that
gives them. Keep the cells in their place (each carries a tag naming its exercise); add as many cells under
an answer as you like.

Before handing in, `grader check {notebook}` runs the grader's checks and says which points are missing."""
_LOADING = """\
import os

import tensorflow_datasets as tfds
from utils import set_seed

set_seed()

datapath = os.path.join("./", "datasets")
os.makedirs(datapath, exist_ok=True)

(ds_train, ds_val, ds_test), ds_info = tfds.load(
    {dataset!r},
    split=['train[:80%]', 'train[80%:]', 'test'],
    shuffle_files=True,
    as_supervised=True,
    with_info=True,
    data_dir=datapath,
)"""
_HAND_OFF = """\
# Your CNN: build it, train it, and measure it on ds_test.
# Hand the trained model to the grader: save it next to this notebook with
#     your_model.save({model_file!r})
# or leave it in a variable named `{model_variable}`."""


def _tagged(cell: NotebookNode, cell_id: str, *tags: str) -> NotebookNode:
    cell.id = cell_id
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def _model_check(exercise: Exercise) -> ModelAccuracyCheck | None:
    return next((check for check in exercise.checks if isinstance(check, ModelAccuracyCheck)), None)


def _model_terms(check: ModelAccuracyCheck) -> str:
    """How the model is graded: the threshold, the partial-credit tiers and the device it must train on."""
    lines = [
        f"The grader measures your model's test accuracy itself: {check.threshold:.1%} or more earns "
        f"{check.points:g} points"
    ]
    lines += [f"{tier.accuracy:.1%} or more earns {tier.points:g}" for tier in check.tiers]
    device = " Train it on a GPU: a model trained on the CPU earns nothing." if check.device == "gpu" else ""
    return "; ".join(lines) + "; less earns nothing." + device


def _exercise_cells(exercise: Exercise) -> list[NotebookNode]:
    tag = f"exercise-{exercise.number}"
    model = _model_check(exercise)
    terms = f"\n\n{_model_terms(model)}" if model else ""
    question = (
        f"## {exercise.number}. {exercise.title}\n\n{exercise.prompt.strip()}{terms}\n\n*{exercise.points:g} points*"
    )
    cells = [_tagged(new_markdown_cell(question), f"{tag}-question", tag, PROMPT_TAG)]
    if model is None:
        return [*cells, _tagged(new_markdown_cell(""), f"{tag}-answer", tag)]
    hand_off = _HAND_OFF.format(model_file=model.model_file, model_variable=model.model_variable)
    return [
        *cells,
        _tagged(new_code_cell(_LOADING.format(dataset=model.dataset)), f"{tag}-data", tag),
        _tagged(new_code_cell(hand_off), f"{tag}-answer", tag),
    ]


def student_notebook(spec: Spec, name: str = "student.ipynb") -> NotebookNode:
    """The notebook handed to students; ``name`` is the file name the introduction refers to."""
    title = new_markdown_cell(f"# {spec.title}\n\n{_INTRO.format(notebook=name)}")
    cells = [_tagged(title, "introduction")]
    for exercise in spec.exercises:
        cells += _exercise_cells(exercise)
    return new_notebook(cells=cells, metadata=_KERNEL)


def write_assignment(spec: Spec, path: Path) -> list[Path]:
    """Write the student notebook and, for a model exercise, a ``utils.py`` beside it (never replaced).

    Returns the files written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(student_notebook(spec, path.name), path)
    written = [path]
    utils = path.parent / UTILS_FILE
    if any(_model_check(exercise) for exercise in spec.exercises) and not utils.exists():
        utils.write_text(utils_module_source(), encoding="utf-8")
        written.append(utils)
    return written

"""The exercise graded by a model the notebook trains (exercise 9: a CNN on MNIST, on a GPU).

What grading a notebook calls, in order: ``plan`` (the exercise, and whether it can train here), ``uses_gpu``
(whether this notebook's run needs one of the GPUs), ``prepare`` (dataset, set-up cell, helper files, the
hand-off epilogue run after the last cell, the kernel's GPUs), ``collect`` (the handed-off model, measured in a
fresh process) and ``judge`` (the check's score and the exercise's state). ``gpus`` finds the GPUs and shares
them out between notebooks.
"""

from grader.model_exercise.collect import collect, section_seconds
from grader.model_exercise.gpus import Gpu, GpuInventory, GpuSelectionError, GpuSlots, discover
from grader.model_exercise.outcome import ModelOutcome, judge
from grader.model_exercise.preparation import Preparation, prepare, write_files
from grader.model_exercise.task import TRAINING_SKIPPED, ModelTask, TaskState, plan, uses_gpu

__all__ = [
    "TRAINING_SKIPPED",
    "Gpu",
    "GpuInventory",
    "GpuSelectionError",
    "GpuSlots",
    "ModelOutcome",
    "ModelTask",
    "Preparation",
    "TaskState",
    "collect",
    "discover",
    "judge",
    "plan",
    "prepare",
    "section_seconds",
    "uses_gpu",
    "write_files",
]

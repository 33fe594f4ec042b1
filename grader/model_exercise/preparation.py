"""What a notebook's run needs for the model exercise: the dataset, set-up cell, helper files, the hand-off
epilogue, and the GPUs its kernel may use."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from grader.datasets import (
    DatasetError,
    cache_dir,
    ensure_mnist,
    ensure_tfds_store,
    setup_cell_source,
    utils_module_source,
)
from grader.model_exercise.device import kernel_environment
from grader.model_exercise.gpus import Gpu, GpuInventory
from grader.model_exercise.handoff import epilogue_source
from grader.model_exercise.task import ModelTask

Progress = Callable[[str], None]

# TensorFlow otherwise reserves a whole GPU's memory, and notebooks sharing a GPU would fail.
KERNEL_TENSORFLOW = {"TF_FORCE_GPU_ALLOW_GROWTH": "true"}


@dataclass(frozen=True)
class Preparation:
    """Set-up cells, the epilogue run after the last cell, files put beside the notebook, paths shown read-only,
    the kernel's environment, the GPUs it is given and their device nodes."""

    setup_sources: tuple[str, ...] = ()
    epilogue: str = ""
    readonly: tuple[Path, ...] = ()
    files: tuple[tuple[str, str], ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    gpus: tuple[Gpu, ...] = ()
    devices: tuple[Path, ...] = ()


def prepare(
    task: ModelTask | None, device: str, assigned: Sequence[Gpu], inventory: GpuInventory, progress: Progress
) -> tuple[ModelTask | None, Preparation]:
    """Fill the dataset cache if needed and build the run's preparation; the task comes back blocked when the
    dataset cannot be had. ``assigned``: the GPUs this notebook is given."""
    kernel = Preparation(
        env=tuple({**kernel_environment(device, assigned), **KERNEL_TENSORFLOW}.items()),
        gpus=tuple(assigned),
        devices=inventory.nodes(assigned),
    )
    if task is None or not task.ready:
        return task, kernel
    try:
        ensure_mnist(progress=progress)
        store = ensure_tfds_store(progress=progress)
    except DatasetError as error:
        return task.blocked(f"the dataset is not available here: {error}"), kernel
    return task, replace(
        kernel,
        setup_sources=(setup_cell_source(store, cache_dir()),),
        epilogue=epilogue_source(task.check.model_file, task.check.model_variable),
        readonly=(cache_dir(),),
        files=(("utils.py", utils_module_source()),),
    )


def write_files(preparation: Preparation, folder: Path) -> None:
    """Put the helper files beside the notebook, never replacing the student's own."""
    for name, text in preparation.files:
        target = folder / name
        if not target.exists():
            target.write_text(text, encoding="utf-8")

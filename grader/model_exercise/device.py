"""Which device the model exercise may train on: the spec's requirement against the GPUs here, and what the
notebook's kernel is shown."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from functools import cache

from grader.model_exercise.gpus import Gpu
from grader.spec import ModelAccuracyCheck

GPU_PROBE = "import tensorflow as tf; print(len(tf.config.list_physical_devices('GPU')))"


@cache
def gpu_count() -> int:
    """GPUs TensorFlow can see, probed once in a separate process (importing TensorFlow is slow)."""
    try:
        probe = subprocess.run(
            [sys.executable, "-c", GPU_PROBE],
            capture_output=True,
            text=True,
            timeout=120,
            env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin", **inherited_gpus()},
        )
        return int(probe.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError):
        return 0


def training_blocked(check: ModelAccuracyCheck, device: str, gpus: Sequence[Gpu]) -> str:
    """Why the exercise cannot be trained here ("" when it can): only a GPU requirement blocks it, when no GPU
    may be used (``gpus``: those grading may use) or TensorFlow cannot use one."""
    if check.device != "gpu" or device == "cpu":
        return ""
    if not gpus:
        return "GPU required: the spec asks for GPU training and no GPU is available here (--device cpu allows CPU)"
    if gpu_count() == 0:
        return "GPU required: the spec asks for GPU training and TensorFlow sees no GPU here (--device cpu allows CPU)"
    return ""


def inherited_gpus() -> dict[str, str]:
    """The GPUs this process was given, if any: ``CUDA_VISIBLE_DEVICES`` as a batch system, ``dask cuda worker``
    or the user set it."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    return {} if visible is None else {"CUDA_VISIBLE_DEVICES": visible}


def kernel_environment(device: str, assigned: Sequence[Gpu]) -> dict[str, str]:
    """Environment for the notebook's kernel: ``cpu`` hides every GPU so training really runs on the CPU; GPUs
    ``assigned`` to the notebook are the ones it sees; otherwise the kernel inherits this process's."""
    if device == "cpu":
        return {"CUDA_VISIBLE_DEVICES": "-1"}
    if assigned:
        return {"CUDA_VISIBLE_DEVICES": ",".join(gpu.cuda_name for gpu in assigned)}
    return inherited_gpus()

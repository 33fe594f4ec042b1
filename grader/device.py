"""Which device exercise training may use: the spec's requirement against what TensorFlow sees here."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import cache

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
            env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin", **assigned_gpus()},
        )
        return int(probe.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError):
        return 0


def training_blocked(check: ModelAccuracyCheck, device: str) -> str:
    """Why the exercise cannot be trained here ("" when it can): only a GPU requirement blocks it."""
    if check.device != "gpu" or device == "cpu":
        return ""
    if gpu_count() == 0:
        return "GPU required: the spec asks for GPU training and TensorFlow sees no GPU here (--device cpu allows CPU)"
    return ""


def assigned_gpus() -> dict[str, str]:
    """The GPUs this process was given, if any: ``CUDA_VISIBLE_DEVICES`` as a batch system, ``dask cuda worker``
    (one GPU per worker) or the user set it."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    return {} if visible is None else {"CUDA_VISIBLE_DEVICES": visible}


def kernel_environment(device: str) -> dict[str, str]:
    """Environment for the notebook's kernel: ``cpu`` hides any GPU so training really runs on the CPU; otherwise
    the kernel gets the GPUs assigned to this process."""
    return {"CUDA_VISIBLE_DEVICES": "-1"} if device == "cpu" else assigned_gpus()

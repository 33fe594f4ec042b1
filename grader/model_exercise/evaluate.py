"""Measure a handed-off model's accuracy in a fresh, sandboxed process the student's code never touched.

``evaluate_model`` refuses links and oversized files, copies the model out of the student's workspace and
runs ``grader.measure`` on the copy in a sandbox where only the copy and the dataset cache are visible.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader.sandbox import Limits, SandboxPolicy, run_sandboxed, runtime_command

EVALUATION_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Evaluation:
    accuracy: float | None
    error: str = ""
    scaling: str = ""


def _refusal(path: Path, max_bytes: int) -> str:
    try:
        info = os.lstat(path)
    except OSError:
        return "no model found"
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
        return f"refused: {path.name} is a link or not a regular file"
    if info.st_size > max_bytes:
        return f"refused: {path.name} is {info.st_size / 1e6:.0f} MB, over the {max_bytes / 1e6:.0f} MB limit"
    return ""


def evaluate_model(model: Path, max_bytes: int, cache: Path, hidden: tuple[Path, ...]) -> Evaluation:
    """Evaluate ``model`` on the verified MNIST test set in a fresh sandboxed process."""
    refusal = _refusal(model, max_bytes)
    if refusal:
        return Evaluation(None, refusal)
    scratch = Path(tempfile.mkdtemp(prefix="cnn-grader-eval-"))
    try:
        copy = scratch / "model.keras"
        shutil.copyfile(model, copy)
        policy = SandboxPolicy(
            workdir=scratch,
            readonly=(cache,),
            hidden=hidden,
            limits=Limits(memory_mb=8192, max_processes=512),
            env={
                "HOME": str(scratch),
                "CNN_GRADER_CACHE": str(cache),
                "TF_CPP_MIN_LOG_LEVEL": "3",
                "KERAS_HOME": str(scratch / ".keras"),
                "CUDA_VISIBLE_DEVICES": "",
                "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
            },
        )
        result = run_sandboxed(
            runtime_command("grader.measure", str(copy)), policy, timeout=EVALUATION_TIMEOUT_S, stdout_limit=1024**2
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.timed_out:
        return Evaluation(None, f"evaluation ran past {EVALUATION_TIMEOUT_S:g} s")
    if not lines:
        tail = result.stderr.strip().splitlines()
        return Evaluation(None, "evaluation failed" + (f": {tail[-1]}" if tail else ""))
    report = json.loads(lines[-1])
    if "error" in report:
        return Evaluation(None, report["error"])
    return Evaluation(report["accuracy"], scaling=report["scaling"])

"""Measure a handed-off model's accuracy in a fresh, sandboxed process the student's code never touched.

Run as ``python -I -m grader.evaluate MODEL.keras`` it prints one JSON line. The parent side,
``evaluate_model``, refuses links and oversized files, copies the model out of the student's
workspace and runs that process with only the copy and the dataset cache visible.
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

from grader.sandbox import Limits, SandboxPolicy, run_sandboxed

EVALUATION_TIMEOUT_S = 600.0
SCALINGS = {"0-1": 1 / 255.0, "0-255": 1.0}


@dataclass(frozen=True)
class Evaluation:
    accuracy: float | None
    error: str = ""
    scaling: str = ""


def _fit_inputs(images, input_shape: tuple) -> object:
    """Reshape (N, 28, 28) images to what the model takes: (28, 28), (28, 28, 1) or (784,)."""
    wanted = tuple(input_shape[1:])
    if wanted in {(28, 28), (28, 28, 1), (784,)}:
        return images.reshape((len(images), *wanted))
    raise ValueError(f"the model takes inputs of shape {wanted}, not MNIST's 28 × 28 (× 1) images")


def _measure(model_path: str) -> dict[str, object]:
    import keras
    import numpy as np

    from grader.datasets import load_mnist_arrays

    try:
        model = keras.saving.load_model(model_path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many types for unloadable or unsafe files
        text = str(error)
        if "safe_mode" in text or "Lambda" in text:
            return {"error": "refused: the model contains a Lambda layer (arbitrary code), which is not loaded"}
        return {"error": f"the model could not be loaded: {type(error).__name__}: {text.splitlines()[0][:300]}"}
    output_shape = tuple(model.output_shape) if not isinstance(model.output_shape, list) else ()
    if output_shape[1:] != (10,):
        return {"error": f"the model outputs shape {output_shape[1:]}, not 10 class scores"}
    images, labels = load_mnist_arrays("test")
    try:
        inputs = _fit_inputs(images.astype("float32"), tuple(model.input_shape))
    except ValueError as error:
        return {"error": str(error)}
    results = {}
    for name, factor in SCALINGS.items():
        scores = model.predict(inputs * factor, batch_size=1000, verbose=0)
        results[name] = float(np.mean(np.argmax(scores, axis=1) == labels))
    best = max(results, key=results.__getitem__)
    return {"accuracy": results[best], "scaling": best}


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
            limits=Limits(memory_bytes=8 * 1024**3, max_processes=512),
            env={"HOME": str(scratch), "CNN_GRADER_CACHE": str(cache), "TF_CPP_MIN_LOG_LEVEL": "3",
                 "KERAS_HOME": str(scratch / ".keras"), "CUDA_VISIBLE_DEVICES": "",
                 "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"])},
        )
        result = run_sandboxed([sys.executable, "-I", "-m", "grader.evaluate", str(copy)], policy,
                               timeout=EVALUATION_TIMEOUT_S, stdout_limit=1024**2)
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


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    print(json.dumps(_measure(args[0])), flush=True)


if __name__ == "__main__":
    main()

"""Measure a model's accuracy on the verified MNIST test set; runs inside the evaluation sandbox.

Run as ``python -I -m grader.measure MODEL.keras`` (through the staged runtime) it prints one JSON line.
"""

from __future__ import annotations

import json
import sys
from typing import Any

SCALINGS = {"0-1": 1 / 255.0, "0-255": 1.0}


def _fit_inputs(images: Any, input_shape: tuple) -> Any:
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


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    print(json.dumps(_measure(args[0])), flush=True)


if __name__ == "__main__":
    main()

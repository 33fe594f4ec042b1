"""Exercise 9 end to end: real kernels train real (tiny) CNNs on a slice of MNIST; the grader
measures the handed-off model itself in a separate process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nbformat
import numpy as np
import pytest
import yaml
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.datasets import load_mnist_arrays
from grader.grade import GradeOptions, grade_notebook
from grader.scoring import ExerciseResult
from grader.spec import Spec, bundled_spec_path, load_spec

pytestmark = pytest.mark.slow
MNIST_ONLY = GradeOptions(exercises=(9,), device="cpu")  # the bundled spec requires a GPU; CI has none

TRAIN_TINY = """\
import keras
(x_train, y_train), _ = keras.datasets.mnist.load_data()
x_train = x_train[:3000, ..., None] / 255.0
y_train = y_train[:3000]
{build}
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, epochs=1, batch_size=64, verbose=0)
"""
BUILD_TINY = """\
model = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    keras.layers.Conv2D(8, 3, activation="relu"),
    keras.layers.MaxPooling2D(),
    keras.layers.Flatten(),
    keras.layers.Dense(10, activation="softmax"),
])"""


def _exercise9(*sources: str) -> NotebookNode:
    return new_notebook(cells=[new_markdown_cell("## 9. Your own CNN on MNIST"),
                               *[new_code_cell(source) for source in sources]])


def _ninth(result) -> ExerciseResult:
    (exercise,) = result.exercises
    assert exercise.number == 9
    return exercise


def _own_accuracy(model_path: Path) -> float:
    import keras

    model = keras.saving.load_model(model_path, compile=False)
    images, labels = load_mnist_arrays("test")
    predictions = np.argmax(model.predict(images[..., None] / 255.0, verbose=0), axis=1)
    return float(np.mean(predictions == labels))


def test_tiny_cnn_is_graded_with_the_measured_accuracy(spec: Spec, write_notebook: Callable[..., Path]) -> None:
    notebook = _exercise9(TRAIN_TINY.format(build=BUILD_TINY), "model.save('mnist_cnn.keras')")
    path = write_notebook(notebook)
    exercise = _ninth(grade_notebook(path, spec, MNIST_ONLY))
    check = exercise.checks[0]
    accuracy = exercise.metrics["accuracy"]
    assert 0.5 < accuracy < 0.99
    assert exercise.score == 0 and not check.passed
    assert f"measured {accuracy:.4f} on the saved file mnist_cnn.keras, needs 0.9900" in check.message
    assert exercise.metrics["device"] == "CPU" and exercise.metrics["train_seconds"] > 0
    assert set(exercise.metrics) >= {"accuracy", "reported_accuracy", "device", "train_seconds"}


def test_stored_model_is_measured_exactly(spec: Spec, write_notebook) -> None:
    """With --no-execute the saved model next to the notebook is graded: same accuracy as our own count."""
    import keras

    path = write_notebook(_exercise9("# trained elsewhere"))
    images, labels = load_mnist_arrays("train")
    namespace: dict = {"keras": keras}
    exec(BUILD_TINY, namespace)  # the same tiny network the notebooks build
    model = namespace["model"]
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(images[:2000, ..., None] / 255.0, labels[:2000], epochs=1, batch_size=64, verbose=0)
    model.save(path.parent / "mnist_cnn.keras")
    exercise = _ninth(grade_notebook(path, spec, GradeOptions(execute=False, exercises=(9,), device="cpu")))
    assert exercise.metrics["accuracy"] == pytest.approx(_own_accuracy(path.parent / "mnist_cnn.keras"), abs=1e-9)


def test_model_left_in_a_variable_is_exported_and_can_pass(tmp_path: Path,
                                                           write_notebook: Callable[..., Path]) -> None:
    raw = yaml.safe_load(bundled_spec_path().read_text())
    raw["exercises"][8]["checks"][0]["threshold"] = 0.5
    raw["exercises"][8]["checks"][0]["tiers"] = []
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text(yaml.safe_dump(raw))
    path = write_notebook(_exercise9(TRAIN_TINY.format(build=BUILD_TINY)))
    exercise = _ninth(grade_notebook(path, load_spec(lenient), MNIST_ONLY))
    assert exercise.status == "passed" and exercise.score == exercise.max_score
    assert "on the variable `model`" in exercise.checks[0].message


def test_untrained_model_with_a_fake_printed_accuracy_fails(spec: Spec, write_notebook) -> None:
    notebook = _exercise9("import keras\n" + BUILD_TINY + "\nmodel.save('mnist_cnn.keras')\n"
                          "print('test accuracy: 0.995')")
    exercise = _ninth(grade_notebook(write_notebook(notebook), spec, MNIST_ONLY))
    assert exercise.score == 0
    assert exercise.metrics["reported_accuracy"] == pytest.approx(0.995)
    assert exercise.metrics["accuracy"] < 0.5
    assert "the notebook reported 0.9950" in exercise.checks[0].message


def test_lambda_layer_model_is_refused(spec: Spec, write_notebook) -> None:
    build = BUILD_TINY.replace('keras.Input(shape=(28, 28, 1)),',
                               'keras.Input(shape=(28, 28, 1)),\n    keras.layers.Lambda(lambda t: t * 1.0),')
    notebook = _exercise9(TRAIN_TINY.format(build=build), "model.save('mnist_cnn.keras')")
    exercise = _ninth(grade_notebook(write_notebook(notebook), spec, MNIST_ONLY))
    assert exercise.score == 0
    assert "refused: the model contains a Lambda layer" in exercise.checks[0].message


def test_missing_model_gives_no_model_found(spec: Spec, write_notebook) -> None:
    exercise = _ninth(grade_notebook(write_notebook(_exercise9("print('I trained nothing')")), spec, MNIST_ONLY))
    assert exercise.score == 0 and exercise.metrics["accuracy"] is None
    assert "no model found" in exercise.checks[0].message


def _gpu_spec(tmp_path: Path) -> Spec:
    raw = yaml.safe_load(bundled_spec_path().read_text())
    raw["exercises"][8]["checks"][0]["device"] = "gpu"
    path = tmp_path / "gpu.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_spec(path)


def test_gpu_requirement_without_a_gpu(tmp_path: Path, write_notebook) -> None:
    from grader.model_exercise.device import gpu_count

    if gpu_count():
        pytest.skip("this machine has a GPU")
    notebook = _exercise9(TRAIN_TINY.format(build=BUILD_TINY) + "\nopen('trained.txt', 'w').write('yes')")
    path = write_notebook(notebook)
    blocked = _ninth(grade_notebook(path, _gpu_spec(tmp_path), GradeOptions(exercises=(9,))))
    assert blocked.status == "error" and blocked.score == 0
    assert any(error.startswith("GPU required") for error in blocked.errors)
    assert blocked.metrics["accuracy"] is None
    allowed = _ninth(grade_notebook(path, _gpu_spec(tmp_path), GradeOptions(exercises=(9,), device="cpu")))
    assert allowed.status != "error" and allowed.metrics["accuracy"] > 0.5
    assert allowed.metrics["device"] == "CPU"


def test_reference_notebook_on_a_slice(spec: Spec, reference_path: Path, write_notebook) -> None:
    notebook = nbformat.read(reference_path, as_version=4)
    (parameters,) = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    parameters.source = "EPOCHS = 1\nTRAIN_FRACTION = 0.05\nBATCH_SIZE = 128"
    result = grade_notebook(write_notebook(notebook, "reference"), spec, GradeOptions(device="cpu"))
    by_number = {exercise.number: exercise for exercise in result.exercises}
    assert all(by_number[number].status == "passed" for number in range(1, 9))
    ninth = by_number[9]
    assert not ninth.errors
    assert ninth.metrics["accuracy"] is not None
    outputs = "".join(output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", []))
    assert outputs == ""  # the grader never writes into the student's file

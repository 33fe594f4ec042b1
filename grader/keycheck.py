"""Rebuild an exercise's reference network in Keras and confirm every figure of the key against it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from grader.spec import Exercise, NumericCheck, ReferenceNetwork, ShapeCheck, Spec
from grader.units import to_bytes


@dataclass(frozen=True)
class KeyFigure:
    exercise: int
    check: str
    key: str
    stated: str
    computed: str
    ok: bool


def network_quantities(network: ReferenceNetwork) -> dict[str, object]:
    """Shapes, parameter counts and RAM (bytes, per convention) of the network, computed by Keras."""
    import keras

    inputs = keras.Input(shape=network.input_shape)
    outputs, tensor = [], inputs
    layers = []
    for spec_layer in network.layers:
        layer = keras.layers.Conv2D(
            spec_layer.filters,
            spec_layer.kernel_size,
            strides=spec_layer.strides,
            padding=spec_layer.padding,
            name=spec_layer.name,
        )
        tensor = layer(tensor)
        outputs.append(tensor)
        layers.append(layer)
    model = keras.Model(inputs, tensor)
    quantities: dict[str, object] = {}
    sizes = [math.prod(network.input_shape)]
    for spec_layer, layer, output in zip(network.layers, layers, outputs, strict=True):
        shape = tuple(int(dim) for dim in output.shape[1:])
        quantities[f"{spec_layer.name}.output_shape"] = shape
        quantities[f"{spec_layer.name}.params"] = layer.count_params()
        sizes.append(math.prod(shape))
    params = model.count_params()
    quantities["total_params"] = params
    width, batch = network.dtype_bytes, network.batch_size
    param_bytes = params * width
    largest_pair = max(a + b for a, b in zip(sizes, sizes[1:], strict=False))
    quantities["ram.instance.all_activations"] = sum(sizes) * width + param_bytes
    quantities["ram.instance.without_input"] = sum(sizes[1:]) * width + param_bytes
    quantities["ram.instance.inference"] = largest_pair * width + param_bytes
    quantities["ram.batch.all_activations"] = batch * sum(sizes) * width + param_bytes
    quantities["ram.batch.without_input"] = batch * sum(sizes[1:]) * width + param_bytes
    return quantities


def _decimals(value: float) -> int:
    text = repr(float(value))
    return 0 if text.endswith(".0") else len(text.split(".")[1])


def _numeric_agrees(stated: float, unit: str | None, computed: float) -> bool:
    """Agreement within the precision the key is written to (14.85 MB covers 14.845–14.855 MB)."""
    if unit is None:
        return stated == computed
    half_step = 0.5 * 10 ** -_decimals(stated)
    return abs(to_bytes(stated, unit) - computed) <= to_bytes(half_step, unit)


def _figures(exercise: Exercise, quantities: dict[str, object]) -> list[KeyFigure]:
    figures = []
    for check in exercise.checks:
        if isinstance(check, ShapeCheck) and check.key:
            computed = quantities.get(check.key)
            figures.append(
                KeyFigure(
                    exercise.number, check.id, check.key, str(check.value), str(computed), computed == check.value
                )
            )
        if isinstance(check, NumericCheck):
            stated = [(check.key, check.value, check.unit, check.id)]
            stated += [(alt.key, alt.value, alt.unit, f"{check.id}/{alt.id}") for alt in check.alternatives]
            for key, value, unit, name in stated:
                if key is None:
                    continue
                computed = quantities.get(key)
                ok = isinstance(computed, int | float) and _numeric_agrees(value, unit, float(computed))
                shown = f"{computed:,} B" if unit and isinstance(computed, int) else str(computed)
                figures.append(KeyFigure(exercise.number, name, key, f"{value:g} {unit or ''}".strip(), shown, ok))
    return figures


def check_key(spec: Spec) -> list[KeyFigure]:
    """Every keyed figure of every exercise that describes a reference network."""
    figures: list[KeyFigure] = []
    for exercise in spec.exercises:
        if exercise.reference_network is not None:
            figures += _figures(exercise, network_quantities(exercise.reference_network))
    return figures

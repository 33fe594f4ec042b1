"""How a notebook hands its trained model to the grader.

After the notebook's last cell the grader runs a short epilogue in the same kernel. It looks for the
model file the spec names, else the variable the spec names, else the only trained ``keras.Model`` in
the namespace, exports a variable to a ``.keras`` file, and reports the device TensorFlow used. The
model is then evaluated elsewhere; nothing the epilogue reports decides a grade by itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from string import Template

EXPORT_NAME = ".grader-exported-model.keras"

_EPILOGUE = Template("""\
def _grader_handoff(model_file, variable, export_path):
    import json
    import os
    import sys

    report = {"model": None, "source": None, "variable": None, "device": None, "error": None}
    tf = sys.modules.get("tensorflow")
    keras = sys.modules.get("keras")
    if tf is not None:
        try:
            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                details = tf.config.experimental.get_device_details(gpus[0])
                report["device"] = f"GPU 0: {details.get('device_name', 'unknown')}"
            else:
                report["device"] = "CPU"
        except Exception:
            pass
    namespace = globals()
    if os.path.isfile(model_file):
        report.update(model=model_file, source="file")
    elif keras is not None:
        found = namespace.get(variable)
        if isinstance(found, keras.Model):
            chosen = [(variable, found, "variable")]
        else:
            def trained(candidate):
                optimizer = getattr(candidate, "optimizer", None)
                return optimizer is not None and int(optimizer.iterations) > 0

            models = [(name, value) for name, value in list(namespace.items())
                      if not name.startswith("_") and isinstance(value, keras.Model) and trained(value)]
            chosen = [(name, value, "only-model") for name, value in models] if len(models) == 1 else []
        if chosen:
            name, found, source = chosen[0]
            try:
                found.save(export_path)
                report.update(model=export_path, source=source, variable=name)
            except Exception as error:
                report["error"] = f"could not save `{name}`: {type(error).__name__}: {error}"
    print(json.dumps(report))


_grader_handoff($model_file, $variable, $export_path)
del _grader_handoff
""")


@dataclass(frozen=True)
class Handoff:
    """What the epilogue found: the model file (inside the workspace) and the device in use."""

    model: Path | None
    source: str | None
    variable: str | None
    device: str | None
    error: str | None

    def describe(self) -> str:
        if self.source == "file":
            return f"the saved file {self.model.name if self.model else ''}"
        if self.source == "variable":
            return f"the variable `{self.variable}`"
        if self.source == "only-model":
            return f"`{self.variable}`, the only trained Keras model in the notebook"
        return "no model"


def epilogue_source(model_file: str, variable: str) -> str:
    return _EPILOGUE.substitute(model_file=repr(model_file), variable=repr(variable), export_path=repr(EXPORT_NAME))


def read_handoff(output: str, workdir: Path) -> Handoff:
    """Parse the epilogue's report; paths are resolved inside ``workdir`` and never outside it."""
    try:
        report = json.loads(output.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return Handoff(None, None, None, None, "the notebook ended before the grader could look for a model")
    model = report.get("model")
    path = (workdir / model) if isinstance(model, str) else None
    if path is not None and workdir.resolve() not in path.resolve().parents:
        path = None
    return Handoff(path, report.get("source"), report.get("variable"), report.get("device"), report.get("error"))

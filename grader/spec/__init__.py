"""Exercise specs: the YAML format, its validation and the plain-data model the grader runs on."""

from grader.spec.load import SpecError, SpecProblem, bundled_spec_path, load_spec
from grader.spec.model import (
    AccuracyTier,
    Alternative,
    Check,
    Concept,
    ConvLayer,
    Exercise,
    ExerciseLimits,
    Limits,
    ModelAccuracyCheck,
    NumericCheck,
    ReferenceNetwork,
    RubricCheck,
    ShapeCheck,
    Spec,
)

__all__ = [
    "AccuracyTier",
    "Alternative",
    "Check",
    "Concept",
    "ConvLayer",
    "Exercise",
    "ExerciseLimits",
    "Limits",
    "ModelAccuracyCheck",
    "NumericCheck",
    "ReferenceNetwork",
    "RubricCheck",
    "ShapeCheck",
    "Spec",
    "SpecError",
    "SpecProblem",
    "bundled_spec_path",
    "load_spec",
]

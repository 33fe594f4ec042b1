"""The spec as plain data: exercises, their checks and the reference network of exercise 2."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Alternative:
    """Another answer accepted for a numeric check, with the convention that justifies it."""

    id: str
    value: float
    unit: str | None
    reason: str
    key: str | None = None


@dataclass(frozen=True)
class NumericCheck:
    """A number (optionally with a memory unit) that must appear near some words.

    ``implied_by`` names a check whose right answer implies this one (a layer's parameters in a right
    total): when the student does not state this figure at all, that check's success earns it.
    """

    id: str
    label: str
    points: float
    value: float
    unit: str | None = None
    rel_tol: float = 0.0
    abs_tol: float = 0.0
    accept_rounded: bool = True
    near: tuple[str, ...] = ()
    alternatives: tuple[Alternative, ...] = ()
    key: str | None = None
    hint: str = ""
    implied_by: str | None = None
    kind: str = field(default="numeric", init=False)


@dataclass(frozen=True)
class ShapeCheck:
    """A tensor shape (batch dimension optional) that must appear near some words."""

    id: str
    label: str
    points: float
    value: tuple[int, ...]
    near: tuple[str, ...] = ()
    key: str | None = None
    hint: str = ""
    kind: str = field(default="shape", init=False)


@dataclass(frozen=True)
class Concept:
    """One idea a free-text answer should contain, said in any of its phrasings (language -> phrasings).

    ``about`` names what the idea belongs to (an architecture, say): the idea then counts only when
    said next to one of those names, not next to another idea's. ``wrong`` are known wrong claims about
    it (per language): said of the same subject, they keep the idea from counting.
    """

    id: str
    label: str
    phrasings: dict[str, tuple[str, ...]]
    hint: str = ""
    about: tuple[str, ...] = ()
    wrong: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class RubricCheck:
    """Free text scored by the ideas it states.

    Full marks at ``full_at`` ideas (all of ``required`` among them), partial credit from ``partial_at``
    ideas. With ``explain``, a bare list of keywords is capped below full. ``contrast`` are the terms for
    what the answer compares against (a dense network): a negation about them does not negate an idea.
    """

    id: str
    label: str
    points: float
    concepts: tuple[Concept, ...]
    pass_points: float
    full_at: int
    partial_at: int = 1
    required: tuple[str, ...] = ()
    explain: bool = False
    contrast: tuple[str, ...] = ()
    kind: str = field(default="rubric", init=False)

    @property
    def languages(self) -> frozenset[str]:
        """The languages every idea of this rubric can be recognised in."""
        per_concept = [set(concept.phrasings) for concept in self.concepts]
        return frozenset(set.intersection(*per_concept)) if per_concept else frozenset()


@dataclass(frozen=True)
class AccuracyTier:
    """Partial credit for a model below the threshold: ``points`` from ``accuracy`` up."""

    accuracy: float
    points: float


@dataclass(frozen=True)
class ModelAccuracyCheck:
    """A trained model handed off by the notebook, evaluated by the grader itself. Full points at
    ``threshold``; ``tiers`` give partial credit below it (highest accuracy first)."""

    id: str
    label: str
    points: float
    dataset: str
    metric: str
    threshold: float
    device: str = "any"
    model_file: str = "model.keras"
    model_variable: str = "model"
    max_model_mb: float = 200.0
    hint: str = ""
    tiers: tuple[AccuracyTier, ...] = ()
    kind: str = field(default="model_accuracy", init=False)


Check = NumericCheck | ShapeCheck | RubricCheck | ModelAccuracyCheck


@dataclass(frozen=True)
class ConvLayer:
    """A 2-D convolution of the reference network."""

    name: str
    filters: int
    kernel_size: int
    strides: int
    padding: str


@dataclass(frozen=True)
class ReferenceNetwork:
    """The network an exercise describes, rebuilt by ``grader keycheck`` to confirm the key."""

    input_shape: tuple[int, int, int]
    layers: tuple[ConvLayer, ...]
    dtype_bytes: int
    batch_size: int


@dataclass(frozen=True)
class ExerciseLimits:
    """One exercise's own limits; each one left out is the spec-wide value.

    ``cell_timeout`` applies to each of its cells, ``timeout`` to all its cells together (default: its cells'
    limits added up), ``memory_mb`` to the kernel's processes together while its cells run.
    """

    cell_timeout: float | None = None
    timeout: float | None = None
    memory_mb: int | None = None


@dataclass(frozen=True)
class Exercise:
    number: int
    id: str
    title: str
    prompt: str
    points: float
    checks: tuple[Check, ...]
    reference_network: ReferenceNetwork | None = None
    limits: ExerciseLimits = ExerciseLimits()


@dataclass(frozen=True)
class Limits:
    """Execution limits a spec may set, the defaults for every exercise; the CLI may override them.

    ``notebook_timeout`` caps the whole run, which otherwise gets what its exercises may use added up.
    """

    cell_timeout: float = 600.0
    notebook_timeout: float = 3600.0
    memory_mb: int = 6144
    max_processes: int = 512
    max_file_mb: int = 1024
    max_output_mb: int = 20


@dataclass(frozen=True)
class Spec:
    id: str
    title: str
    path: Path
    exercises: tuple[Exercise, ...]
    limits: Limits = Limits()

    @property
    def max_score(self) -> float:
        return sum(exercise.points for exercise in self.exercises)

    @property
    def numbers(self) -> frozenset[int]:
        """The exercises' numbers."""
        return frozenset(exercise.number for exercise in self.exercises)

    def exercise(self, number: int) -> Exercise:
        for exercise in self.exercises:
            if exercise.number == number:
                return exercise
        raise KeyError(number)

"""Load a YAML spec, validate it against the JSON schema and its own rules, and build the model.

Every problem is reported with the file, the line and the field, all at once.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

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
from grader.text.words import STEMMED_LANGUAGES

FieldPath = tuple[str | int, ...]

_LANGUAGE_CODES = (*STEMMED_LANGUAGES, "zh")


@dataclass(frozen=True)
class SpecProblem:
    file: Path
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f" {self.field}:" if self.field else ""
        return f"{self.file}:{self.line}:{where} {self.message}"


class SpecError(Exception):
    """A spec that cannot be used; carries every problem found."""

    def __init__(self, problems: list[SpecProblem]):
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


@cache
def _schema() -> dict[str, Any]:
    return json.loads(resources.files("grader.spec").joinpath("schema.json").read_text(encoding="utf-8"))


def _field_name(path: FieldPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


class _Located:
    """The YAML document as data plus the line where every field starts."""

    def __init__(self, file: Path, text: str):
        self.file = file
        self.lines: dict[FieldPath, int] = {}
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
            self.data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            line = mark.line + 1 if mark else 1
            raise SpecError([SpecProblem(file, line, "", f"not valid YAML: {error}")]) from None
        if node is not None:
            self._index(node, ())

    def _index(self, node: yaml.Node, path: FieldPath) -> None:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = (*path, key.value)
                self._index(value, child)
                self.lines[child] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self._index(item, (*path, index))

    def problem(self, path: FieldPath, message: str) -> SpecProblem:
        probe = path
        while probe not in self.lines and probe:
            probe = probe[:-1]
        return SpecProblem(self.file, self.lines.get(probe, 1), _field_name(path), message)


def _schema_problems(doc: _Located) -> list[SpecProblem]:
    validator = jsonschema.Draft202012Validator(_schema())
    problems = []
    for error in validator.iter_errors(doc.data):
        leaves = list(error.context) if error.context else [error]
        for leaf in leaves:
            problems.append(doc.problem(tuple(leaf.absolute_path), _explain(leaf)))
    return sorted(problems, key=lambda problem: problem.line)


def _explain(error: jsonschema.ValidationError) -> str:
    if error.validator == "enum":
        return f"{error.instance!r} is not allowed; expected one of {', '.join(map(repr, error.validator_value))}"
    if error.validator == "pattern" and error.absolute_path and error.absolute_path[-1] == "id":
        return f"{error.instance!r} is not a valid id; expected lowercase letters, digits, '-', '_' or '.'"
    return error.message


def _rule_problems(doc: _Located) -> list[SpecProblem]:
    """Rules a JSON schema cannot express: unique ids, points that add up, regexes that compile."""
    problems: list[SpecProblem] = []
    seen_numbers: set[int] = set()
    seen_ids: set[str] = set()
    for index, exercise in enumerate(doc.data["exercises"]):
        where = ("exercises", index)
        if exercise["number"] in seen_numbers:
            problems.append(doc.problem((*where, "number"), f"exercise number {exercise['number']} repeats"))
        if exercise["id"] in seen_ids:
            problems.append(doc.problem((*where, "id"), f"exercise id {exercise['id']!r} repeats"))
        seen_numbers.add(exercise["number"])
        seen_ids.add(exercise["id"])
        total = sum(check["points"] for check in exercise["checks"])
        if not math.isclose(total, exercise["points"]):
            problems.append(
                doc.problem((*where, "points"), f"is {exercise['points']} but its checks add up to {total}")
            )
        problems += _check_rules(doc, exercise, where)
    return problems


def _check_rules(doc: _Located, exercise: dict[str, Any], where: FieldPath) -> list[SpecProblem]:
    problems: list[SpecProblem] = []
    check_ids: set[str] = set()
    for index, check in enumerate(exercise["checks"]):
        at = (*where, "checks", index)
        if check["id"] in check_ids:
            problems.append(doc.problem((*at, "id"), f"check id {check['id']!r} repeats in this exercise"))
        check_ids.add(check["id"])
        if "key" in check and "reference_network" not in exercise:
            problems.append(doc.problem((*at, "key"), "names a key but the exercise has no reference_network"))
        for alt_index, alternative in enumerate(check.get("alternatives", [])):
            if "unit" in alternative and "unit" not in check:
                problems.append(doc.problem((*at, "alternatives", alt_index, "unit"), "the check itself has no unit"))
        if check["kind"] == "rubric":
            problems += _rubric_rules(doc, check, at)
        if check["kind"] == "model_accuracy":
            problems += _tier_rules(doc, check, at)
        others = {other["id"] for other in exercise["checks"]} - {check["id"]}
        if "implied_by" in check and check["implied_by"] not in others:
            problems.append(doc.problem((*at, "implied_by"), "does not name another check of this exercise"))
    return problems


def _tier_rules(doc: _Located, check: dict[str, Any], at: FieldPath) -> list[SpecProblem]:
    """Tiers stand below the threshold, give less than full points, and fall together."""
    problems: list[SpecProblem] = []
    higher = (check["threshold"], check["points"])
    for index, tier in enumerate(check.get("tiers", [])):
        if not (tier["accuracy"] < higher[0] and tier["points"] < higher[1]):
            problems.append(
                doc.problem(
                    (*at, "tiers", index), "must be below the threshold and the tier before it, in accuracy and points"
                )
            )
        higher = (tier["accuracy"], tier["points"])
    return problems


def _rubric_rules(doc: _Located, check: dict[str, Any], at: FieldPath) -> list[SpecProblem]:
    problems: list[SpecProblem] = []
    ids = [concept["id"] for concept in check["concepts"]]
    if check.get("pass_points", 0) > check["points"]:
        problems.append(doc.problem((*at, "pass_points"), "is more than the check's points"))
    if check.get("full_at", len(ids)) > len(ids):
        problems.append(doc.problem((*at, "full_at"), f"is more than the {len(ids)} ideas of this rubric"))
    if check.get("partial_at", 1) > check.get("full_at", len(ids)):
        problems.append(doc.problem((*at, "partial_at"), "is more than full_at"))
    for index, required in enumerate(check.get("required", [])):
        if required not in ids:
            problems.append(doc.problem((*at, "required", index), f"{required!r} is not an idea of this rubric"))
    for concept_index, concept in enumerate(check["concepts"]):
        for language in concept["phrasings"]:
            if language not in _LANGUAGE_CODES:
                path = (*at, "concepts", concept_index, "phrasings", language)
                problems.append(doc.problem(path, f"unknown language code (known: {', '.join(_LANGUAGE_CODES)})"))
    return problems


def _numeric(raw: dict[str, Any]) -> NumericCheck:
    tolerance = raw.get("tolerance", {})
    unit = raw.get("unit")
    alternatives = tuple(
        Alternative(
            id=alt["id"], value=alt["value"], unit=alt.get("unit", unit), reason=alt["reason"], key=alt.get("key")
        )
        for alt in raw.get("alternatives", [])
    )
    return NumericCheck(
        id=raw["id"],
        label=raw["label"],
        points=raw["points"],
        value=raw["value"],
        unit=unit,
        rel_tol=tolerance.get("rel", 0.0),
        abs_tol=tolerance.get("abs", 0.0),
        accept_rounded=raw.get("accept_rounded", True),
        near=tuple(raw.get("near", [])),
        alternatives=alternatives,
        key=raw.get("key"),
        hint=raw.get("hint", ""),
        implied_by=raw.get("implied_by"),
    )


def _check(raw: dict[str, Any]) -> Check:
    common = {"id": raw["id"], "label": raw["label"], "points": raw["points"]}
    kind = raw["kind"]
    if kind == "numeric":
        return _numeric(raw)
    if kind == "shape":
        return ShapeCheck(
            **common,
            value=tuple(raw["value"]),
            near=tuple(raw.get("near", [])),
            key=raw.get("key"),
            hint=raw.get("hint", ""),
        )
    if kind == "rubric":
        concepts = tuple(
            Concept(
                id=c["id"],
                label=c["label"],
                hint=c.get("hint", ""),
                about=tuple(c.get("about", [])),
                phrasings={language: tuple(texts) for language, texts in c["phrasings"].items()},
                wrong={language: tuple(texts) for language, texts in c.get("wrong", {}).items()},
            )
            for c in raw["concepts"]
        )
        return RubricCheck(
            **common,
            concepts=concepts,
            pass_points=raw.get("pass_points", raw["points"]),
            full_at=raw.get("full_at", len(concepts)),
            partial_at=raw.get("partial_at", 1),
            required=tuple(raw.get("required", [])),
            explain=raw.get("explain", False),
            contrast=tuple(raw.get("contrast", [])),
        )
    optional = {
        name: raw[name]
        for name in ("metric", "device", "model_file", "model_variable", "max_model_mb", "hint")
        if name in raw
    }
    tiers = tuple(AccuracyTier(tier["accuracy"], tier["points"]) for tier in raw.get("tiers", []))
    return ModelAccuracyCheck(**common, dataset=raw["dataset"], threshold=raw["threshold"], tiers=tiers, **optional)


def _network(raw: dict[str, Any]) -> ReferenceNetwork:
    return ReferenceNetwork(
        input_shape=tuple(raw["input_shape"]),
        layers=tuple(ConvLayer(**layer) for layer in raw["layers"]),
        dtype_bytes=raw.get("dtype_bytes", 4),
        batch_size=raw.get("batch_size", 1),
    )


def _build(file: Path, data: dict[str, Any]) -> Spec:
    exercises = tuple(
        Exercise(
            number=raw["number"],
            id=raw["id"],
            title=raw["title"],
            prompt=raw["prompt"],
            points=raw["points"],
            checks=tuple(_check(check) for check in raw["checks"]),
            reference_network=_network(raw["reference_network"]) if "reference_network" in raw else None,
            limits=ExerciseLimits(**raw.get("limits", {})),
        )
        for raw in sorted(data["exercises"], key=lambda raw: raw["number"])
    )
    return Spec(
        id=data["id"], title=data["title"], path=file, exercises=exercises, limits=Limits(**data.get("limits", {}))
    )


def load_spec(path: Path | str) -> Spec:
    """Read and validate a spec; raise SpecError listing every problem with its line."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError([SpecProblem(file, 1, "", f"cannot read the spec: {error}")]) from None
    doc = _Located(file, text)
    if not isinstance(doc.data, dict):
        raise SpecError([doc.problem((), "expected a mapping with id, title and exercises at the top")])
    problems = _schema_problems(doc)
    if not problems:
        problems = _rule_problems(doc)
    if problems:
        raise SpecError(problems)
    return _build(file, doc.data)


def bundled_spec_path(name: str = "ch14") -> Path:
    """The chapter spec shipped with the package (wheel) or beside it (source checkout)."""
    installed = Path(str(resources.files("grader"))) / "bundled" / "exercises" / f"{name}.yaml"
    if installed.is_file():
        return installed
    return Path(__file__).resolve().parents[2] / "exercises" / f"{name}.yaml"

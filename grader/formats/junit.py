"""JUnit XML for CI: a test suite per submission, a test case per check, in OUT/junit.xml.

A check that lost points is a ``failure``; in an exercise whose cells raised, timed out or could not run,
it is an ``error`` carrying that exercise's errors; checks of a skipped exercise are ``skipped``. A
notebook that could not be graded is a suite with one erroring case. Messages are the student-facing
ones, since CI logs are often visible to students.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from grader.formats.student import clean, exercise_feedback, output_stems
from grader.scoring import ExerciseResult, ExerciseStatus, SubmissionResult, SubmissionStatus
from grader.spec import Spec

FILE = "junit.xml"
_COUNTED = {"failures": "failure", "errors": "error", "skipped": "skipped"}


def _case(suite: ET.Element, classname: str, name: str) -> ET.Element:
    return ET.SubElement(suite, "testcase", classname=classname, name=name, time="0")


def _exercise_cases(suite: ET.Element, exercise: ExerciseResult) -> None:
    item = exercise_feedback(exercise)
    for check in item.checks:
        case = _case(suite, exercise.id, check.id)
        if item.status is ExerciseStatus.SKIPPED:
            ET.SubElement(case, "skipped", message=f"exercise {item.number} was not graded in this run")
        elif check.lost > 0:
            text = check.line()
            if item.errors:
                ET.SubElement(case, "error", message=item.errors[0], type="exercise-error").text = "\n".join(
                    [*item.errors, text]
                )
            else:
                ET.SubElement(case, "failure", message=text, type="lost-points").text = text


def _properties(suite: ET.Element, result: SubmissionResult) -> None:
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="path", value=clean(result.path))
    ET.SubElement(properties, "property", name="score", value=f"{result.score:g}/{result.max_score:g}")
    for exercise in result.exercises:
        note = exercise_feedback(exercise).manual
        if note:
            ET.SubElement(properties, "property", name=f"manual exercise {exercise.number}", value=note)


def _suite(stem: str, result: SubmissionResult) -> ET.Element:
    suite = ET.Element("testsuite", name=stem, time=f"{result.seconds:g}")
    _properties(suite, result)
    if result.status is not SubmissionStatus.GRADED:
        case = _case(suite, "notebook", "read")
        ET.SubElement(case, "error", message=clean(result.error), type="not-graded")
    for exercise in result.exercises:
        _exercise_cases(suite, exercise)
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    for attribute, tag in _COUNTED.items():
        suite.set(attribute, str(sum(case.find(tag) is not None for case in cases)))
    return suite


def junit_xml(results: Sequence[SubmissionResult], spec: Spec) -> ET.ElementTree:
    """The JUnit document: ``<testsuites>`` with one ``<testsuite>`` per submission."""
    root = ET.Element("testsuites", name=spec.id)
    for stem, result in zip(output_stems(results), results, strict=True):
        root.append(_suite(stem, result))
    for attribute in ("tests", *_COUNTED):
        root.set(attribute, str(sum(int(suite.get(attribute, "0")) for suite in root)))
    return ET.ElementTree(root)


def write_junit(results: Sequence[SubmissionResult], spec: Spec, out: Path) -> list[Path]:
    """Write OUT/junit.xml."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / FILE
    tree = junit_xml(results, spec)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return [path]

"""A student's self-check: the grader's own checks on one notebook, each lost point explained in words.

A lost point is explained by the check's label, what was found in the notebook and the spec's hints,
never by the reference answer: a CheckResult's ``expected`` and ``message`` (which quotes it) are not
shown, and a rubric names the ideas still missing only through their hints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grader.checks import CheckResult
from grader.grade import GradeOptions, grade_notebook, no_progress
from grader.scoring import ExerciseResult, SubmissionResult
from grader.spec import Check, ModelAccuracyCheck, RubricCheck, Spec

DONE = ("passed", "skipped")
SKIPPED_NOTE = "not run (--skip-training): `grader grade` trains the model and measures it"
_STYLES = {"passed": "green", "partial": "yellow", "failed": "red", "error": "red", "skipped": "cyan"}
_RUBRIC_SEPARATOR = "; "



@dataclass(frozen=True)
class Remark:
    """Why points were lost, in words: what the check looks for and found, and hints."""

    points_lost: float
    text: str
    hints: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExerciseFeedback:
    number: int
    title: str
    score: float
    max_score: float
    status: str
    remarks: tuple[Remark, ...]
    errors: tuple[str, ...]


def check_notebook(path: Path, spec: Spec, exercises: tuple[int, ...] = (), skip_training: bool = False,
                   execute: bool = True, progress: Callable[[str], None] = no_progress) -> SubmissionResult:
    """Grade one notebook exactly as ``grader grade`` does, optionally without training its model."""
    options = GradeOptions(execute=execute, exercises=exercises, skip_training=skip_training, progress=progress)
    return grade_notebook(path, spec, options)


def all_passed(result: SubmissionResult) -> bool:
    """Every exercise checked passed (a skipped model exercise does not count against it)."""
    return result.status == "graded" and all(exercise.status in DONE for exercise in result.exercises)


def _rubric_remark(result: CheckResult, check: RubricCheck, lost: float) -> Remark:
    if not result.found:
        return Remark(lost, f"{result.label}: no answer found", tuple(c.hint for c in check.concepts if c.hint))
    recognised = set(result.found.split(_RUBRIC_SEPARATOR))
    count = sum(concept.label in recognised for concept in check.concepts)
    missing = tuple(concept.hint for concept in check.concepts if concept.label not in recognised and concept.hint)
    ideas = "idea" if count == 1 else "ideas"
    return Remark(lost, f"{result.label}: {result.score:g}/{result.points:g}, {count} {ideas} recognised", missing)


def _model_remark(result: CheckResult, check: ModelAccuracyCheck, lost: float) -> Remark:
    """The accuracy target is the assignment's stated goal, not an answer, so it is shown."""
    if result.found:
        text = f"{result.label}: measured {result.found}, needs at least {check.threshold:.4f}"
    else:
        text = f"{result.label}: {result.message.removeprefix(f'{result.label}: ')}"
    return Remark(lost, text, (check.hint,) if check.hint else ())


def _remark(result: CheckResult, check: Check) -> Remark:
    lost = result.points - result.score
    if isinstance(check, RubricCheck):
        return _rubric_remark(result, check, lost)
    if isinstance(check, ModelAccuracyCheck):
        return _model_remark(result, check, lost)
    found = f"found {result.found}" if result.found else "no answer found"
    return Remark(lost, f"{result.label}: {found}", (check.hint,) if check.hint else ())


def _exercise_feedback(exercise: ExerciseResult, spec: Spec) -> ExerciseFeedback:
    checks = {check.id: check for check in spec.exercise(exercise.number).checks}
    remarks = () if exercise.status == "skipped" else tuple(
        _remark(result, checks[result.id]) for result in exercise.checks if result.score < result.points
    )
    return ExerciseFeedback(exercise.number, exercise.title, exercise.score, exercise.max_score, exercise.status,
                            remarks, exercise.errors)


def explain(result: SubmissionResult, spec: Spec) -> list[ExerciseFeedback]:
    """Feedback for each exercise graded, safe to show the student."""
    return [_exercise_feedback(exercise, spec) for exercise in result.exercises]


def _status(status: str) -> str:
    return f"[{_STYLES.get(status, 'default')}]{status}[/]"


def print_feedback(result: SubmissionResult, spec: Spec, console: Console) -> None:
    """A score table, then every lost point with what was found and hints, then the verdict."""
    name = escape(Path(result.path).name)
    if result.status != "graded":
        console.print(f"[red]{name}: {escape(result.error)}[/red]", highlight=False)
        return
    feedback = explain(result, spec)
    table = Table(title=f"{name} — {escape(spec.title)}")
    for column, justify in (("#", "right"), ("exercise", "left"), ("score", "right"), ("status", "left")):
        table.add_column(column, justify=justify, overflow="fold")
    for item in feedback:
        table.add_row(str(item.number), escape(item.title), f"{item.score:g}/{item.max_score:g}", _status(item.status))
    console.print(table)
    for note in result.notes:
        console.print(f"note: {escape(note)}", highlight=False)
    for item in feedback:
        _print_exercise(item, console)
    _print_verdict(result, feedback, console)


def _print_exercise(item: ExerciseFeedback, console: Console) -> None:
    if item.status == "skipped":
        console.print(f"\n[bold]{item.number}. {escape(item.title)}[/bold] — [cyan]{SKIPPED_NOTE}[/cyan]",
                      highlight=False)
        return
    if not item.remarks and not item.errors:
        return
    console.print(f"\n[bold]{item.number}. {escape(item.title)}[/bold] ({item.score:g}/{item.max_score:g})",
                  highlight=False)
    for error in item.errors:
        console.print(f"  [red]error[/red] {escape(error)}", highlight=False)
    for remark in item.remarks:
        console.print(f"  [red]-{remark.points_lost:g}[/red] {escape(remark.text)}", highlight=False)
        for hint in remark.hints:
            console.print(f"      [dim]hint:[/dim] {escape(hint)}", highlight=False)


def _print_verdict(result: SubmissionResult, feedback: list[ExerciseFeedback], console: Console) -> None:
    passed = sum(item.status == "passed" for item in feedback)
    skipped = [item.number for item in feedback if item.status == "skipped"]
    console.print(f"\nscore {result.score:g}/{result.max_score:g}: {passed} of {len(feedback)} exercises passed",
                  highlight=False)
    if skipped:
        numbers = ", ".join(map(str, skipped))
        console.print(f"[cyan]exercise {numbers} skipped (--skip-training): its points are not earned here[/cyan]",
                      highlight=False)
    if all_passed(result):
        console.print("[green]every check run passed[/green]", highlight=False)

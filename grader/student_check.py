"""A student's self-check: the grader's own checks on one notebook, printed with the student-facing text
of ``grader.formats.student`` (what was recognised, what was found, hints; never the answer key).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.console import Console, JustifyMethod
from rich.markup import escape
from rich.table import Table

from grader.formats.student import (
    SKIPPED_NOTE,
    UNSURE_NOTE,
    ExerciseFeedback,
    SubmissionFeedback,
    submission_feedback,
)
from grader.grade import GradeOptions, grade_notebook, no_progress
from grader.scoring import ExerciseStatus, SubmissionResult, SubmissionStatus
from grader.spec import Spec

DONE = (ExerciseStatus.PASSED, ExerciseStatus.SKIPPED)
_STYLES = {
    ExerciseStatus.PASSED: "green",
    ExerciseStatus.PARTIAL: "yellow",
    ExerciseStatus.FAILED: "red",
    ExerciseStatus.ERROR: "red",
    ExerciseStatus.SKIPPED: "cyan",
}


def check_notebook(
    path: Path,
    spec: Spec,
    exercises: tuple[int, ...] = (),
    skip_training: bool = False,
    execute: bool = True,
    progress: Callable[[str], None] = no_progress,
) -> SubmissionResult:
    """Grade one notebook exactly as ``grader grade`` does, optionally without training its model."""
    options = GradeOptions(execute=execute, exercises=exercises, skip_training=skip_training, progress=progress)
    return grade_notebook(path, spec, options)


def all_passed(result: SubmissionResult) -> bool:
    """Every exercise checked passed (a skipped model exercise does not count against it)."""
    return result.status is SubmissionStatus.GRADED and all(exercise.status in DONE for exercise in result.exercises)


def _status(status: ExerciseStatus) -> str:
    return f"[{_STYLES[status]}]{status}[/]"


def print_feedback(result: SubmissionResult, spec: Spec, console: Console) -> None:
    """A score table, then what each exercise lost (what was found and hints), then the verdict."""
    name = escape(Path(result.path).name)
    if result.status is not SubmissionStatus.GRADED:
        console.print(f"[red]{name}: {escape(result.error)}[/red]", highlight=False)
        return
    page = submission_feedback(result)
    table = Table(title=f"{name} — {escape(spec.title)}")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("#", "right"),
        ("exercise", "left"),
        ("score", "right"),
        ("status", "left"),
    )
    for column, justify in columns:
        table.add_column(column, justify=justify, overflow="fold")
    for item in page.exercises:
        table.add_row(str(item.number), escape(item.title), f"{item.score:g}/{item.max_score:g}", _status(item.status))
    console.print(table)
    for note in page.notes:
        console.print(f"note: {escape(note)}", highlight=False)
    for item in page.exercises:
        _print_exercise(item, console)
    _print_verdict(result, page, console)


def _print_exercise(item: ExerciseFeedback, console: Console) -> None:
    if item.status is ExerciseStatus.SKIPPED:
        console.print(
            f"\n[bold]{item.number}. {escape(item.title)}[/bold] — [cyan]{SKIPPED_NOTE}[/cyan]", highlight=False
        )
        return
    if not (item.lost or item.errors or item.unsure):
        return
    console.print(
        f"\n[bold]{item.number}. {escape(item.title)}[/bold] ({item.score:g}/{item.max_score:g})", highlight=False
    )
    if item.unsure:
        console.print(f"  [yellow]{UNSURE_NOTE}[/yellow]", highlight=False)
    for error in item.errors:
        console.print(f"  [red]error[/red] {escape(error)}", highlight=False)
    for check in item.lost:
        console.print(f"  [red]-{check.lost:g}[/red] {escape(check.label)}: {escape(check.summary)}", highlight=False)
        for hint in check.hints:
            console.print(f"      [dim]hint:[/dim] {escape(hint)}", highlight=False)


def _print_verdict(result: SubmissionResult, page: SubmissionFeedback, console: Console) -> None:
    passed = sum(item.status is ExerciseStatus.PASSED for item in page.exercises)
    skipped = [item.number for item in page.exercises if item.status is ExerciseStatus.SKIPPED]
    console.print(
        f"\nscore {result.score:g}/{result.max_score:g}: {passed} of {len(page.exercises)} exercises passed",
        highlight=False,
    )
    if skipped:
        numbers = ", ".join(map(str, skipped))
        console.print(
            f"[cyan]exercise {numbers} skipped (--skip-training): its points are not earned here[/cyan]",
            highlight=False,
        )
    if all_passed(result):
        console.print("[green]every check run passed[/green]", highlight=False)

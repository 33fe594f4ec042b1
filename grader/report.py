"""The summary table in the terminal: a row per submission, then every lost point and review flag."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grader.scoring import SubmissionResult, SubmissionStatus
from grader.spec import Spec
from grader.store import review_count


def print_summary(results: Sequence[SubmissionResult], spec: Spec, console: Console) -> None:
    """One row per submission, one column per exercise, then every lost point with its reason."""
    table = Table(title=spec.title, show_lines=False)
    table.add_column("submission", overflow="fold")
    for exercise in spec.exercises:
        table.add_column(str(exercise.number), justify="right")
    table.add_column("total", justify="right")
    for result in results:
        by_number = {exercise.number: exercise for exercise in result.exercises}
        cells = []
        for exercise in spec.exercises:
            graded = by_number.get(exercise.number)
            cells.append("" if graded is None else f"{graded.score:g}/{graded.max_score:g}")
        total = (
            f"{result.score:g}/{result.max_score:g}"
            if result.status is SubmissionStatus.GRADED
            else "[red]failed[/red]"
        )
        table.add_row(Path(result.path).name, *cells, total)
    console.print(table)
    for result in results:
        _print_reasons(result, console)
    flagged = sum(map(review_count, results))
    if flagged:
        console.print(
            f"[bold yellow]{flagged} exercise{'s' if flagged != 1 else ''} need"
            f"{'' if flagged != 1 else 's'} review[/bold yellow]",
            highlight=False,
        )


def _print_reasons(result: SubmissionResult, console: Console) -> None:
    lines = [f"  [red]{result.error}[/red]"] if result.error else []
    lines += [f"  note: {note}" for note in result.notes]
    for exercise in result.exercises:
        for error in exercise.errors:
            lines.append(f"  {exercise.number}. [yellow]{error}[/yellow]")
        for check in exercise.checks:
            if check.score < check.points:
                lines.append(f"  {exercise.number}. -{check.points - check.score:g}: {check.message}")
        if exercise.awaits_review:
            lines.append(f"  {exercise.number}. [yellow]review:[/yellow] {escape('; '.join(exercise.review.reasons))}")
        if exercise.manual is not None:
            lines.append(
                f"  {exercise.number}. manual grade {exercise.manual.points:g} (graded "
                f"{exercise.manual.original_score:g}) {escape(exercise.manual.comment)}".rstrip()
            )
    if lines:
        console.print(f"[bold]{Path(result.path).name}[/bold] ({result.score:g}/{result.max_score:g})", highlight=False)
        for line in lines:
            console.print(line, highlight=False)

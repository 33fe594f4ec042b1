"""The class summary: per-exercise means and pass rates, the hardest checks, a score histogram."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console, JustifyMethod
from rich.markup import escape
from rich.table import Table

from grader.checks import CheckResult
from grader.scoring import ExerciseResult, ExerciseStatus, SubmissionResult, SubmissionStatus

HISTOGRAM_FILE = "histogram.png"


@dataclass(frozen=True)
class ExerciseStats:
    number: int
    title: str
    graded: int
    mean: float
    max_score: float
    pass_rate: float
    to_review: int


@dataclass(frozen=True)
class CheckStats:
    """How well a check went: its mean score as a fraction of its points, over ``graded`` submissions."""

    exercise: int
    id: str
    label: str
    graded: int
    mean_fraction: float


@dataclass(frozen=True)
class ClassSummary:
    graded: int
    percents: tuple[float, ...]
    exercises: tuple[ExerciseStats, ...]
    checks: tuple[CheckStats, ...]
    failed: tuple[SubmissionResult, ...]


def summarize(results: Sequence[SubmissionResult]) -> ClassSummary:
    """Statistics over graded submissions (skipped exercises left out); checks sorted hardest first."""
    graded = [result for result in results if result.status is SubmissionStatus.GRADED]
    exercises: dict[int, list[ExerciseResult]] = {}
    checks: dict[tuple[int, str], list[CheckResult]] = {}
    for result in graded:
        for exercise in result.exercises:
            if exercise.status is ExerciseStatus.SKIPPED:
                continue
            exercises.setdefault(exercise.number, []).append(exercise)
            for check in exercise.checks:
                if check.points > 0:
                    checks.setdefault((exercise.number, check.id), []).append(check)
    exercise_stats = tuple(
        ExerciseStats(
            number,
            items[0].title,
            len(items),
            statistics.fmean(item.score for item in items),
            items[0].max_score,
            sum(item.status is ExerciseStatus.PASSED for item in items) / len(items),
            sum(item.awaits_review for item in items),
        )
        for number, items in sorted(exercises.items())
    )
    check_stats = sorted(
        (
            CheckStats(
                number,
                check_id,
                items[0].label,
                len(items),
                statistics.fmean(item.score / item.points for item in items),
            )
            for (number, check_id), items in checks.items()
        ),
        key=lambda stats: (stats.mean_fraction, stats.exercise, stats.id),
    )
    return ClassSummary(
        len(graded),
        tuple(result.percent for result in graded),
        exercise_stats,
        tuple(check_stats),
        tuple(result for result in results if result.status is not SubmissionStatus.GRADED),
    )


def print_class_report(summary: ClassSummary, console: Console, title: str, top: int = 5) -> None:
    """Per-exercise table, the ``top`` lowest-scoring checks and the submissions that failed to grade."""
    console.print(
        f"[bold]{escape(title)}[/bold]: {summary.graded} graded, {len(summary.failed)} failed to grade", highlight=False
    )
    if summary.percents:
        console.print(
            f"total: mean {statistics.fmean(summary.percents):.1f}%, median {statistics.median(summary.percents):.1f}%",
            highlight=False,
        )
    if summary.exercises:
        _print_exercises(summary, console)
        _print_lowest(summary, console, top)
    _print_failed(summary, console)


def _table(title: str, columns: tuple[tuple[str, JustifyMethod], ...]) -> Table:
    table = Table(title=title)
    for name, justify in columns:
        table.add_column(name, justify=justify, overflow="fold")
    return table


def _print_exercises(summary: ClassSummary, console: Console) -> None:
    table = _table(
        "Exercises",
        (("exercise", "left"), ("graded", "right"), ("mean", "right"), ("pass rate", "right"), ("to review", "right")),
    )
    for stats in summary.exercises:
        table.add_row(
            escape(f"{stats.number}. {stats.title}"),
            str(stats.graded),
            f"{stats.mean:.2f}/{stats.max_score:g}",
            f"{stats.pass_rate:.0%}",
            str(stats.to_review),
        )
    console.print(table)


def _print_lowest(summary: ClassSummary, console: Console, top: int) -> None:
    lowest = [stats for stats in summary.checks if stats.mean_fraction < 1][:top]
    if not lowest:
        console.print("every check scored full marks")
        return
    table = _table(
        f"Lowest-scoring checks (at most {top})", (("check", "left"), ("label", "left"), ("mean score", "right"))
    )
    for stats in lowest:
        table.add_row(escape(f"{stats.exercise}. {stats.id}"), escape(stats.label), f"{stats.mean_fraction:.0%}")
    console.print(table)


def _print_failed(summary: ClassSummary, console: Console) -> None:
    if summary.failed:
        console.print("[bold]Failed to grade[/bold]")
    for result in summary.failed:
        named = result.error if result.error.startswith(result.path) else f"{result.path}: {result.error}"
        console.print(f"  {escape(named)}", highlight=False)


def save_histogram(summary: ClassSummary, path: Path, title: str) -> Path:
    """A PNG histogram of total scores in 10-point bins, with the mean marked."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(7, 4), dpi=120, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.hist(summary.percents, bins=range(0, 101, 10), color="#4c72b0", edgecolor="white")
    if summary.percents:
        mean = statistics.fmean(summary.percents)
        axes.axvline(mean, color="#c44e52", linestyle="--", label=f"mean {mean:.1f}%")
        axes.legend(loc="best")
    axes.set_xlim(0, 100)
    axes.margins(y=0.1)
    axes.set_xticks(range(0, 101, 10))
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("total score (%)")
    axes.set_ylabel("submissions")
    axes.set_title(f"{title}: {summary.graded} graded submissions")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path

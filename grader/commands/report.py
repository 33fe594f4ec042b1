"""``grader report``: the class summary of an output folder, and its score histogram."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from grader.class_report import HISTOGRAM_FILE, print_class_report, save_histogram, summarize
from grader.commands.common import console, load_spec_or_exit
from grader.commands.override import OverridesOption, merge_or_exit, results_or_exit


def report(
    out_dir: Annotated[Path, typer.Argument(help="A folder written by `grader grade`.")],
    top: Annotated[int, typer.Option("--top", min=1, help="How many of the lowest-scoring checks to list.")] = 5,
    overrides: OverridesOption = None,
    spec: Annotated[
        Path | None,
        typer.Option(
            "--spec", help="The spec OUT_DIR was graded against, needed with --overrides. Default: the bundled one."
        ),
    ] = None,
) -> None:
    """Summarise a graded class: exercise means and pass rates, hardest checks, failures, a histogram.

    Prints the per-exercise mean and pass rate, the lowest-scoring checks and the submissions that failed
    to grade, and saves OUT_DIR/histogram.png. With --overrides, manual grades are merged into OUT_DIR first.
    """
    if overrides is not None:
        loaded = load_spec_or_exit(spec)
        spec_id, results = results_or_exit(out_dir, loaded)
        results = merge_or_exit(results, loaded, out_dir, overrides)
    else:
        spec_id, results = results_or_exit(out_dir)
    summary = summarize(results)
    print_class_report(summary, console, spec_id, top)
    flagged = sum(stats.to_review for stats in summary.exercises)
    if flagged:
        console.print(
            f"{flagged} exercise{'s' if flagged != 1 else ''} to review: grader review {escape(str(out_dir))}",
            highlight=False,
        )
    path = save_histogram(summary, out_dir / HISTOGRAM_FILE, spec_id)
    console.print(f"histogram: {escape(str(path))}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``report`` to the ``grader`` app."""
    app.command()(report)

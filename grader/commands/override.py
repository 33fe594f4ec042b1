"""``grader override``: merge an instructor's manual grades into an existing output folder.

Also the helpers ``grader grade --overrides`` and ``grader report --overrides`` call, which print every
problem (each naming its file and line) and stop with exit code 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from grader import store
from grader.commands.common import USAGE_ERROR, console, errors, load_spec_or_exit
from grader.formats import Format, write_formats
from grader.overrides import Override, OverrideError, load_overrides, merge_overrides
from grader.review import DEFAULT_OVERRIDES
from grader.scoring import SubmissionResult
from grader.spec import Spec

SpecOption = Annotated[
    Path | None, typer.Option("--spec", help="Exercise spec (YAML). Default: the bundled chapter-14 spec.")
]
OverridesOption = Annotated[
    Path | None,
    typer.Option("--overrides", help="Manual grades (YAML or CSV: submission, exercise, points, comment) to merge in."),
]


def _usage_error(problems: Sequence[str]) -> typer.Exit:
    for problem in problems:
        errors.print(f"[red]error[/red] {escape(problem)}", highlight=False)
    return typer.Exit(USAGE_ERROR)


def overrides_or_exit(path: Path, spec: Spec) -> tuple[Override, ...]:
    """The overrides file, validated against the spec (so ``grade`` can refuse it before grading)."""
    try:
        return load_overrides(path, spec)
    except OverrideError as error:
        raise _usage_error(error.problems) from None


def merge_or_exit(results: Sequence[SubmissionResult], spec: Spec, out: Path, path: Path) -> list[SubmissionResult]:
    """Apply the overrides file and rewrite OUT/results.json and OUT/grades.csv."""
    try:
        merged = merge_overrides(results, spec, out, path)
    except OverrideError as error:
        raise _usage_error([*error.problems, f"no manual grade applied from {path}"]) from None
    count = sum(exercise.manual is not None for result in merged for exercise in result.exercises)
    console.print(f"{count} manual grade{'s' if count != 1 else ''} from {escape(str(path))}", highlight=False)
    return merged


def warn_unapplied(out: Path) -> None:
    """Say so when OUT holds review decisions that this run did not apply."""
    path = out / DEFAULT_OVERRIDES
    if path.is_file():
        errors.print(
            f"[bold yellow]warning[/bold yellow] {escape(str(path))} holds manual grades (from `grader "
            f"review`) not applied to these results: pass --overrides {escape(str(path))}",
            highlight=False,
        )


def results_or_exit(out: Path, spec: Spec | None = None) -> tuple[str, list[SubmissionResult]]:
    """OUT/results.json read back; with ``spec``, it must have been graded against that spec."""
    try:
        stored = store.load(out)
    except store.StoreError as error:
        raise _usage_error([str(error)]) from None
    if spec is not None and spec.id != stored.spec_id:
        raise _usage_error(
            [f"{out / store.RESULTS_FILE} was graded against spec {stored.spec_id!r}, not {spec.id!r}: pass its --spec"]
        )
    return stored.spec_id, stored.results


def override(
    out_dir: Annotated[Path, typer.Argument(help="A folder written by `grader grade`.")],
    file: Annotated[Path, typer.Argument(help="Manual grades: YAML or CSV of submission, exercise, points, comment.")],
    spec: SpecOption = None,
    formats: Annotated[
        list[Format] | None,
        typer.Option("--format", help="Also rewrite these outputs with the manual grades (repeatable)."),
    ] = None,
) -> None:
    """Merge manual grades into OUT_DIR: results.json (marked "manual") and grades.csv are rewritten.

    The file replaces any manual grades applied before. Pass the same file to `grader grade --overrides`
    so that re-grading keeps them.
    """
    loaded = load_spec_or_exit(spec)
    _, results = results_or_exit(out_dir, loaded)
    merged = merge_or_exit(results, loaded, out_dir, file)
    written = write_formats(merged, loaded, out_dir, {item.value for item in formats or ()})
    console.print(
        f"rewrote {escape(str(out_dir / store.RESULTS_FILE))}, {escape(str(out_dir / store.GRADES_FILE))}"
        + (f" and {len(written)} files of --format" if written else ""),
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add ``override`` to the ``grader`` app."""
    app.command()(override)

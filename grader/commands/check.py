"""``grader check``: a student's self-check of one notebook, with feedback in the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from grader import store
from grader.commands.common import USAGE_ERROR, console, errors, load_spec_or_exit
from grader.commands.isolation import IsolationOption, use_isolation
from grader.formats.student import student_record
from grader.student_check import all_passed, check_notebook, print_feedback


def _usage_error(message: str) -> typer.Exit:
    errors.print(f"[red]error[/red] {escape(message)}", highlight=False)
    return typer.Exit(USAGE_ERROR)


def check(
    notebook: Annotated[Path, typer.Argument(help="The notebook to check.")],
    spec: Annotated[
        Path | None, typer.Option("--spec", help="Exercise spec (YAML). Default: the bundled chapter-14 spec.")
    ] = None,
    exercise: Annotated[
        list[int] | None,
        typer.Option(
            "--exercise", "-e", help="Check only these exercises (repeatable); the others' cells are not run."
        ),
    ] = None,
    skip_training: Annotated[
        bool,
        typer.Option("--skip-training", help="Do not run the model exercise (no training); it is reported as skipped."),
    ] = False,
    execute: Annotated[
        bool,
        typer.Option("--execute/--no-execute", help="Run the notebook in a fresh kernel, or check its stored outputs."),
    ] = True,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Also write OUT/results.json (scores and this feedback, no answers) and OUT/grades.csv "
            "(nothing is written without it).",
        ),
    ] = None,
    isolation: IsolationOption = None,
) -> None:
    """Run the grader's checks on NOTEBOOK and explain every lost point, without giving the answers.

    Exit code 0 when every check run passed, 1 otherwise, 2 for a usage or spec error.
    """
    loaded = load_spec_or_exit(spec)
    if not notebook.is_file():
        raise _usage_error(f"{notebook}: no such notebook")
    numbers = set(exercise or ())
    unknown = sorted(numbers - {item.number for item in loaded.exercises})
    if unknown:
        raise _usage_error(f"no exercise {', '.join(map(str, unknown))} in {loaded.path.name}")
    use_isolation(isolation, executing=execute)
    with console.status(f"checking {escape(notebook.name)}"):
        result = check_notebook(
            notebook,
            loaded,
            tuple(sorted(numbers)),
            skip_training,
            execute,
            progress=lambda message: console.print(escape(message), highlight=False),
        )
    print_feedback(result, loaded, console)
    if out is not None:
        store.save([result], loaded, out, view=student_record)
        console.print(f"results: {escape(str(out / 'results.json'))}", highlight=False)
    raise typer.Exit(0 if all_passed(result) else 1)


def register(app: typer.Typer) -> None:
    """Add ``check`` to the ``grader`` app."""
    app.command()(check)

"""``grader assign``: write the student notebook generated from a spec."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from grader.assign import write_assignment
from grader.commands.common import USAGE_ERROR, console, errors, load_spec_or_exit


def assign(
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the student notebook.")],
    spec: Annotated[
        Path | None, typer.Option("--spec", help="Exercise spec (YAML). Default: the bundled chapter-14 spec.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace OUTPUT if it exists.")] = False,
) -> None:
    """Write the student notebook: the questions, an empty answer cell under each, starter code; no answers."""
    loaded = load_spec_or_exit(spec)
    if output.is_dir() or (output.exists() and not force):
        reason = "is a folder" if output.is_dir() else "exists (add --force to replace it)"
        errors.print(f"[red]error[/red] {escape(str(output))} {reason}", highlight=False)
        raise typer.Exit(USAGE_ERROR)
    for path in write_assignment(loaded, output):
        console.print(f"wrote {escape(str(path))}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``assign`` to the ``grader`` app."""
    app.command()(assign)

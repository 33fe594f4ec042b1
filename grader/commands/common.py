"""What every command shares: the consoles, the usage-error exit code and loading a spec or exiting."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from grader.spec import Spec, SpecError, bundled_spec_path, load_spec

USAGE_ERROR = 2
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def load_spec_or_exit(spec: Path | None) -> Spec:
    """The given spec (default: the bundled one); every problem printed and exit 2 when it is invalid."""
    try:
        return load_spec(spec or bundled_spec_path())
    except SpecError as error:
        for problem in error.problems:
            errors.print(f"[red]spec error[/red] {escape(str(problem))}", highlight=False)
        raise typer.Exit(USAGE_ERROR) from None

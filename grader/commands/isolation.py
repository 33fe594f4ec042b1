"""The ``--isolation`` option shared by ``grader grade`` and ``grader check``."""

from __future__ import annotations

import os
from enum import Enum
from typing import Annotated

import typer
from rich.markup import escape

from grader.commands.common import USAGE_ERROR, errors
from grader.sandbox import ISOLATION_ENV, Isolation, resolve, rlimits_warning


class IsolationChoice(str, Enum):
    auto = "auto"
    bubblewrap = "bubblewrap"
    landlock = "landlock"
    none = "none"


IsolationOption = Annotated[
    IsolationChoice | None,
    typer.Option(
        "--isolation",
        help="How notebooks are contained: auto (the strongest available: bubblewrap, else landlock, "
        "else none), bubblewrap, landlock, or none (process limits only). Default: $CNN_GRADER_ISOLATION, else auto.",
    ),
]


def use_isolation(choice: IsolationChoice | None, *, executing: bool = True) -> Isolation | None:
    """Resolve the tier for this run and make every sandbox use it; warn loudly without containment.

    Exit with the usage-error code when the tier asked for cannot run here.
    """
    if not executing:
        return None
    requested = choice.value if choice is not None else os.environ.get(ISOLATION_ENV, "") or "auto"
    try:
        tier = resolve(requested)
    except (RuntimeError, ValueError) as error:
        errors.print(f"[red]error[/red] {escape(str(error))}", highlight=False)
        raise typer.Exit(USAGE_ERROR) from None
    os.environ[ISOLATION_ENV] = tier.value
    if tier is Isolation.RLIMITS:
        errors.print(f"[bold yellow]warning[/bold yellow] {escape(rlimits_warning())}", highlight=False)
    return tier

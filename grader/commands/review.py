"""``grader review``: go through the exercises flagged for review in the terminal, keyboard only.

Each screen shows one flagged exercise: the answer as the grader read it with what earned points
highlighted, every check with its points, and why it was flagged. Enter accepts the grader's points,
``POINTS [COMMENT]`` sets them, ``s`` skips, ``q`` (or Ctrl-C, Ctrl-D) stops; every decision is in the
overrides file and the results the moment it is made.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from prompt_toolkit import PromptSession
from prompt_toolkit.document import Document
from prompt_toolkit.validation import ValidationError, Validator
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from grader import store
from grader.commands.common import USAGE_ERROR, console, errors, load_spec_or_exit
from grader.overrides import OverrideError
from grader.review import DEFAULT_OVERRIDES, Command, Decision, ReviewItem, ReviewSession, highlights, parse_decision
from grader.scoring import ExerciseResult

_RECOGNISED = "bold black on yellow"
_FOUND_WRONG = "bold red underline"


class _DecisionValidator(Validator):
    """Refuses what ``parse_decision`` cannot read, saying what to type instead."""

    def __init__(self, exercise: ExerciseResult):
        self.exercise = exercise

    def validate(self, document: Document) -> None:
        try:
            parse_decision(document.text, self.exercise)
        except ValueError as error:
            raise ValidationError(message=str(error), cursor_position=len(document.text)) from None


def _answer(exercise: ExerciseResult) -> Text:
    """The answer with recognised ideas and values highlighted, and wrong values found marked."""
    text = Text(exercise.answer or "(no answer text was kept for this exercise)")
    recognised = [item for check in exercise.checks for item in check.recognised]
    wrong = [
        check.found
        for check in exercise.checks
        if check.kind in ("numeric", "shape") and check.found and check.score < check.points
    ]
    for phrases, style in ((wrong, _FOUND_WRONG), (recognised, _RECOGNISED)):
        for start, end in highlights(exercise.answer, phrases):
            text.stylize(style, start, end)
    return text


def _show(item: ReviewItem, position: int, total: int, out: Console) -> None:
    exercise = item.exercise
    out.clear()
    out.rule(Text(f"review {position} of {total}"))
    out.print(f"[bold]{escape(item.path)}[/bold]", highlight=False)
    out.print(
        f"[bold]{exercise.number}. {escape(exercise.title)}[/bold] — graded "
        f"{exercise.score:g}/{exercise.max_score:g} ({exercise.status})",
        highlight=False,
    )
    out.print(f"[yellow]flagged:[/yellow] {escape('; '.join(exercise.review.reasons))}", highlight=False)
    for error in exercise.errors:
        out.print(f"  [red]error[/red] {escape(error)}", highlight=False)
    for check in exercise.checks:
        mark = "[green]✓[/green]" if check.score >= check.points else "[red]✗[/red]"
        line = f"  {mark} {check.score:g}/{check.points:g} {escape(check.message)}"
        if check.recognised:
            line += f" [dim]recognised:[/dim] {escape('; '.join(check.recognised))}"
        out.print(line, highlight=False)
    out.rule("answer")
    out.print(_answer(exercise), highlight=False)
    out.rule()
    out.print(
        f"Enter accepts {exercise.score:g} · POINTS [COMMENT] sets the points (0 to {exercise.max_score:g}) · "
        "s skips · q stops",
        highlight=False,
    )


def _ask(prompt: PromptSession[str], exercise: ExerciseResult) -> Decision | Command:
    try:
        typed = prompt.prompt(
            f"points [{exercise.score:g}/{exercise.max_score:g}]> ",
            validator=_DecisionValidator(exercise),
            validate_while_typing=False,
        )
    except (KeyboardInterrupt, EOFError):
        return Command.QUIT
    return parse_decision(typed, exercise)


def review(
    out_dir: Annotated[Path, typer.Argument(help="A folder written by `grader grade`.")],
    spec: Annotated[
        Path | None, typer.Option("--spec", help="The spec OUT_DIR was graded against. Default: the bundled one.")
    ] = None,
    overrides: Annotated[
        Path | None,
        typer.Option(
            "--overrides", help=f"Where decisions are kept (CSV or YAML). Default: OUT_DIR/{DEFAULT_OVERRIDES}."
        ),
    ] = None,
) -> None:
    """Review the exercises flagged in OUT_DIR one by one; each decision is saved at once.

    Enter accepts the grader's points, a number (optionally followed by a comment) sets them, s skips,
    q stops. Decisions are appended to the overrides file (accepted ones too) and results.json and
    grades.csv are rewritten after each, so a stopped review resumes where it left off. Pass the same
    file to `grader grade --overrides` to keep the decisions through a re-grade.
    """
    loaded = load_spec_or_exit(spec)
    path = overrides or out_dir / DEFAULT_OVERRIDES
    try:
        session = ReviewSession(out_dir, loaded, path)
    except (store.StoreError, OverrideError) as error:
        problems = error.problems if isinstance(error, OverrideError) else [str(error)]
        for problem in problems:
            errors.print(f"[red]error[/red] {escape(problem)}", highlight=False)
        raise typer.Exit(USAGE_ERROR) from None
    items = session.pending()
    if items and not (sys.stdin.isatty() and sys.stdout.isatty()):
        errors.print("[red]error[/red] grader review needs a terminal: it reads decisions from the keyboard")
        raise typer.Exit(USAGE_ERROR)
    decided = 0
    prompt: PromptSession[str] = PromptSession()
    for position, item in enumerate(items, start=1):
        _show(item, position, len(items), console)
        choice = _ask(prompt, item.exercise)
        if choice is Command.QUIT:
            break
        if isinstance(choice, Decision):
            session.decide(item, choice)
            decided += 1
    left = len(session.pending())
    console.print(
        f"{decided} decision{'s' if decided != 1 else ''} saved to {escape(str(path))}; "
        f"{left} exercise{'s' if left != 1 else ''} left to review",
        highlight=False,
    )
    console.print(
        f"results: {escape(str(out_dir / store.RESULTS_FILE))}, {escape(str(out_dir / store.GRADES_FILE))}",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add ``review`` to the ``grader`` app."""
    app.command()(review)

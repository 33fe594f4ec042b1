"""Feedback for students: OUT/feedback/<stem>.md and a self-contained OUT/feedback/<stem>.html.

Per exercise: the score, the errors its cells raised, the ideas and values recognised, and every lost
point with the check's label, what was found and hints, never the reference value (see ``student``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from pathlib import Path

from grader.formats.student import (
    UNSURE_NOTE,
    CheckFeedback,
    ExerciseFeedback,
    SubmissionFeedback,
    output_stems,
    submission_feedback,
)
from grader.scoring import ExerciseStatus, SubmissionResult
from grader.spec import Spec

FOLDER = "feedback"
_STATUS = {
    ExerciseStatus.PASSED: "full marks",
    ExerciseStatus.PARTIAL: "some points lost",
    ExerciseStatus.FAILED: "no points",
    ExerciseStatus.ERROR: "your cells did not run cleanly",
    ExerciseStatus.SKIPPED: "not graded in this run",
}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&#])")
_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;
color:#1f2328;line-height:1.5}
h1{font-size:1.6rem}h2{font-size:1.2rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left}
.total{font-size:1.2rem;font-weight:600}.passed{color:#1a7f37}.error,.failed{color:#cf222e}
.partial{color:#9a6700}.skipped{color:#656d76}.hint{color:#57606a}.manual{background:#f6f8fa;padding:.4rem .6rem}
code{background:#f6f8fa;padding:0 .2rem}
"""


def _md(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _earned(item: ExerciseFeedback) -> list[CheckFeedback]:
    """Checks with full marks that recognised something: what earned points, named."""
    return [check for check in item.checks if check.recognised and check.lost <= 0]


def _md_code(text: str) -> str:
    """A Markdown code span, which shows its text literally (backticks, which would end it, become quotes)."""
    return "`" + " ".join(text.replace("`", "'").split()) + "`"


def markdown(page: SubmissionFeedback, course: str) -> str:
    """The feedback as Markdown, every piece of text escaped."""
    lines = [f"# Feedback on {_md(page.notebook)}", "", _md(course), "", f"**Total: {page.total}**", ""]
    lines += [f"> {_md(page.problem)}", ""] if page.problem else []
    lines += [f"- Note: {_md(note)}" for note in page.notes] + ([""] if page.notes else [])
    if page.exercises:
        lines += ["| Exercise | Score | |", "|---|---|---|"]
        lines += [f"| {_md(item.heading)} | {_score(item)} | {_STATUS[item.status]} |" for item in page.exercises]
    for item in page.exercises:
        lines += ["", f"## {_md(item.heading)}: {_score(item)}", ""]
        lines += [f"*{_md(item.manual)}*", ""] if item.manual else []
        lines += [f"*{_md(UNSURE_NOTE)}*", ""] if item.unsure else []
        lines += [f"{_STATUS[item.status].capitalize()}.", ""] if not (item.errors or item.lost) else []
        lines += [f"- Error: {_md_code(error)}" for error in item.errors]
        lines += [f"- {_md(check.text)}" for check in _earned(item)]
        for check in item.lost:
            hints = "".join(f" Hint: {_md(hint)}" for hint in check.hints)
            lines.append(f"- **{_md(check.label)}** (-{check.lost:g}): {_md(check.summary)}.{hints}")
    return "\n".join(lines) + "\n"


def _h(text: str) -> str:
    return html.escape(" ".join(text.split()), quote=True)


def _score(item: ExerciseFeedback) -> str:
    return f"{item.score:g}/{item.max_score:g}"


def html_page(page: SubmissionFeedback, course: str) -> str:
    """The feedback as one HTML page with its style inline and no external assets."""
    body = [
        f"<h1>Feedback on {_h(page.notebook)}</h1>",
        f"<p>{_h(course)}</p>",
        f'<p class="total">Total: {_h(page.total)}</p>',
    ]
    body += [f'<p class="error">{_h(page.problem)}</p>'] if page.problem else []
    body += [f"<p>Note: {_h(note)}</p>" for note in page.notes]
    if page.exercises:
        rows = "".join(
            f"<tr><td>{_h(item.heading)}</td><td>{_h(_score(item))}</td>"
            f'<td class="{_h(item.status)}">{_h(_STATUS[item.status])}</td></tr>'
            for item in page.exercises
        )
        body.append(f"<table><tr><th>Exercise</th><th>Score</th><th></th></tr>{rows}</table>")
    for item in page.exercises:
        body.append(f"<h2>{_h(item.heading)}: {_h(_score(item))}</h2>")
        body += [f'<p class="manual">{_h(item.manual)}</p>'] if item.manual else []
        body += [f'<p class="manual">{_h(UNSURE_NOTE)}</p>'] if item.unsure else []
        body += (
            [f'<p class="{_h(item.status)}">{_h(_STATUS[item.status].capitalize())}.</p>']
            if not (item.errors or item.lost)
            else []
        )
        entries = [f'<li class="error">Error: <code>{_h(error)}</code></li>' for error in item.errors]
        entries += [f'<li class="passed">{_h(check.text)}</li>' for check in _earned(item)]
        for check in item.lost:
            hints = "".join(f' <span class="hint">Hint: {_h(hint)}</span>' for hint in check.hints)
            entries.append(
                f"<li><strong>{_h(check.label)}</strong> (-{check.lost:g}): {_h(check.summary)}.{hints}</li>"
            )
        body += [f"<ul>{''.join(entries)}</ul>"] if entries else []
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>Feedback on '
        f"{_h(page.notebook)}</title><style>{_STYLE}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def write_feedback(results: Sequence[SubmissionResult], spec: Spec, out: Path) -> list[Path]:
    """Write OUT/feedback/<stem>.md and <stem>.html for each submission."""
    folder = out / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, result in zip(output_stems(results), results, strict=True):
        page = submission_feedback(result)
        for suffix, text in ((".md", markdown(page, spec.title)), (".html", html_page(page, spec.title))):
            path = folder / f"{stem}{suffix}"
            path.write_text(text, encoding="utf-8")
            paths.append(path)
    return paths

"""Read notebooks and split them into the students' answers, one section per exercise.

A section starts at a cell tagged ``exercise-N`` or at a markdown heading naming exercise N
("## 2.", "#### 2. What…", "Exercise 2", "Question 2"), and runs until the next such start or the
next heading at the same or a higher level. The answer is the section's markdown prose plus the
outputs of its code cells.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

TAGGED = 0  # a section opened by a cell tag: only another exercise's tag or heading ends it
UNNESTED = 7  # deeper than any markdown heading: every heading may end the section
PROMPT_TAGS = frozenset({"prompt", "question"})
_TAG = re.compile(r"^exercise[-_ ]?(\d+)$", re.IGNORECASE)
_HEADING = re.compile(r"^(#{1,6})\s*(.*)$")
# "Exercise", "Question", "Aufgabe", "Exercice", "Ejercicio", "Questão", "Soal", "Esercizio", "Câu", "习题"…
# (singular: "Exercises 1-8" names a range, not one exercise)
_EXERCISE_WORD = (
    r"(?:exercise|exercício|exercicio|exercice|ejercicio|esercizio|übung|uebung|aufgabe|"
    r"question|questão|questao|pregunta|pergunta|domanda|frage|problem|problema|"
    r"soal|latihan|nomor|câu|cau|bài|bai|no\.?|nr\.?|n[º°]|ex\.?|q|习题|练习|问题|题目|第)"
)
_NUMBER = r"(\d+|[一二三四五六七八九十]+)(?!\s*(?:[-–—]|to|bis|a|à|al|até|sampai)\s*\d)(?!\s*[章节课])"
_EXERCISE_TITLE = re.compile(
    rf"^[*_\s]*(?:{_EXERCISE_WORD}\s*)?{_NUMBER}(?:\.\d+)*\s*(?:[.):、：—–-]|[*_]|\s|题|$)",
    re.IGNORECASE,
)
_NAMED_LINE = re.compile(rf"^[*_\s]*{_EXERCISE_WORD}\s*{_NUMBER}(?![.,]\d)(?:\b|(?=[^\w]|$))", re.IGNORECASE)
# "**2. Parameters and memory**": a bold number opens an exercise only as the next in sequence, since answers
# have bold numbered items too.
_BOLD_NUMBER = re.compile(r"^\s*(?:\*\*|__)\s*(\d+)\s*[.):]")
_CHINESE_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}


def _exercise_number(written: str) -> int:
    """ "4" -> 4, "四" -> 4, "十二" -> 12."""
    if written.isdigit():
        return int(written)
    if len(written) == 1:
        return _CHINESE_DIGITS[written]
    tens, _, ones = written.partition("十")
    return (_CHINESE_DIGITS.get(tens, 1) * 10 if "十" in written else 0) + _CHINESE_DIGITS.get(ones, 0)


class NotebookError(Exception):
    """A file that cannot be read as a notebook."""


@dataclass(frozen=True)
class AnswerBlock:
    """One piece of a student's answer: markdown prose, a code cell's comments, or its output (with its
    source)."""

    kind: str
    text: str
    cell_index: int
    source: str = ""


def read_notebook(path: Path) -> NotebookNode:
    """Read a notebook of any nbformat version, upgraded to version 4."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise NotebookError(f"cannot read: {error.strerror or error}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise NotebookError(f"not UTF-8 text (byte {error.start})") from None
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        raise NotebookError(f"not valid JSON: {error.msg} at line {error.lineno}") from None
    try:
        notebook = nbformat.reads(text, as_version=4)
    except Exception as error:  # nbformat raises several unrelated types for malformed files
        raise NotebookError(f"not a Jupyter notebook: {error}") from None
    if not isinstance(notebook.get("cells"), list):
        raise NotebookError("not a Jupyter notebook: no list of cells")
    return notebook


Numbers = Collection[int] | None  # the exercises there are (a heading naming another is a title), None: any


def _known(written: str, numbers: Numbers) -> bool:
    return numbers is None or _exercise_number(written) in numbers


def _starts_exercise(line: str, numbers: Numbers = None) -> bool:
    """A line that opens an exercise: a heading naming one ("### Q4", "## 4."), or "**Exercise 4**"."""
    heading = _heading(line)
    if heading:
        match = _EXERCISE_TITLE.match(heading[1])
        return bool(match and match.group(1) and _known(match.group(1), numbers))
    named = _NAMED_LINE.match(line)
    return bool(named and _known(named.group(1), numbers))


def separate_exercises(notebook: NotebookNode, numbers: Numbers = None) -> NotebookNode:
    """The notebook with each markdown cell that holds several exercises ("### Q3 … ### Q4 …", a table with a
    row per exercise) cut into one cell per exercise, so that each answer lands in its own section. Code
    cells are untouched. A notebook with no exercise marked at all but plainly numbered answers ("1 - …",
    "2 - …" in order) is cut at those numbers. With ``numbers``, only those exercises are recognised."""
    notebook.cells = _cut_cells(notebook.cells, lambda line: _starts_exercise(line, numbers))
    if not split_sections(notebook, numbers):
        notebook.cells = _cut_cells(
            [_numbered_as_labels(cell) for cell in notebook.cells],
            lambda line: _starts_exercise(line, numbers) or bool(_BOLD_NUMBER.match(line)),
        )
    return notebook


def _cut_cells(cells: list[NotebookNode], starts_exercise: Callable[[str], bool]) -> list[NotebookNode]:
    cut = []
    for cell in cells:
        if cell.get("cell_type") != "markdown":
            cut.append(cell)
            continue
        lines = [_table_row_as_label(line) for line in cell.get("source", "").splitlines(keepends=True)]
        starts = [index for index, line in enumerate(lines) if index > 0 and starts_exercise(line)]
        if not starts:
            cut.append(
                cell
                if lines == cell.get("source", "").splitlines(keepends=True)
                else _markdown_like(cell, "".join(lines))
            )
            continue
        for first, (begin, end) in enumerate(zip([0, *starts], [*starts, len(lines)], strict=True)):
            part = nbformat.v4.new_markdown_cell("".join(lines[begin:end]))
            if first == 0:
                part.metadata = cell.get("metadata", {})
            cut.append(part)
    return cut


def _markdown_like(cell: NotebookNode, source: str) -> NotebookNode:
    part = nbformat.v4.new_markdown_cell(source)
    part.metadata = cell.get("metadata", {})
    return part


_TABLE_ROW = re.compile(r"^\s*\|\s*([^|]+?)\s*\|(.*?)\|?\s*$")


def _table_row_as_label(line: str) -> str:
    """ "| Q3. | shrink the batch |" -> "**Q3.** shrink the batch": a table with a row per exercise."""
    row = _TABLE_ROW.match(line)
    if not row or not _NAMED_LINE.match(row.group(1)):
        return line
    return f"**{row.group(1)}** {row.group(2).replace('|', ' ').strip()}\n"


_PLAIN_NUMBER = re.compile(r"^\s*(\d+)\s*[-.)–:]\s+(?=\S)")
_NUMBERED_ROW = re.compile(r"^\s*\|\s*(\d+)\s*[.)]?\s*\|(.*?)\|?\s*$")


def _numbered_as_labels(cell: NotebookNode) -> NotebookNode:
    """A markdown cell whose lines "1 - …", "2) …" (or table rows "| 1 | … |") number the exercises in order, as
    bold labels."""
    if cell.get("cell_type") != "markdown":
        return cell
    expected, lines = 1, []
    for line in cell.get("source", "").splitlines(keepends=True):
        number, row = _PLAIN_NUMBER.match(line), _NUMBERED_ROW.match(line)
        if number and int(number.group(1)) == expected:
            line = f"**{expected}.** {line[number.end() :]}"
            expected += 1
        elif row and int(row.group(1)) == expected:
            line = f"**{expected}.** {row.group(2).replace('|', ' ').strip()}\n"
            expected += 1
        lines.append(line)
    return _markdown_like(cell, "".join(lines))


_HTML_HEADING = re.compile(r"^<h([1-6])\b[^>]*>(.*?)(?:</h\1\s*>)?$", re.IGNORECASE)
_HTML_TAG = re.compile(r"<[^>]+>")


def _heading(line: str) -> tuple[int, str] | None:
    """A markdown heading's level and title ("### 2. Memory", or HTML's "<h3>2. Memory</h3>")."""
    match = _HEADING.match(line.strip())
    if match:
        return len(match.group(1)), match.group(2)
    html = _HTML_HEADING.match(line.strip())
    return (int(html.group(1)), _HTML_TAG.sub("", html.group(2)).strip()) if html else None


def _cell_start(
    cell: NotebookNode, current_level: int, current: int | None = None, numbers: Numbers = None
) -> tuple[int | None, int] | None:
    """Where a cell starts a section: (exercise number or None for 'ends it', heading level), or None. A heading
    naming an exercise not among ``numbers`` ("# Übung 14 – CNN" over exercises 1–9) is a title."""
    for tag in cell.get("metadata", {}).get("tags", []):
        match = _TAG.match(str(tag))
        if match:
            return int(match.group(1)), TAGGED
    first_line = next((line for line in cell.get("source", "").splitlines() if line.strip()), "")
    if cell.get("cell_type") == "code":  # "# Ex. 3 -- out of GPU memory" opening a code cell
        comment = _COMMENT.match(first_line)
        named = _NAMED_LINE.match(comment.group(1)) if comment and current_level != TAGGED else None
        return (_exercise_number(named.group(1)), UNNESTED) if named and _known(named.group(1), numbers) else None
    if cell.get("cell_type") != "markdown":
        return None
    heading = _heading(first_line)
    if heading:
        level, title = heading
        if current_level == TAGGED:
            named = _NAMED_LINE.match(title)
            return (_exercise_number(named.group(1)), level) if named and _known(named.group(1), numbers) else None
        if level > current_level:
            return None
        match = _EXERCISE_TITLE.match(title)
        known = match is not None and _known(match.group(1), numbers)
        return (_exercise_number(match.group(1)) if match and known else None), level
    named = _NAMED_LINE.match(first_line)
    if named and _known(named.group(1), numbers):
        return _exercise_number(named.group(1)), UNNESTED
    bold = _BOLD_NUMBER.match(first_line)
    if bold and int(bold.group(1)) == (current or 0) + 1:
        return int(bold.group(1)), UNNESTED
    return None


def split_sections(notebook: NotebookNode, numbers: Numbers = None) -> dict[int, list[int]]:
    """Map each exercise number to the indices of the cells of its section (of those in ``numbers``, if given)."""
    sections: dict[int, list[int]] = {}
    current: int | None = None
    level = UNNESTED
    for index, cell in enumerate(notebook.cells):
        start = _cell_start(cell, level if current is not None else UNNESTED, current, numbers)
        if start is not None:
            current, level = start
        if current is not None:
            sections.setdefault(current, []).append(index)
    return sections


def _output_text(output: NotebookNode) -> str:
    kind = output.get("output_type")
    if kind == "stream":  # what a library logs on stderr is not the student's answer
        return str(output.get("text", "")) if output.get("name") != "stderr" else ""
    if kind == "error":
        return f"{output.get('ename', '')}: {output.get('evalue', '')}"
    data = output.get("data", {})
    for mime in ("text/plain", "text/markdown", "text/latex"):
        if mime in data:
            value = data[mime]
            return "".join(value) if isinstance(value, list) else str(value)
    return ""


def _prose(cell: NotebookNode, is_first: bool) -> str:
    """The markdown of a cell, without the heading line that carries the question, or without the label
    that opens it ("**Esercizio 1.** Rispetto…" keeps "Rispetto…")."""
    lines = cell.get("source", "").splitlines()
    if is_first and lines and _heading(lines[0]):
        lines = lines[1:]
    elif is_first and lines:
        label = _NAMED_LINE.match(lines[0]) or _BOLD_NUMBER.match(lines[0])
        if label:
            lines[0] = lines[0][label.end() :].lstrip("*_.:)-–— \t")
    return "\n".join(lines)


def answer_blocks(notebook: NotebookNode, cell_indices: list[int]) -> list[AnswerBlock]:
    """The student's answer in these cells: prose of markdown cells, and the comments and outputs of code
    cells."""
    blocks: list[AnswerBlock] = []
    for position, index in enumerate(cell_indices):
        cell = notebook.cells[index]
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & PROMPT_TAGS:
            continue
        if cell.get("cell_type") == "markdown":
            text = _prose(cell, position == 0)
            if text.strip():
                blocks.append(AnswerBlock("markdown", text, index))
        elif cell.get("cell_type") == "code":
            comments = _comments(cell.get("source", ""))
            if comments.strip():
                blocks.append(AnswerBlock("comment", comments, index))
            text = "\n".join(_output_text(output) for output in cell.get("outputs", []))
            if text.strip():
                blocks.append(AnswerBlock("output", text, index, source=cell.get("source", "")))
    return blocks


_COMMENT = re.compile(r"^\s*#(?![!%])\s?(.*)$")


def _comments(source: str) -> str:
    """What a code cell says in its comments: some students answer there ("# Q4: pooling has no weights")."""
    return "\n".join(match.group(1) for line in source.splitlines() if (match := _COMMENT.match(line)))


def question_text(notebook: NotebookNode, cell_indices: list[int]) -> str:
    """The question as the notebook states it in these cells: the section's heading line and any cell
    tagged as the prompt."""
    lines: list[str] = []
    for position, index in enumerate(cell_indices):
        cell = notebook.cells[index]
        source = cell.get("source", "")
        if set(cell.get("metadata", {}).get("tags", [])) & PROMPT_TAGS:
            lines.append(source)
        elif position == 0 and cell.get("cell_type") == "markdown":
            first = source.splitlines()[:1]
            heading = _heading(first[0]) if first else None
            if heading:
                lines.append(heading[1])
            elif first and (label := _NAMED_LINE.match(first[0])):
                lines.append(_label_question(first[0], label.end()))
    return "\n".join(lines)


_BOLD_LINE = re.compile(r"^\s*(\*\*|__).*\1\s*$")


def _label_question(line: str, label_end: int) -> str:
    """The question a labelled line states: all of a bold line ("**Exercise 4. Why pool?**"), else the label and
    what follows it up to a question mark ("**Q4.** Why pool? Because…"); a label followed by the answer itself
    ("**Q4:** no parameters, …") states only the label."""
    if _BOLD_LINE.match(line):
        return line
    label_end = len(line) - len(line[label_end:].lstrip("*_.:)、：—–-"))  # with the label's closing marks
    asked = re.search(r"[?？]", line[label_end:])
    return line[: label_end + asked.end()] if asked else line[:label_end]

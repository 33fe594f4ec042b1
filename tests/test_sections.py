"""Finding each exercise's section the way notebooks in the wild are laid out: headings in several
languages, Chinese numerals, bold numbered labels, several exercises in one cell, titles naming a range."""

from __future__ import annotations

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.notebook import answer_blocks, question_text, separate_exercises, split_sections


def _sections(*sources: str) -> dict[int, list[int]]:
    cells = [new_code_cell(source[5:]) if source.startswith("code:") else new_markdown_cell(source)
             for source in sources]
    return split_sections(separate_exercises(new_notebook(cells=cells)))


@pytest.mark.parametrize("heading", ["## Aufgabe 3", "### Exercice 3", "## Ejercicio 3", "### Questão 3",
                                     "### No. 3 – GPU kehabisan memori", "## 习题三", "## 第三题", "### Q3",
                                     "## 3)", "**Exercise 3**", "**Q3.**", "### Câu 3. Hết bộ nhớ GPU",
                                     "<h3>3. Out of GPU memory</h3>", '<h2 id="q3">Question 3</h2>'])
def test_headings_in_many_languages_and_forms(heading: str) -> None:
    assert _sections("# Chapter 14", heading, "the answer") == {3: [1, 2]}


def test_a_title_naming_a_range_or_a_chapter_opens_no_exercise() -> None:
    assert _sections("# Exercises 1-8, chapter 14", "## 1. First", "one", "## 2. Second", "two") == {
        1: [1, 2], 2: [3, 4]}
    assert _sections("# 第 14 章 卷积神经网络", "## 1. 第一题", "答") == {1: [1, 2]}


def test_bold_numbers_open_exercises_only_in_sequence() -> None:
    sections = _sections("# Solutions", "**1. CNNs**\n\nfewer parameters", "**2. Arithmetic**\n\n903,400",
                         "**1.** a bold list item inside exercise 2 is not exercise 1")
    assert sections == {1: [1], 2: [2, 3]}


def test_one_cell_holding_several_exercises_is_cut_per_exercise() -> None:
    sections = _sections("## 3. Memory", "**Exercise 3**\n\nshrink the batch\n\n**Exercise 4**\n\nno weights",
                         "code:print('still exercise 4')")
    assert sections == {3: [0, 1], 4: [2, 3]}


def test_a_table_with_a_row_per_exercise() -> None:
    table = "| # | answer |\n|---|---|\n| Q1. | fewer weights |\n| Q2. | 903,400 parameters |\n"
    notebook = separate_exercises(new_notebook(cells=[new_markdown_cell("# Answers"), new_markdown_cell(table)]))
    sections = split_sections(notebook)
    assert set(sections) == {1, 2}
    assert "903,400" in notebook.cells[sections[2][0]].source


def test_a_table_numbering_its_rows_when_nothing_else_marks_exercises() -> None:
    table = ("| N. | topic | my answer |\n|---|---|---|\n| 1 | CNN vs dense | shared filters, far fewer weights |\n"
             "| 2 | arithmetic | 903,400 parameters |\n")
    notebook = separate_exercises(new_notebook(cells=[new_markdown_cell("# Homework"), new_markdown_cell(table)]))
    sections = split_sections(notebook)
    assert set(sections) == {1, 2}
    assert "903,400" in notebook.cells[sections[2][0]].source
    layers = "| layer | output |\n|---|---|\n| 1 | 100x150x100 |\n| 2 | 50x75x200 |\n"
    assert _sections("## 2. Arithmetic", layers) == {2: [0, 1]}  # a numbered table inside an exercise stays there


def test_code_cells_opened_by_an_exercise_comment() -> None:
    assert _sections("# ch14", "code:# Ex. 1 -- CNNs\nprint('fewer weights')",
                     "code:# Ex. 2 -- arithmetic\nprint(903400)") == {1: [1], 2: [2]}


def test_plainly_numbered_answers_are_cut_only_when_nothing_else_marks_exercises() -> None:
    one_cell = "1 - fewer weights\n\n2 - 903,400 parameters\n\n3 - 1. smaller batch 2. float16\n"
    assert set(_sections("# Short solutions", one_cell)) == {1, 2, 3}
    assert _sections("## 3. Memory", "1. smaller batch\n2. float16") == {3: [0, 1]}


def test_the_label_opening_an_answer_is_dropped_not_the_answer() -> None:
    notebook = separate_exercises(new_notebook(cells=[new_markdown_cell("**Esercizio 4.** Il pooling non ha pesi.")]))
    blocks = answer_blocks(notebook, split_sections(notebook)[4])
    assert [block.text for block in blocks] == ["Il pooling non ha pesi."]


@pytest.mark.parametrize(("line", "question"), [
    ("**Q4:** no weights to learn, so pooling is cheap", "**Q4:**"),
    ("**Q4.** Why max pooling? It has no weights.", "**Q4.** Why max pooling?"),
    ("**Exercise 4. Why would you use max pooling**", "**Exercise 4. Why would you use max pooling**"),
])
def test_a_label_states_the_question_only_as_far_as_it_asks(line: str, question: str) -> None:
    """An answer written on its label's line is the answer, not a restated question to be left out."""
    notebook = separate_exercises(new_notebook(cells=[new_markdown_cell(line)]))
    assert question_text(notebook, split_sections(notebook)[4]) == question


def test_a_title_naming_an_exercise_the_spec_does_not_have_is_a_title() -> None:
    """ "# Übung 14 – CNN" numbers the sheet, not an exercise, when the spec's exercises are 1–9."""
    cells = [new_markdown_cell("# Übung 14 – CNN"), new_markdown_cell("## 1)\nweniger Gewichte"),
             new_markdown_cell("## 2)\n903.400 Parameter")]
    notebook = new_notebook(cells=cells)
    assert split_sections(separate_exercises(notebook, range(1, 10)), range(1, 10)) == {1: [1], 2: [2]}
    assert set(split_sections(notebook)) == {14}  # without the spec's numbers, the title looks like exercise 14

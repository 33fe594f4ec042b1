"""``grader assign``: the generated student notebook holds the questions and no answer, and grades as intended."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import typer
from conftest import CONCEPTUAL
from nbformat import NotebookNode
from typer.testing import CliRunner

from grader.assign import student_notebook, write_assignment
from grader.checks.rubric import read_ideas
from grader.commands import assign as assign_command
from grader.extract import normalize
from grader.grade import GradeOptions, grade_notebook
from grader.notebook import answer_blocks, split_sections
from grader.spec import ModelAccuracyCheck, NumericCheck, RubricCheck, ShapeCheck, Spec
from grader.text.words import words_of

GRADER = [sys.executable, "-m", "grader"]


def registered(command: str) -> bool:
    """Whether ``python -m grader`` offers this command yet."""
    from grader.cli import app

    return any((info.name or info.callback.__name__) == command for info in app.registered_commands)


def reference_patterns(spec: Spec) -> list[re.Pattern[str]]:
    """Every reference value and alternative of the spec, in the usual written forms."""
    forms: set[str] = set()
    shapes: list[tuple[int, ...]] = []
    for exercise in spec.exercises:
        for check in exercise.checks:
            if isinstance(check, NumericCheck):
                for value in (check.value, *(alternative.value for alternative in check.alternatives)):
                    if float(value).is_integer():
                        number = int(value)
                        forms |= {str(number), f"{number:,}", f"{number:,}".replace(",", " ")}
                    else:
                        forms |= {f"{value:g}", f"{value:.2f}"}
            elif isinstance(check, ShapeCheck):
                shapes.append(check.value)
    patterns = [re.compile(rf"(?<![\d.,]){re.escape(form)}(?!\d)") for form in sorted(forms)]
    patterns += [re.compile(r"(?<!\d)" + r"\D{1,12}".join(map(str, shape)) + r"(?!\d)") for shape in shapes]
    return patterns


def rubric_texts(spec: Spec) -> list[str]:
    """Concept labels and every hint of the spec: none may appear in the student notebook."""
    texts = []
    for exercise in spec.exercises:
        for check in exercise.checks:
            if isinstance(check, RubricCheck):
                texts += [text for concept in check.concepts for text in (concept.label, concept.hint) if text]
            elif check.hint:
                texts.append(check.hint)
    return texts


def notebook_text(notebook: NotebookNode) -> str:
    return "\n".join(cell.source for cell in notebook.cells)


def _fill(notebook: NotebookNode, answers: dict[int, str]) -> NotebookNode:
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if "prompt" not in tags and cell.cell_type == "markdown" and tags:
            cell.source = answers[int(tags[0].removeprefix("exercise-"))]
    return notebook


def seed_answers(seed_style: NotebookNode) -> dict[int, str]:
    """The seed-style notebook's answers by exercise, without the heading that carries the question."""
    answers = {}
    for cell in seed_style.cells:
        heading, _, body = cell.source.partition("\n")
        match = re.match(r"#+\s*(\d+)\.", heading)
        if match:
            answers[int(match.group(1))] = body
    return answers


def filled(spec: Spec, seed_style: NotebookNode) -> NotebookNode:
    """The generated notebook with every text answer cell holding the seed-style answer."""
    return _fill(student_notebook(spec), seed_answers(seed_style))


@pytest.fixture()
def generated(spec: Spec, tmp_path: Path) -> Path:
    return write_assignment(spec, tmp_path / "hand-out" / "student.ipynb")[0]


def test_each_exercise_has_its_question_and_an_empty_answer_cell(spec: Spec, generated: Path) -> None:
    notebook = nbformat.read(generated, as_version=4)
    nbformat.validate(notebook)
    assert notebook.cells[0].source.startswith(f"# {spec.title}\n")
    sections = split_sections(notebook)
    assert sorted(sections) == [exercise.number for exercise in spec.exercises]
    for exercise in spec.exercises:
        cells = [notebook.cells[index] for index in sections[exercise.number]]
        question, *answers = cells
        tag = f"exercise-{exercise.number}"
        assert question.cell_type == "markdown" and question.metadata.tags == [tag, "prompt"]
        assert question.source.startswith(f"## {exercise.number}. {exercise.title}\n")
        assert " ".join(exercise.prompt.split()) in " ".join(question.source.split())
        assert answers and all(cell.metadata.tags == [tag] for cell in answers)
        # the hand-off cell's instructions are comments of the assignment, not an answer
        assert [block for block in answer_blocks(notebook, sections[exercise.number]) if block.kind != "comment"] == []
        if any(isinstance(check, ModelAccuracyCheck) for check in exercise.checks):
            assert [cell.cell_type for cell in answers] == ["code", "code"]
        else:
            assert [(cell.cell_type, cell.source) for cell in answers] == [("markdown", "")]


def test_model_exercise_has_the_starter_code_and_the_hand_off(spec: Spec, generated: Path) -> None:
    notebook = nbformat.read(generated, as_version=4)
    check = next(check for exercise in spec.exercises for check in exercise.checks
                 if isinstance(check, ModelAccuracyCheck))
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    flat = " ".join(code.split())
    assert "from utils import set_seed" in code and "set_seed()" in code
    assert 'datapath = os.path.join("./", "datasets")' in code
    assert ("tfds.load( 'mnist', split=['train[:80%]', 'train[80%:]', 'test'], shuffle_files=True, "
            "as_supervised=True, with_info=True, data_dir=datapath, )") in flat
    assert f"save({check.model_file!r})" in code and f"variable named `{check.model_variable}`" in code
    for cell in notebook.cells:
        if cell.cell_type == "code":
            compile(cell.source, "cell", "exec")
    assert "def set_seed" in (generated.parent / "utils.py").read_text()


def test_no_reference_value_appears(spec: Spec, generated: Path) -> None:
    text = notebook_text(nbformat.read(generated, as_version=4))
    for pattern in reference_patterns(spec):
        assert not pattern.search(text) and not pattern.search(normalize(text)), pattern.pattern


def test_no_rubric_label_hint_or_keyword_appears(spec: Spec, generated: Path) -> None:
    text = notebook_text(nbformat.read(generated, as_version=4))
    for leaked in rubric_texts(spec):
        assert leaked.lower() not in text.lower(), leaked
    own_words = text
    for exercise in spec.exercises:
        own_words = own_words.replace(exercise.prompt.strip(), "").replace(exercise.title, "")
    own_words = re.sub(r"\s+", " ", normalize(own_words))
    words = words_of(own_words)
    for exercise in spec.exercises:
        for check in exercise.checks:
            if isinstance(check, RubricCheck):
                stated = [reading.concept.id for reading in read_ideas(check, words, "en") if reading.credited]
                assert not stated, (exercise.number, stated)


def test_graded_as_is_it_scores_zero_with_no_answer_found(spec: Spec, generated: Path) -> None:
    result = grade_notebook(generated, spec, GradeOptions(execute=False))
    assert result.status == "graded" and result.score == 0
    for exercise in result.exercises:
        assert exercise.status == "failed"
        for check in exercise.checks:
            assert check.score == 0 and check.found == ""
            if isinstance(spec.exercise(exercise.number).checks[0], ModelAccuracyCheck):
                assert "no model found" in check.message
            else:
                assert check.message == f"{check.label}: no answer found"


def test_seed_style_answers_in_the_answer_cells_get_full_marks(spec: Spec, seed_style: NotebookNode,
                                                                write_notebook) -> None:
    result = grade_notebook(write_notebook(filled(spec, seed_style)), spec,
                            GradeOptions(execute=False, exercises=CONCEPTUAL))
    assert [(exercise.number, exercise.status) for exercise in result.exercises] == [
        (number, "passed") for number in CONCEPTUAL]
    assert result.score == sum(spec.exercise(number).points for number in CONCEPTUAL)


def test_the_notebook_is_the_same_every_time(spec: Spec, tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "student.ipynb", tmp_path / "b" / "student.ipynb"
    write_assignment(spec, first)
    write_assignment(spec, second)
    assert first.read_bytes() == second.read_bytes()


def _app() -> typer.Typer:
    app = typer.Typer()
    assign_command.register(app)
    app.command("noop", hidden=True)(lambda: None)  # a second command keeps "assign" a named subcommand
    return app


def test_assign_command_writes_and_refuses_to_overwrite(spec: Spec, tmp_path: Path) -> None:
    target = tmp_path / "out" / "student.ipynb"
    runner = CliRunner()
    done = runner.invoke(_app(), ["assign", "-o", str(target)])
    assert done.exit_code == 0, done.output
    assert f"wrote {target}" in done.output and (tmp_path / "out" / "utils.py").is_file()
    (tmp_path / "out" / "utils.py").write_text("# the course's own helpers\n")
    again = runner.invoke(_app(), ["assign", "-o", str(target)])
    assert again.exit_code == 2 and "exists" in again.output
    forced = runner.invoke(_app(), ["assign", "-o", str(target), "--force"])
    assert forced.exit_code == 0
    assert (tmp_path / "out" / "utils.py").read_text() == "# the course's own helpers\n"
    assert nbformat.read(target, as_version=4) == student_notebook(spec, target.name)


def test_assign_command_rejects_a_bad_spec(tmp_path: Path) -> None:
    broken = tmp_path / "spec.yaml"
    broken.write_text("id: x\ntitle: Broken\nexercises: []\n")
    done = CliRunner().invoke(_app(), ["assign", "--spec", str(broken), "-o", str(tmp_path / "s.ipynb")])
    assert done.exit_code == 2 and "spec error" in done.output
    assert not (tmp_path / "s.ipynb").exists()


@pytest.mark.skipif(not registered("assign"), reason="grader/cli.py does not register the assign command yet")
def test_python_m_grader_assign(spec: Spec, tmp_path: Path) -> None:
    done = subprocess.run([*GRADER, "assign", "-o", "student.ipynb"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert nbformat.read(tmp_path / "student.ipynb", as_version=4) == student_notebook(spec)

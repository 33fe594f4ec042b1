"""Answers read the way a careful instructor reads them: each failure mode pinned in both directions —
the wrong form loses, the right form in other words or another language wins. Every case is a small
notebook with the grade a person would give (full / partial / zero), written for these tests."""

from __future__ import annotations

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from grader.grade import GradeOptions, grade_notebook
from grader.scoring import ExerciseResult
from grader.spec import Spec

QUESTIONS = {
    1: "What are the advantages of a CNN over a fully connected DNN for image classification?",
    2: "Parameters and RAM of the three-layer CNN",
    3: "If your GPU runs out of memory while training a CNN, what are five things you could try?",
    4: "Why would you want to add a max pooling layer rather than a convolutional layer with the same stride?",
    5: "When would you want to add a local response normalization layer?",
    6: "Main innovations of AlexNet, GoogLeNet, ResNet, SENet and Xception?",
    7: "What is a fully convolutional network? How can you convert a dense layer into a convolutional layer?",
    8: "What is the main technical difficulty of semantic segmentation?",
}


def _grade(spec: Spec, write_notebook, number: int, answer: str, printed: str = "") -> ExerciseResult:
    cells = [new_markdown_cell(f"## {number}. {QUESTIONS[number]}"), new_markdown_cell(answer)]
    if printed:
        cells.append(new_code_cell("print(...)", outputs=[new_output("stream", name="stdout", text=printed)]))
    path = write_notebook(new_notebook(cells=cells))
    return grade_notebook(path, spec, GradeOptions(execute=False, exercises=(number,))).exercises[0]


def _grade_class(exercise: ExerciseResult) -> str:
    if exercise.score >= exercise.max_score:
        return "full"
    return "zero" if exercise.score == 0 else "partial"


def _check(exercise: ExerciseResult, check_id: str):
    return next(check for check in exercise.checks if check.id == check_id)


# --- numbers: the answer given, not any number that appears ----------------------------------------

@pytest.mark.parametrize(("answer", "earned", "flagged"), [
    # a wrong stated total does not pass because the right figure is a factor in later working
    ("Total parameters: 902,400.\n\nThe weights then take 903400 × 4 bytes ≈ 3.6 MB.", False, False),
    ("The network has 903,400 parameters, so its weights take 903400 × 4 bytes ≈ 3.6 MB.", True, False),
    # a hedge among candidates earns nothing
    ("I am not sure: the total is 902,400 or 903,400 or 1,000,000.", False, True),
    ("The total is 903,400 (about 0.9 million).", True, False),
    # a right figure contradicted by a different final one
    ("Adding the three layers gives 903,400. So about 9 million parameters in total.", False, True),
    ("Adding the three layers gives 903,400, so about 0.9 million parameters in total.", True, False),
    ("Sum of the layers: 903,400.\n\n**Final answer:** 902,700 parameters (biases left out).", False, True),
    # doubt, not only "or", hedges a figure against another in the same sentence
    ("Creo que son 903.400 parámetros, aunque sin sesgos serían 902.700; no tengo claro cuál se pide.", False, True),
    # counts of something else, named as such, answer no parameter count
    ("The network has 903,400 parameters. Its activations add up to 1,500,000, 750,000 and 380,000 values, "
     "2,810,000 values altogether.", True, False),
    # other locales' thousands separators
    ("Insgesamt hat das Netz 903.400 Parameter.", True, False),
    ("No total, a rede tem 903 400 parâmetros.", True, False),
])
def test_total_parameters_is_the_stated_answer(spec, write_notebook, answer, earned, flagged) -> None:
    total = _check(_grade(spec, write_notebook, 2, answer), "total-params")
    assert (total.score == total.points) is earned, total.message
    assert bool(total.review) is flagged, total.review
    if flagged:
        assert "different answers given" in total.message


@pytest.mark.parametrize(("answer", "earned"), [
    ("RAM for one instance: 2,810,000 floats × 32 = 89.9 MB of activations plus 28.9 MB of weights, "
     "about 118.8 MB in all.", False),
    ("RAM for one instance: 2,810,000 floats and 903,400 weights, 4 bytes each: 14.85 MB.", True),
    ("Speicher für die Vorhersage eines Bildes: ca. 14,85 MB.", True),
    ("Memória para uma única imagem: 14.853.600 bytes.", True),
    ("RAM for one instance: 11.2 + 3.61 ≈ 14.81 MB.", False),
])
def test_memory_for_one_instance(spec, write_notebook, answer, earned) -> None:
    ram = _check(_grade(spec, write_notebook, 2, answer), "ram-instance")
    assert (ram.score == ram.points) is earned, ram.message
    if "× 32" in answer:
        assert "bits counted instead of bytes" in ram.message


def test_megabits_or_megabytes_is_flagged(spec, write_notebook) -> None:
    ram = _check(_grade(spec, write_notebook, 2, "RAM for one instance: about 14.85 Mb."), "ram-instance")
    assert ram.score == ram.points and any("megabits" in reason for reason in ram.review)


def test_a_printed_table_and_a_final_line_that_disagree(spec, write_notebook) -> None:
    printed = "one image: 14.85 MB\nbatch of 50: 565.61 MB\n"
    answer = "Only activations scale with the batch, and the weights were loaded once, so my final figure for the " \
             "mini-batch is 562 MB."
    batch = _check(_grade(spec, write_notebook, 2, answer, printed), "ram-batch")
    assert batch.score == 0 and batch.review


# --- free text: ideas, not keywords ----------------------------------------------------------------

CASES = [
    # the book's way of putting the three advantages, not its words
    (1, "Neighbouring layers are only partially connected and the network reuses its weights heavily, so it "
        "needs far fewer parameters. Once a kernel has learned a feature it can spot it anywhere in the picture. "
        "Lower layers pick up features in small areas and higher layers assemble them into larger features.",
     "full", False),
    # a negated idea is not credited, and the exercise is flagged
    (1, "CNNs do NOT use weight sharing: every pixel keeps its own weight. They can find a pattern at any "
        "position, and they build a hierarchy from edges up to whole objects.", "partial", True),
    # a negation about the dense network does not negate the CNN's idea
    (1, "A dense network does not share any weights, but a CNN slides the same small kernel across the whole "
        "image, so it has far fewer parameters. It recognises a pattern wherever it appears, and its layers "
        "form a hierarchy of simple to complex features.", "full", False),
    # the question restated earns nothing
    (1, "What are the advantages of a CNN over a fully connected DNN for image classification?", "zero", False),
    # a keyword list where an explanation is asked is capped below full and flagged
    (4, "no params / max / shift invariance", "partial", True),
    (4, "A pooling layer has no weights to train, so it saves memory and computation. It also passes on only the "
        "strongest response of each window, which makes the output tolerate small shifts of the input.",
     "full", False),
    # remedies that do not save memory earn nothing
    (3, "Use a bigger batch size, train for more epochs, add dropout, lower the learning rate and restart the "
        "kernel.", "zero", False),
    (3, "Shrink the mini-batch; downscale the images; drop a few layers; switch to float16; split the model "
        "across two GPUs.", "full", False),
    # ideas attributed to the wrong architecture do not count for either
    (6, "- AlexNet: bigger and deeper than LeNet-5, ReLU, dropout, trained on GPUs\n"
        "- GoogLeNet: skip connections\n- ResNet: inception modules\n"
        "- SENet: squeeze-and-excitation blocks\n- Xception: depthwise separable convolutions", "partial", False),
    # denying the real difficulty
    (8, "The difficulty is not that the network loses spatial resolution; it is that there are too many classes.",
     "zero", True),
    # the lost resolution is the main point; a pixel-level output alone is only part of it
    (8, "Layers with a stride above 1 and pooling layers gradually throw away spatial detail, so the network no "
        "longer knows precisely where things are.", "full", False),
    (8, "Every single pixel must be given a class, which is a lot of outputs.", "partial", False),
    # other languages
    (1, "与全连接网络相比，卷积网络的参数少得多，因为每个神经元只连接局部区域并且共享权重；"
        "同一个特征出现在图像任何位置都能被识别；低层学习边缘等简单特征，高层把它们组合成复杂的结构。", "full", False),
    (4, "Eine Pooling-Schicht lernt keine Gewichte und spart deshalb Speicher und Rechenzeit. Außerdem reicht sie "
        "nur den größten Wert jedes Fensters weiter und macht das Netz robuster gegen kleine Verschiebungen.",
     "full", False),
    (8, "A medida que la imagen atraviesa la red, los strides y el pooling reducen la resolución espacial, pero la "
        "segmentación necesita una clase para cada píxel; hay que recuperar la resolución con convoluciones "
        "transpuestas.", "full", False),
    (1, "Un CNN a beaucoup moins de paramètres grâce au partage des poids et aux connexions locales. Il reconnaît "
        "un motif n'importe où dans l'image, et ses couches forment une hiérarchie de caractéristiques simples "
        "vers complexes.", "full", False),
    (1, "Una rete convoluzionale ha molti meno parametri perché condivide i pesi; riconosce un motivo ovunque "
        "si trovi; gli strati formano una gerarchia di caratteristiche semplici e poi complesse.", "full", False),
    (5, "A LRN faz os neurônios mais ativados inibirem os vizinhos na mesma posição em mapas adjacentes, o que "
        "leva os mapas a se especializarem. Usa-se nas primeiras camadas, como na AlexNet, para generalizar "
        "melhor.", "full", False),
]


@pytest.mark.parametrize(("number", "answer", "human", "flagged"), CASES)
def test_free_text_graded_as_a_person_would(spec, write_notebook, number, answer, human, flagged) -> None:
    exercise = _grade(spec, write_notebook, number, answer)
    assert _grade_class(exercise) == human, [check.message for check in exercise.checks]
    assert exercise.review.needed is flagged, exercise.review.reasons


def test_an_uncovered_language_is_sent_to_review_with_its_name(spec, write_notebook) -> None:
    answer = ("Een convolutioneel netwerk heeft veel minder gewichten omdat elk neuron alleen naar een klein stukje "
              "van het beeld kijkt en alle posities hetzelfde filter delen; het herkent een patroon overal.")
    exercise = _grade(spec, write_notebook, 1, answer)
    assert exercise.review.needed and any("Dutch" in reason for reason in exercise.review.reasons)


def test_feedback_names_recognised_ideas(spec, write_notebook) -> None:
    exercise = _grade(spec, write_notebook, 4, "Max pooling has no parameters at all, so it is cheaper.")
    rubric = exercise.checks[0]
    assert rubric.recognised == ("it has no parameters, so it costs less memory and computation",)
    assert _grade_class(exercise) == "partial"

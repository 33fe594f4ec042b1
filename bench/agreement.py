"""Agreement of the grader with hand labels: full / partial / zero per exercise.

Usage: python bench/agreement.py LABELS.json NOTEBOOK_OR_FOLDER... [--spec SPEC] [--execute] [--show-disagreements]

LABELS.json maps a notebook's stem to {exercise number: "full" | "partial" | "zero"}. Only labelled
exercises are graded and counted. Notebooks are graded from their stored outputs unless ``--execute``
(the grades are the same for notebooks whose outputs are stored). Prints the confusion (human -> grader),
agreement per exercise, the share of exercises sent to review, agreement on those not sent, and how
many exercises a human graded zero that the grader graded full.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from grader.grade import GradeOptions, grade_notebook
from grader.scoring import ExerciseResult
from grader.spec import load_spec
from grader.spec.load import bundled_spec_path

GRADES = ("full", "partial", "zero")


def grade_class(exercise: ExerciseResult) -> str:
    if exercise.score >= exercise.max_score:
        return "full"
    return "zero" if exercise.score == 0 else "partial"


@dataclass(frozen=True)
class Comparison:
    notebook: str
    number: int
    human: str
    grader: str
    review: bool
    reasons: tuple[str, ...]
    messages: tuple[str, ...]


def _notebooks(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        found += sorted(path.glob("*.ipynb")) if path.is_dir() else [path]
    return found


def compare(
    labels: dict[str, dict[str, str]], notebooks: list[Path], spec_path: Path, execute: bool
) -> list[Comparison]:
    spec = load_spec(spec_path)
    comparisons: list[Comparison] = []
    for notebook in notebooks:
        wanted = labels.get(notebook.stem)
        if not wanted:
            continue
        numbers = tuple(sorted(int(number) for number in wanted))
        result = grade_notebook(notebook, spec, GradeOptions(execute=execute, exercises=numbers))
        for exercise in result.exercises:
            comparisons.append(Comparison(
                notebook.stem, exercise.number, wanted[str(exercise.number)], grade_class(exercise),
                exercise.review.needed, exercise.review.reasons,
                tuple(check.message for check in exercise.checks),
            ))
    return comparisons


def summary(comparisons: list[Comparison]) -> list[str]:
    total = len(comparisons)
    if not total:
        return ["no labelled exercise among these notebooks"]
    agree = sum(c.human == c.grader for c in comparisons)
    confusion = collections.Counter((c.human, c.grader) for c in comparisons)
    per_exercise: dict[int, list[int]] = collections.defaultdict(lambda: [0, 0])
    for c in comparisons:
        per_exercise[c.number][0] += c.human == c.grader
        per_exercise[c.number][1] += 1
    unreviewed = [c for c in comparisons if not c.review]
    unreviewed_agree = sum(c.human == c.grader for c in unreviewed)
    zero_full = sum(c.human == "zero" and c.grader == "full" for c in comparisons)
    lines = ["confusion (rows: human, columns: grader)", "          " + "".join(f"{g:>9}" for g in GRADES)]
    lines += [f"{h:>10}" + "".join(f"{confusion[(h, g)]:>9}" for g in GRADES) for h in GRADES]
    lines.append("per exercise: " + ", ".join(f"{n}: {a}/{t}" for n, (a, t) in sorted(per_exercise.items())))
    lines.append(f"agreement: {agree}/{total} = {100 * agree / total:.1f}%")
    lines.append(f"sent to review: {total - len(unreviewed)}/{total} = {100 * (total - len(unreviewed)) / total:.1f}%")
    if unreviewed:
        lines.append(f"agreement on exercises not sent to review: {unreviewed_agree}/{len(unreviewed)} = "
                     f"{100 * unreviewed_agree / len(unreviewed):.1f}%")
    lines.append(f"human zero graded full: {zero_full}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels", type=Path)
    parser.add_argument("notebooks", type=Path, nargs="+")
    parser.add_argument("--spec", type=Path, default=None)
    parser.add_argument("--execute", action="store_true", help="execute the notebooks (default: stored outputs)")
    parser.add_argument("--show-disagreements", action="store_true")
    args = parser.parse_args()
    labels = json.loads(args.labels.read_text(encoding="utf-8"))
    comparisons = compare(labels, _notebooks(args.notebooks), args.spec or bundled_spec_path(), args.execute)
    if args.show_disagreements:
        for c in comparisons:
            if c.human != c.grader or c.review:
                flag = " [review: " + "; ".join(c.reasons) + "]" if c.review else ""
                print(f"{c.notebook} ex{c.number}: human {c.human}, grader {c.grader}{flag}")
                for message in c.messages:
                    print(f"    {message}")
    print("\n".join(summary(comparisons)))
    sys.exit(0)


if __name__ == "__main__":
    main()

"""The ``grader`` command line: a thin shell over the library."""

from __future__ import annotations

from dataclasses import replace
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from grader.batch import BatchEvents, grade_batch
from grader.commands import assign, check, override, report, review
from grader.commands.common import USAGE_ERROR, console, errors, load_spec_or_exit
from grader.commands.isolation import IsolationOption, use_isolation
from grader.commands.override import OverridesOption, merge_or_exit, overrides_or_exit, warn_unapplied
from grader.datasets import DatasetError, fetch_mnist
from grader.formats import Format, write_formats
from grader.grade import GradeOptions
from grader.model_exercise import Gpu, GpuSelectionError
from grader.model_exercise import discover as discover_gpus
from grader.model_exercise.device import gpu_count
from grader.progress import BatchProgress, default_workers
from grader.report import print_summary
from grader.scoring import SubmissionResult, failed_submission
from grader.spec import Spec
from grader.submissions import discover, hidden_paths

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Grade notebooks for the convolutional-neural-network chapter exercises.",
)


class Device(str, Enum):
    auto = "auto"
    gpu = "gpu"
    cpu = "cpu"


SpecOption = Annotated[
    Path | None, typer.Option("--spec", help="Exercise spec (YAML). Default: the bundled chapter-14 spec.")
]


CLUSTER_LOST = 3


def _say(message: str) -> None:
    console.print(message, highlight=False)


def _warn(message: str) -> None:
    errors.print(f"[bold yellow]warning[/bold yellow] {message}", highlight=False)


def _grade_batch(
    notebooks: tuple[Path, ...],
    spec: Spec,
    options: GradeOptions,
    out: Path,
    *,
    cluster: str | None,
    workers: int | None,
    per_gpu: int,
    force: bool,
    extra: list[SubmissionResult],
    events: BatchEvents,
) -> list[SubmissionResult]:
    """Grade here with ``workers`` threads, or on the Dask cluster ``cluster`` (imported only then)."""
    if cluster is None:
        jobs = workers or default_workers()
        return grade_batch(
            notebooks, spec, options, out, workers=jobs, per_gpu=per_gpu, force=force, extra=extra, events=events
        )
    try:
        from grader.cluster import ClusterError, ClusterLost, cluster_engine
    except ImportError as error:
        errors.print(f"[red]error[/red] --cluster needs Dask distributed: pip install 'cnn-grader[cluster]' ({error})")
        raise typer.Exit(USAGE_ERROR) from None
    try:
        with cluster_engine(cluster, spec, options, _say, _warn, events.activity) as engine:
            return grade_batch(notebooks, spec, options, out, force=force, extra=extra, events=events, engine=engine)
    except ClusterError as error:
        errors.print(f"[red]error[/red] {error}", highlight=False)
        raise typer.Exit(USAGE_ERROR) from None
    except ClusterLost as error:
        errors.print(
            f"[red]error[/red] {error}; the results written so far are kept, run the command again to grade the rest",
            highlight=False,
        )
        raise typer.Exit(CLUSTER_LOST) from None


def gpus_or_exit(wanted: str | None) -> tuple[Gpu, ...]:
    """The GPUs ``--gpus`` names on this machine (default: all those this process may use)."""
    try:
        return discover_gpus().select(wanted or "all")
    except GpuSelectionError as error:
        errors.print(f"[red]error[/red] {error}", highlight=False)
        raise typer.Exit(USAGE_ERROR) from None


@app.command()
def grade(
    submissions: Annotated[list[Path], typer.Argument(help="Notebooks, or folders searched for *.ipynb.")],
    spec: SpecOption = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for results.json and grades.csv.")] = Path("grades"),
    fail_under: Annotated[
        float | None,
        typer.Option(
            "--fail-under", min=0, max=100, help="Exit with 1 when any submission scores under this percentage."
        ),
    ] = None,
    device: Annotated[
        Device,
        typer.Option(
            "--device", help="Where exercise 9 may train: auto follows the spec, gpu requires one, cpu allows CPU."
        ),
    ] = Device.auto,
    execute: Annotated[
        bool,
        typer.Option(
            "--execute/--no-execute", help="Run each notebook in a fresh kernel, or grade its stored outputs."
        ),
    ] = True,
    cell_timeout: Annotated[float | None, typer.Option(help="Seconds one cell may run (default: the spec's).")] = None,
    notebook_timeout: Annotated[
        float | None, typer.Option(help="Seconds a whole notebook may run (default: the spec's).")
    ] = None,
    memory_mb: Annotated[
        int | None,
        typer.Option(
            min=64, help="Memory per process, and for a kernel's processes together, MB (default: the spec's)."
        ),
    ] = None,
    max_processes: Annotated[
        int | None, typer.Option(min=8, help="Processes and threads a notebook may start (default: the spec's).")
    ] = None,
    max_file_mb: Annotated[int | None, typer.Option(min=1, help="Largest file a notebook may write, MB.")] = None,
    max_output_mb: Annotated[
        int | None, typer.Option(min=1, help="Output kept per notebook, MB; the rest is cut.")
    ] = None,
    exercise: Annotated[
        list[int] | None,
        typer.Option(
            "--exercise", "-e", help="Grade only these exercises (repeatable); the others' cells are not run."
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", "-j", min=1, help="Notebooks graded at once (default: the number of CPU cores)."),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            help="Grade on a Dask cluster: local:N (N worker processes on this machine) or a scheduler "
            "address (tcp://host:8786). Needs the cluster extra.",
        ),
    ] = None,
    gpus: Annotated[
        str | None,
        typer.Option(
            "--gpus",
            help="GPUs exercise 9 may train on here: all (default; those CUDA_VISIBLE_DEVICES allows, if set) or "
            "numbers such as 0,1. Each notebook that trains is given one GPU and sees only that one.",
        ),
    ] = None,
    per_gpu: Annotated[
        int | None,
        typer.Option("--per-gpu", min=1, help="Notebooks training on one GPU at once (default 1)."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Regrade every submission, even those unchanged since the last run in --out."),
    ] = False,
    formats: Annotated[
        list[Format] | None,
        typer.Option(
            "--format",
            help="Also write: gradescope (OUT/gradescope/), junit (OUT/junit.xml), feedback (OUT/feedback/); "
            "repeatable.",
        ),
    ] = None,
    overrides: OverridesOption = None,
    isolation: IsolationOption = None,
) -> None:
    """Grade SUBMISSIONS and write OUT/results.json and OUT/grades.csv."""
    loaded = load_spec_or_exit(spec)
    if cluster is not None and workers is not None:
        errors.print("[red]error[/red] --workers sets local grading; with --cluster the cluster's workers grade")
        raise typer.Exit(USAGE_ERROR)
    if overrides is not None:
        overrides_or_exit(overrides, loaded)
    if cluster is not None and (gpus is not None or per_gpu is not None):
        errors.print("[red]error[/red] --gpus and --per-gpu share this machine's GPUs; cluster workers use their own")
        raise typer.Exit(USAGE_ERROR)
    chosen = None if cluster is not None else gpus_or_exit(gpus)
    if device is Device.gpu and (not chosen or gpu_count() == 0):
        errors.print("[red]error[/red] --device gpu: TensorFlow sees no GPU on this machine, or none is chosen")
        raise typer.Exit(USAGE_ERROR)
    found = discover(submissions)
    for problem in found.problems:
        errors.print(f"[red]error[/red] {problem}", highlight=False)
    if not found.notebooks:
        errors.print("[red]error[/red] nothing to grade")
        raise typer.Exit(USAGE_ERROR)
    given_limits: dict[str, Any] = {
        "cell_timeout": cell_timeout,
        "notebook_timeout": notebook_timeout,
        "memory_mb": memory_mb,
        "max_processes": max_processes,
        "max_file_mb": max_file_mb,
        "max_output_mb": max_output_mb,
    }
    limits = replace(loaded.limits, **{name: value for name, value in given_limits.items() if value is not None})
    use_isolation(isolation, executing=execute)
    out.mkdir(parents=True, exist_ok=True)  # it must exist to be hidden from the first notebooks
    options = GradeOptions(
        execute=execute,
        device=device.value,
        gpus=chosen,
        limits=limits,
        hidden=hidden_paths(loaded, out.resolve(), found.roots),
        exercises=tuple(exercise or ()),
        progress=lambda message: console.print(message, highlight=False),
    )
    missing = [
        failed_submission(problem.split(": ", 1)[0], loaded.max_score, problem)
        for problem in found.problems
        if "no such file" in problem or "not a notebook" in problem
    ]
    with BatchProgress(console, len(found.notebooks)) as progress:
        results = _grade_batch(
            found.notebooks,
            loaded,
            options,
            out,
            cluster=cluster,
            workers=workers,
            per_gpu=per_gpu or 1,
            force=force,
            extra=missing,
            events=progress.events,
        )
    if overrides is not None:
        results = merge_or_exit(results, loaded, out, overrides)
    else:
        warn_unapplied(out)
    write_formats(results, loaded, out, {item.value for item in formats or ()})
    print_summary(results, loaded, console)
    console.print(f"results: {out / 'results.json'}, {out / 'grades.csv'}", highlight=False)
    if fail_under is not None and any(result.percent < fail_under for result in results):
        raise typer.Exit(1)


@app.command()
def validate(
    spec: Annotated[Path | None, typer.Argument(help="Spec to check. Default: the bundled one.")] = None,
) -> None:
    """Check a spec against the schema and its rules; list every error with its line."""
    loaded = load_spec_or_exit(spec)
    console.print(
        f"{loaded.path}: valid — {len(loaded.exercises)} exercises, {loaded.max_score:g} points", highlight=False
    )


@app.command()
def keycheck(spec: SpecOption = None) -> None:
    """Rebuild the described networks in Keras and confirm every shape, parameter count and byte figure."""
    from grader.keycheck import check_key

    figures = check_key(load_spec_or_exit(spec))
    for figure in figures:
        mark = "[green]ok[/green]" if figure.ok else "[red]MISMATCH[/red]"
        console.print(
            f"{mark} exercise {figure.exercise} {figure.check} ({figure.key}): "
            f"key {figure.stated}, Keras {figure.computed}",
            highlight=False,
        )
    if not figures:
        errors.print("no keyed figures in this spec")
    if not all(figure.ok for figure in figures):
        raise typer.Exit(1)


assign.register(app)
check.register(app)
override.register(app)
report.register(app)
review.register(app)
data_app = typer.Typer(no_args_is_help=True, help="Datasets the exercises need, kept in a verified local cache.")
app.add_typer(data_app, name="data")


class Dataset(str, Enum):
    mnist = "mnist"


@data_app.command("fetch")
def data_fetch(
    dataset: Annotated[Dataset, typer.Argument(help="The dataset to fetch.")],
    source: Annotated[
        Path | None,
        typer.Option("--from", help="Use these files: a folder or file of IDX, .gz IDX or Keras mnist.npz."),
    ] = None,
) -> None:
    """Fill the cache (CNN_GRADER_CACHE, else the user cache folder), checking every file's SHA-256."""
    try:
        result = fetch_mnist(source, progress=lambda message: console.print(message, highlight=False))
    except DatasetError as error:
        errors.print(f"[red]error[/red] {error}", highlight=False)
        raise typer.Exit(1) from None
    state = "already present" if result.already_present else "ready"
    console.print(f"{dataset.value}: {state} in {result.directory}", highlight=False)


def main() -> None:
    app(prog_name="grader")


if __name__ == "__main__":
    main()

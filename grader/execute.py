"""Execute a student notebook in a sandboxed, fresh kernel and report what failed where.

Everything the sandbox hands back is untrusted: the kernel shares the sandbox with the process that
runs it and can rewrite that process's files. So the executed notebook is read only if it is a plain
file (no link) of a bounded size, and only its code cells' outputs and outcomes are taken, each
checked against the notebook format, onto the submitted notebook's own cells. Outputs stored in the
submitted file are never graded after an execution.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbformat.validator import ValidationError, validate

from grader.activity import Activity, ActivityWatch, no_activity
from grader.budget import Budget, uniform
from grader.protocol import ACTIVITY_FILE, OUTCOME_KEY, CellOutcome, CellStatus, RunRequest
from grader.runner import EPILOGUE_OUTPUT_BYTES, NOTEBOOK_OUTPUT_FACTOR
from grader.sandbox import SandboxPolicy, SandboxResult, run_sandboxed, runtime_command
from grader.spec import Limits
from grader.workspace import Workspace

SETUP_TAG = "grader-setup"
_MB = 1024**2
_METADATA_BYTES_PER_CELL = 2048


@dataclass(frozen=True)
class CellFailure:
    """A code cell that raised, timed out, killed its kernel or never ran."""

    cell_index: int
    status: str
    message: str


@dataclass(frozen=True)
class Execution:
    """The executed notebook (setup cells removed); ``problem`` says what went wrong with the run as a whole."""

    notebook: NotebookNode
    failures: tuple[CellFailure, ...]
    isolation: str
    seconds: float
    epilogue_output: str = ""
    problem: str = ""


@dataclass(frozen=True)
class ExecutionOptions:
    """How to run a notebook: the spec-wide limits, each cell's (default: those), what the sandbox sees and the
    device nodes (a GPU's) it may open."""

    limits: Limits
    budget: Budget | None = None
    hidden: tuple[Path, ...] = ()
    readonly: tuple[Path, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    devices: tuple[Path, ...] = ()
    on_activity: Callable[[Activity], None] = no_activity  # the cell running, about every second


def _environment(workspace: Workspace, extra: Sequence[tuple[str, str]]) -> dict[str, str]:
    home = str(workspace.home)
    env = {
        "HOME": home,
        "IPYTHONDIR": f"{home}/.ipython",
        "JUPYTER_RUNTIME_DIR": f"{home}/.jupyter-runtime",
        "JUPYTER_CONFIG_DIR": f"{home}/.jupyter",
        "JUPYTER_DATA_DIR": f"{home}/.jupyter-data",
        "MPLCONFIGDIR": f"{home}/.matplotlib",
        "KERAS_HOME": f"{home}/.keras",
        "MPLBACKEND": "agg",
        "PYTHONDONTWRITEBYTECODE": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "LANG": "C.UTF-8",
    }
    env.update(extra)
    return env


def with_setup_cells(notebook: NotebookNode, sources: Sequence[str]) -> NotebookNode:
    """A copy of the notebook with the grader's visible set-up cells in front."""
    copy = nbformat.from_dict(notebook)
    cells = [nbformat.v4.new_code_cell(source, metadata={"tags": [SETUP_TAG]}) for source in sources]
    copy.cells = cells + list(copy.cells)
    return copy


def _without_outputs(notebook: NotebookNode) -> NotebookNode:
    """The notebook with every code cell's stored outputs, count and outcome removed."""
    for cell in notebook.cells:
        if cell.get("cell_type") == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop(OUTCOME_KEY, None)
            cell.metadata.pop("execution", None)
    return notebook


def _read_untrusted(path: Path, max_bytes: int) -> tuple[bytes | None, str]:
    """A file the sandbox wrote: its bytes if it is a plain file (not a link) of at most ``max_bytes``."""
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None, "it was not written"
    except OSError as error:
        return None, "it is a link" if error.errno == errno.ELOOP else f"it cannot be opened ({error.strerror})"
    with os.fdopen(handle, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            return None, "it is not a plain file"
        if info.st_size > max_bytes:
            return None, f"it is {info.st_size / _MB:.0f} MB, over the {max_bytes / _MB:.0f} MB expected at most"
        return file.read(max_bytes), ""


def _timing(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(key): item for key, item in value.items() if isinstance(item, str)}


def _take_results(target: NotebookNode, executed: NotebookNode) -> str:
    """Copy each code cell's outputs, count and outcome from ``executed`` onto ``target``; "" or why not."""
    cells = executed.get("cells")
    if not isinstance(cells, list) or len(cells) != len(target.cells):
        return "its cells do not match the submission's"
    for mine, theirs in zip(target.cells, cells, strict=True):
        if not isinstance(theirs, dict) or theirs.get("cell_type") != mine.cell_type:
            return "its cells do not match the submission's"
        if mine.cell_type != "code":
            continue
        outputs = theirs.get("outputs", [])
        try:
            if not isinstance(outputs, list):
                raise TypeError(outputs)
            for output in outputs:
                validate(output, ref="output", version=4)
        except (ValidationError, TypeError):
            return "it holds outputs that are not valid notebook outputs"
        mine.outputs = outputs
        count = theirs.get("execution_count")
        mine.execution_count = count if isinstance(count, int) else None
        metadata = theirs.get("metadata", {}) if isinstance(theirs.get("metadata"), dict) else {}
        outcome = CellOutcome.of(theirs)
        if outcome is not None:
            outcome.record(mine)
        timing = _timing(metadata.get("execution"))
        if timing:
            mine.metadata["execution"] = timing
    return ""


def _executed(path: Path, ran: NotebookNode, max_bytes: int) -> tuple[NotebookNode, str]:
    """``ran`` with the results read from the executed notebook at ``path``, and the problem if there were none."""
    result = nbformat.from_dict(ran)
    data, why = _read_untrusted(path, max_bytes)
    if data is None:
        return result, f"the executed notebook was not read: {why}"
    try:
        executed = nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception:  # nbformat raises many types for malformed input
        return result, "the executed notebook was not read: it is not a valid notebook"
    why = _take_results(result, executed)
    return (nbformat.from_dict(ran), f"the executed notebook was not used: {why}") if why else (result, "")


def _failures(notebook: NotebookNode, killed_for_time: bool, notebook_timeout: float) -> list[CellFailure]:
    failures = []
    reached_end = True
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        outcome = CellOutcome.of(cell)
        if outcome is None:
            if reached_end and killed_for_time:
                message = f"the notebook's {notebook_timeout:g} s time limit ran out during this cell"
                failures.append(CellFailure(index, "timeout", message))
            elif reached_end:
                failures.append(CellFailure(index, "not-run", "the notebook stopped before this cell ran"))
            reached_end = False
        elif outcome.failed:
            failures.append(CellFailure(index, outcome.status.value, outcome.error))
    return failures


def _truncation_note(notebook: NotebookNode, max_output_mb: float) -> str:
    cells = [
        index + 1
        for index, cell in enumerate(notebook.cells)
        if (outcome := CellOutcome.of(cell)) is not None and outcome.truncated
    ]
    if not cells:
        return ""
    return (
        f"output truncated in cell{'s' if len(cells) > 1 else ''} {', '.join(map(str, cells))}: over the limit "
        f"of {max_output_mb:g} MB per cell and {NOTEBOOK_OUTPUT_FACTOR * max_output_mb:g} MB per notebook"
    )


def _setup_problem(setup_cells: Sequence[NotebookNode]) -> str:
    for cell in setup_cells:
        outcome = CellOutcome.of(cell)
        if outcome is not None and outcome.status is not CellStatus.OK:
            return f"the grader's set-up cell failed: {outcome.error}"
    return ""


def _executed_limit(source_bytes: int, cells: int, max_output_bytes: int) -> int:
    """The most an honest run can write: the input, every cell's metadata and the outputs it may keep."""
    outputs = NOTEBOOK_OUTPUT_FACTOR * max_output_bytes + EPILOGUE_OUTPUT_BYTES
    return source_bytes + cells * _METADATA_BYTES_PER_CELL + outputs + _MB


def _write_request(
    ran: NotebookNode, workspace: Workspace, limits: Limits, budget: Budget, epilogue: str, skip_cells: Sequence[int]
) -> tuple[Path, int]:
    """Write the notebook to run and the runner's request; return the request and the most it can write back."""
    max_output_bytes = int(limits.max_output_mb * _MB)
    text = nbformat.writes(ran)
    (workspace.out / "input.ipynb").write_text(text, encoding="utf-8")
    request = RunRequest(
        notebook=str(workspace.out / "input.ipynb"),
        output=str(workspace.out / "executed.ipynb"),
        workdir=str(workspace.work),
        cell_timeout=budget.default.timeout,
        max_output_bytes=max_output_bytes,
        epilogue=epilogue,
        epilogue_output=str(workspace.out / "epilogue.json"),
        skip_cells=tuple(skip_cells),
        memory_bytes=budget.default.memory_bytes,
        cell_limits=tuple(
            (index, cell.timeout, cell.memory_bytes, cell.group) for index, cell in sorted(budget.cells.items())
        ),
        group_seconds=tuple(sorted(budget.groups.items())),
        activity=str(workspace.out / ACTIVITY_FILE),
    )
    path = workspace.out / "request.json"
    request.write(path)
    return path, _executed_limit(len(text.encode("utf-8")), len(ran.cells), max_output_bytes)


def _policy(workspace: Workspace, options: ExecutionOptions, budget: Budget) -> SandboxPolicy:
    limits = options.limits
    return SandboxPolicy(
        workdir=workspace.root,
        readonly=options.readonly,
        hidden=options.hidden,
        limits=replace(limits, memory_mb=budget.most_memory_bytes // _MB),
        env=_environment(workspace, options.env),
        devices=options.devices,
    )


def _results(
    workspace: Workspace, ran: NotebookNode, result: SandboxResult, most_written: int
) -> tuple[NotebookNode, list[str]]:
    """What the run gave back, once the sandbox is gone: ``ran`` with its outputs, and the problems met."""
    problems = []
    replaced = workspace.reclaim()
    if replaced:
        problems.append(f"the notebook's code replaced the grader's {', '.join(replaced)} folder; it was not read")
    output = workspace.out / "executed.ipynb"
    tail = (result.stderr or result.stdout).strip().splitlines()
    reason = f": {tail[-1][:300]}" if tail else ""
    if not os.path.lexists(output):
        return ran, [*problems, f"the notebook could not be executed{reason}"]
    executed, problem = _executed(output, ran, most_written)
    if not problem and result.returncode != 0 and not result.timed_out:
        problem = f"the run stopped early{reason}"
    return executed, [*problems, problem]


def execute_notebook(
    notebook: NotebookNode,
    workspace: Workspace,
    options: ExecutionOptions,
    setup_sources: Sequence[str] = (),
    skip_cells: Sequence[int] = (),
    epilogue: str = "",
) -> Execution:
    """Run ``notebook`` with ``workspace.work`` as its folder, after the grader's set-up cells.

    ``skip_cells`` (indices into ``notebook``) are left unexecuted; ``epilogue`` runs after the last cell. Each
    cell runs within its limits in ``options.budget`` (indices into ``notebook``), the run within its total.
    """
    limits = options.limits
    budget = (options.budget or uniform(limits)).shifted(len(setup_sources))
    ran = _without_outputs(with_setup_cells(notebook, setup_sources))
    skipped = [index + len(setup_sources) for index in skip_cells]
    request, most_written = _write_request(ran, workspace, limits, budget, epilogue, skipped)
    started = time.monotonic()
    with ActivityWatch(workspace.out, len(setup_sources), len(notebook.cells), options.on_activity):
        result = run_sandboxed(
            runtime_command("grader.runner", str(request)),
            _policy(workspace, options, budget),
            timeout=budget.notebook_timeout,
            stdout_limit=_MB,
        )
    seconds = time.monotonic() - started
    executed, problems = _results(workspace, ran, result, most_written)
    setup_cells, executed.cells = executed.cells[: len(setup_sources)], executed.cells[len(setup_sources) :]
    problems += [_setup_problem(setup_cells), _truncation_note(executed, limits.max_output_mb)]
    failures = _failures(executed, result.timed_out, budget.notebook_timeout)
    max_epilogue = int(limits.max_output_mb * _MB) + EPILOGUE_OUTPUT_BYTES
    epilogue_output, _ = _read_untrusted(workspace.out / "epilogue.json", max_epilogue)
    return Execution(
        executed,
        tuple(failures),
        result.isolation,
        seconds,
        (epilogue_output or b"").decode("utf-8", errors="replace"),
        "; ".join(problem for problem in problems if problem),
    )

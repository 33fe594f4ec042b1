"""Execute a student notebook in a sandboxed, fresh kernel and report what failed where."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from grader.runner import RunRequest
from grader.sandbox import Limits as SandboxLimits
from grader.sandbox import SandboxPolicy, run_sandboxed
from grader.spec import Limits
from grader.workspace import Workspace

SETUP_TAG = "grader-setup"
_MB = 1024**2


@dataclass(frozen=True)
class CellFailure:
    """A code cell that raised, timed out, killed its kernel or never ran."""

    cell_index: int
    status: str
    message: str


@dataclass(frozen=True)
class Execution:
    notebook: NotebookNode
    failures: tuple[CellFailure, ...]
    isolation: str
    seconds: float
    epilogue_output: str = ""
    problem: str = ""


@dataclass(frozen=True)
class ExecutionOptions:
    limits: Limits
    hidden: tuple[Path, ...] = ()
    readonly: tuple[Path, ...] = ()
    env: tuple[tuple[str, str], ...] = ()


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


def _without_setup_cells(notebook: NotebookNode) -> tuple[NotebookNode, list[NotebookNode]]:
    setup = [cell for cell in notebook.cells if SETUP_TAG in cell.get("metadata", {}).get("tags", [])]
    notebook.cells = [cell for cell in notebook.cells if cell not in setup]
    return notebook, setup


def _failures(notebook: NotebookNode, killed_for_time: bool, notebook_timeout: float) -> list[CellFailure]:
    failures = []
    reached_end = True
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        outcome = cell.get("metadata", {}).get("grader")
        if outcome is None:
            if reached_end and killed_for_time:
                message = f"the notebook's {notebook_timeout:g} s time limit ran out during this cell"
                failures.append(CellFailure(index, "timeout", message))
            elif reached_end:
                failures.append(CellFailure(index, "not-run", "the notebook stopped before this cell ran"))
            reached_end = False
        elif outcome["status"] not in ("ok", "skipped"):
            failures.append(CellFailure(index, outcome["status"], outcome["error"]))
    return failures


def execute_notebook(
    notebook: NotebookNode,
    workspace: Workspace,
    options: ExecutionOptions,
    setup_sources: Sequence[str] = (),
    skip_cells: Sequence[int] = (),
    epilogue: str = "",
) -> Execution:
    """Run ``notebook`` with ``workspace.work`` as its folder, after the grader's set-up cells.

    ``skip_cells`` (indices into ``notebook``) are left unexecuted; ``epilogue`` runs after the last cell.
    """
    limits = options.limits
    source = workspace.out / "input.ipynb"
    output = workspace.out / "executed.ipynb"
    epilogue_path = workspace.out / "epilogue.json"
    nbformat.write(with_setup_cells(notebook, setup_sources), source)
    request = RunRequest(
        notebook=str(source),
        output=str(output),
        workdir=str(workspace.work),
        cell_timeout=limits.cell_timeout,
        max_output_bytes=limits.max_output_mb * _MB,
        epilogue=epilogue,
        epilogue_output=str(epilogue_path),
        skip_cells=tuple(index + len(setup_sources) for index in skip_cells),
    )
    request_path = workspace.out / "request.json"
    request.write(request_path)
    policy = SandboxPolicy(
        workdir=workspace.root,
        readonly=options.readonly,
        hidden=options.hidden,
        limits=SandboxLimits(
            memory_bytes=limits.memory_mb * _MB,
            max_processes=limits.max_processes,
            max_file_bytes=limits.max_file_mb * _MB,
        ),
        env=_environment(workspace, options.env),
    )
    started = time.monotonic()
    result = run_sandboxed(
        [sys.executable, "-I", "-m", "grader.runner", str(request_path)],
        policy,
        timeout=limits.notebook_timeout,
        stdout_limit=_MB,
    )
    seconds = time.monotonic() - started
    problem = ""
    if output.exists():
        executed = nbformat.read(output, as_version=4)
    else:
        executed = nbformat.from_dict(notebook)
        tail = (result.stderr or result.stdout).strip().splitlines()
        problem = "the notebook could not be executed" + (f": {tail[-1]}" if tail else "")
    executed, setup_cells = _without_setup_cells(executed)
    for cell in setup_cells:
        outcome = cell.get("metadata", {}).get("grader", {})
        if outcome.get("status", "ok") != "ok" and not problem:
            problem = f"the grader's set-up cell failed: {outcome.get('error', '')}"
    failures = _failures(executed, result.timed_out, limits.notebook_timeout)
    epilogue_output = epilogue_path.read_text(encoding="utf-8") if epilogue_path.exists() else ""
    return Execution(executed, tuple(failures), result.isolation, seconds, epilogue_output, problem)

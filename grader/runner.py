"""Execute one notebook in a fresh kernel and save it with each cell's outcome in its metadata.

Run as ``python -m grader.runner REQUEST.json`` (inside the sandbox). The executed notebook is
saved after every cell, so a run killed for its wall-time limit still leaves what it did. Each
executed code cell gets ``metadata.grader = {"status": "ok"|"error"|"timeout"|"dead"|"skipped", "error": str}``.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

SAVE_INTERVAL_S = 2.0
TIMEOUT_ENAME = "CellTimeoutError"


@dataclass(frozen=True)
class RunRequest:
    notebook: str
    output: str
    workdir: str
    cell_timeout: float
    max_output_bytes: int
    kernel_name: str = "python3"
    epilogue: str = ""
    epilogue_output: str = ""
    skip_cells: tuple[int, ...] = ()

    @classmethod
    def read(cls, path: Path) -> RunRequest:
        return cls(**json.loads(path.read_text(encoding="utf-8")))

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.__dict__), encoding="utf-8")


class CappedClient(NotebookClient):
    """A NotebookClient that stops keeping outputs once they exceed a byte budget."""

    def __init__(self, *args: Any, max_output_bytes: int, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.output_budget = max_output_bytes
        self.truncated = False

    def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> Any:
        size = len(json.dumps(msg.get("content", {})))
        if size > self.output_budget:
            if not self.truncated:
                self.truncated = True
                note = "\n[output truncated by the grader: the notebook printed more than the limit]\n"
                outs.append(nbformat.v4.new_output("stream", name="stderr", text=note))
            return None
        self.output_budget -= size
        return super().output(outs, msg, display_id, cell_index)


def _last_line(reply: dict | None) -> tuple[str, str]:
    content = (reply or {}).get("content", {})
    if content.get("status") != "error":
        return "ok", ""
    name, value = content.get("ename", "Error"), content.get("evalue", "")
    if name == TIMEOUT_ENAME:
        return "timeout", value
    return "error", f"{name}: {value}" if value else name


class Runner:
    def __init__(self, request: RunRequest):
        self.request = request
        self.notebook = nbformat.read(request.notebook, as_version=4)
        self.last_save = 0.0

    def _client(self) -> CappedClient:
        timeout = max(1, int(self.request.cell_timeout))
        return CappedClient(
            self.notebook,
            timeout=timeout,
            allow_errors=True,
            interrupt_on_timeout=True,
            error_on_timeout={"ename": TIMEOUT_ENAME, "evalue": f"the cell ran past its {timeout} s limit"},
            kernel_name=self.request.kernel_name,
            resources={"metadata": {"path": self.request.workdir}},
            on_cell_executed=self._record,
            max_output_bytes=self.request.max_output_bytes,
        )

    def _record(self, cell: Any, cell_index: int, execute_reply: dict | None) -> None:
        status, error = _last_line(execute_reply)
        cell.metadata["grader"] = {"status": status, "error": error}
        self._save(force=False)

    def _save(self, force: bool) -> None:
        now = time.monotonic()
        if force or now - self.last_save >= SAVE_INTERVAL_S:
            Path(self.request.output).write_text(nbformat.writes(self.notebook), encoding="utf-8")
            self.last_save = now

    def run(self) -> None:
        """Execute every code cell; a dead kernel is recorded and a fresh one runs the cells after it."""
        try:
            self._run_cells()
        finally:
            self._save(force=True)

    def _run_cells(self) -> None:
        cells = self.notebook.cells
        skipped = set(self.request.skip_cells)
        index = 0
        client = self._client()
        while index < len(cells):
            with client.setup_kernel():
                while index < len(cells):
                    cell = cells[index]
                    index += 1
                    if cell.cell_type != "code":
                        continue
                    if index - 1 in skipped:
                        cell.metadata["grader"] = {"status": "skipped", "error": ""}
                        continue
                    try:
                        client.execute_cell(cell, index - 1)
                    except DeadKernelError:
                        message = "the kernel died (out of memory, a crash or an exit)"
                        cell.metadata["grader"] = {"status": "dead", "error": f"DeadKernelError: {message}"}
                        self._save(force=True)
                        break
                else:
                    self._run_epilogue(client)

    def _run_epilogue(self, client: CappedClient) -> None:
        """Run the grader's epilogue in the notebook's kernel; its cell is removed again afterwards."""
        if not self.request.epilogue:
            return
        cell = nbformat.v4.new_code_cell(self.request.epilogue)
        self.notebook.cells.append(cell)
        try:
            client.execute_cell(cell, len(self.notebook.cells) - 1)
        except DeadKernelError:
            return
        finally:
            self.notebook.cells.pop()
        text = "".join(output.get("text", "") for output in cell.outputs if output.get("name") == "stdout")
        Path(self.request.epilogue_output).write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    Runner(RunRequest.read(Path(args[0]))).run()


if __name__ == "__main__":
    main()

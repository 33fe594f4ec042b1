"""Execute one notebook in a fresh kernel and save it with each cell's outcome in its metadata.

Run as ``python -m grader.runner REQUEST.json`` (inside the sandbox, from its staged runtime). Client and
kernel talk over abstract Unix sockets of a random name (the ``ipc`` transport), so the kernel needs no TCP.
The executed notebook is saved after every cell (at most every few seconds), so a run killed for its
wall-time limit still leaves what it did. Each executed code cell gets ``metadata.grader = {"status": "ok"|"error"|
"timeout"|"dead"|"skipped", "error": str}``, plus ``"truncated": true`` when its output was cut.

Each cell keeps at most ``max_output_bytes`` of output and the notebook ``NOTEBOOK_OUTPUT_FACTOR``
times that; the rest is dropped with a note. The kernel and the processes it starts may hold
``memory_bytes`` together (their proportional set size, sampled twice a second); past that they are
killed, as the kernel's death. A cell that times out or kills its kernel has every process it left
behind killed; a dead or misbehaving kernel is replaced by a fresh one for the cells after it.

While a cell runs, its index, start and the end of what it printed are kept in the request's activity file
(rewritten at most every ``ACTIVITY_INTERVAL_S``), for the grader to show how far the notebook got.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from queue import Empty
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbclient.util import ensure_async, run_sync
from traitlets.config import Config

from grader.proctree import kill_tree, process_tree
from grader.protocol import MAX_ACTIVITY_OUTPUT, CellActivity, CellOutcome, CellStatus, RunRequest

SAVE_INTERVAL_S = 2.0
SAVE_SHARE = 0.05
TIMEOUT_ENAME = "CellTimeoutError"
NOTEBOOK_OUTPUT_FACTOR = 4
EPILOGUE_OUTPUT_BYTES = 64 * 1024
MEMORY_POLL_S = 0.5
ACTIVITY_INTERVAL_S = 0.5
RECOVERY_S = 5.0
DEAD_KERNEL = "the kernel died (out of memory, a crash or an exit)"
TRUNCATION_NOTE = "\n[output truncated by the grader: over the limit of {cell} per cell or {notebook} per notebook]\n"


def _size_label(size: int) -> str:
    return f"{size / 1024**2:g} MB" if size >= 1024**2 else f"{size / 1024:g} KB"


class CappedClient(NotebookClient):
    """A NotebookClient that keeps at most ``max_output_bytes`` of output per cell, and a multiple per notebook."""

    def __init__(self, *args: Any, max_output_bytes: int, printed: Callable[[int, str], None], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.printed = printed
        self.cell_limit = max_output_bytes
        self.notebook_left = NOTEBOOK_OUTPUT_FACTOR * max_output_bytes
        self.cell_left = max_output_bytes
        self.truncated = False

    def start_cell(self, minimum: int = 0) -> None:
        """Open the next cell's budget; ``minimum`` bytes are granted even when the notebook's is spent."""
        self.notebook_left = max(self.notebook_left, minimum)
        self.cell_left = self.cell_limit
        self.truncated = False

    def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> Any:
        text = _stream_text(msg)
        if text is not None:
            self.printed(cell_index, text)
        if self.truncated:
            return None
        size = len(json.dumps(msg.get("content", {})))
        room = min(self.cell_left, self.notebook_left)
        if size <= room:
            self.cell_left -= size
            self.notebook_left -= size
            return super().output(outs, msg, display_id, cell_index)
        self.truncated = True
        head = _stream_head(msg, room)
        if head is not None:
            super().output(outs, head, None, cell_index)
        self.notebook_left -= room
        note = TRUNCATION_NOTE.format(
            cell=_size_label(self.cell_limit), notebook=_size_label(NOTEBOOK_OUTPUT_FACTOR * self.cell_limit)
        )
        outs.append(nbformat.v4.new_output("stream", name="stderr", text=note))
        return None

    async def async_responds(self, wait: float) -> bool:
        """Whether the kernel answers a request within ``wait`` seconds (once an interrupted cell has let go)."""
        client = self.kc
        if client is None:
            return False
        msg_id = await ensure_async(client.kernel_info())
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await ensure_async(client.shell_channel.get_msg(timeout=min(left, 1.0)))
            except Empty:
                continue
            if msg["parent_header"].get("msg_id") == msg_id:
                return True
        return False

    responds = run_sync(async_responds)

    def _update_display_id(self, display_id: str, msg: dict) -> None:
        """Updates replace an output already kept, within the same budget; one larger than what is left is dropped."""
        size = len(json.dumps(msg.get("content", {})))
        if size <= min(self.cell_left, self.notebook_left):
            self.cell_left -= size
            self.notebook_left -= size
            super()._update_display_id(display_id, msg)


def _stream_text(msg: dict) -> str | None:
    """The text of a stream message (what was printed), or None for other messages."""
    text = msg.get("content", {}).get("text")
    return text if msg.get("msg_type") == "stream" and isinstance(text, str) else None


def _stream_head(msg: dict, room: int) -> dict | None:
    """The first ``room`` characters of a stream message, or None for other messages or no room."""
    text = _stream_text(msg)
    if text is None or room <= 0:
        return None
    return {**msg, "content": {**msg["content"], "text": text[:room]}}


def _outcome(reply: dict | None) -> CellOutcome:
    content = (reply or {}).get("content", {})
    if content.get("status") != "error":
        return CellOutcome(CellStatus.OK)
    name, value = str(content.get("ename", "Error")), str(content.get("evalue", ""))
    if name == TIMEOUT_ENAME:
        return CellOutcome(CellStatus.TIMEOUT, value)
    return CellOutcome(CellStatus.ERROR, f"{name}: {value}" if value else name)


def _memory_bytes(pid: int) -> int:
    """A process's proportional set size (its share of pages it shares), or its resident size where unknown."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
            return next((int(line.split()[1]) * 1024 for line in rollup if line.startswith("Pss:")), 0)
    except FileNotFoundError:
        pass
    except OSError:
        return 0
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class MemoryWatch:
    """Kill the kernel's processes when together they hold more than ``limit`` bytes; ``fired`` says it did."""

    def __init__(self, limit: int, kernel_pid: Callable[[], int | None]):
        self.limit = limit
        self.kernel_pid = kernel_pid
        self.fired = False
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="memory-watch", daemon=True)

    def __enter__(self) -> MemoryWatch:
        if self.limit > 0:
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()

    def _watch(self) -> None:
        while not self.stopped.wait(MEMORY_POLL_S):
            pid = self.kernel_pid()
            if pid and sum(map(_memory_bytes, process_tree(pid))) > self.limit:
                self.fired = True
                kill_tree(pid)


class ActivityLog:
    """Keep the running cell's activity in ``path`` (nowhere when empty), rewritten at most every
    ``ACTIVITY_INTERVAL_S`` and only when it changed."""

    def __init__(self, path: str):
        self.path = Path(path) if path else None
        self.current: CellActivity | None = None
        self.lock = threading.Lock()
        self.stopped = threading.Event()

    def __enter__(self) -> ActivityLog:
        if self.path is not None:
            threading.Thread(target=self._write_changes, args=(self.path,), name="activity-log", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()

    def start(self, index: int) -> None:
        """Cell ``index`` starts now."""
        with self.lock:
            self.current = CellActivity(index, time.time())

    def printed(self, index: int, text: str) -> None:
        """Cell ``index`` printed ``text``; only the running cell's output is kept, its last characters."""
        with self.lock:
            if self.current is not None and self.current.cell_index == index:
                output = (self.current.output + text[-MAX_ACTIVITY_OUTPUT:])[-MAX_ACTIVITY_OUTPUT:]
                self.current = replace(self.current, output=output)

    def _write_changes(self, path: Path) -> None:
        written = None
        while not self.stopped.wait(ACTIVITY_INTERVAL_S):
            with self.lock:
                current = self.current
            if current is None or current == written:
                continue
            try:
                current.write(path)
            except OSError:  # the notebook's code can take the folder away; the run goes on unwatched
                pass
            written = current


class Runner:
    def __init__(self, request: RunRequest):
        self.request = request
        self.notebook = nbformat.read(request.notebook, as_version=4)
        self.cell_count = len(self.notebook.cells)
        self.next_save = 0.0
        self.client: CappedClient | None = None
        self.memory = MemoryWatch(
            max([request.memory_bytes, *(cell[2] for cell in request.cell_limits)]), self._kernel_pid
        )
        self.cell_limits = {
            int(index): (float(seconds), int(memory), int(group))
            for index, seconds, memory, group in request.cell_limits
        }
        self.time_left = {int(group): float(seconds) for group, seconds in request.group_seconds}
        self.activity = ActivityLog(request.activity)

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
            shutdown_kernel="immediate",
            max_output_bytes=self.request.max_output_bytes,
            printed=self.activity.printed,
            config=Config({"KernelManager": {"transport": "ipc", "ip": f"@cnn-grader-{secrets.token_hex(8)}"}}),
        )

    def _record(self, cell: Any, cell_index: int, execute_reply: dict | None) -> None:
        _outcome(execute_reply).record(cell)
        if cell_index < self.cell_count:  # never save the epilogue's cell
            self._save(force=False)

    def _save(self, force: bool) -> None:
        """Write the notebook; between forced saves, spend at most ``SAVE_SHARE`` of the time on it."""
        started = time.monotonic()
        if force or started >= self.next_save:
            Path(self.request.output).write_text(json.dumps(self.notebook), encoding="utf-8")
            spent = time.monotonic() - started
            self.next_save = started + max(SAVE_INTERVAL_S, spent / SAVE_SHARE)

    def _kernel_pid(self) -> int | None:
        manager = self.client.km if self.client is not None else None
        return getattr(manager.provisioner, "pid", None) if manager is not None else None

    def run(self) -> None:
        """Execute every code cell; a dead kernel is recorded and a fresh one runs the cells after it."""
        try:
            with self.memory, self.activity:
                self._run_cells()
        finally:
            self._save(force=True)

    def _run_cells(self) -> None:
        cells = self.notebook.cells
        skipped = set(self.request.skip_cells)
        index = 0
        self.client = client = self._client()
        while index < len(cells):
            with client.setup_kernel():
                while index < len(cells):
                    cell = cells[index]
                    index += 1
                    if cell.cell_type != "code":
                        continue
                    if index - 1 in skipped:
                        CellOutcome(CellStatus.SKIPPED).record(cell)
                        continue
                    if not self._execute(client, cell, index - 1):
                        break
                else:
                    self._run_epilogue(client)

    def _limit(self, client: CappedClient, index: int) -> int:
        """Set the cell's time and memory limits; return its exercise (0: none)."""
        seconds, memory, group = self.cell_limits.get(index, (self.request.cell_timeout, self.request.memory_bytes, 0))
        left = self.time_left.get(group, float("inf"))
        allowed = max(1, math.ceil(min(seconds, left)))
        limit = f"its {allowed} s limit" if seconds <= left else f"the {allowed} s left of exercise {group}'s time"
        client.timeout = allowed
        client.error_on_timeout = {"ename": TIMEOUT_ENAME, "evalue": f"the cell ran past {limit}"}
        self.memory.limit = memory
        return group

    def _execute(self, client: CappedClient, cell: Any, index: int) -> bool:
        """Run one cell; False when its kernel is gone or unusable (it died, crashed or broke the protocol)."""
        group = self._limit(client, index)
        if self.time_left.get(group, 1) <= 0:
            CellOutcome(CellStatus.TIMEOUT, f"exercise {group}'s time ran out before this cell").record(cell)
            return True
        client.start_cell()
        self.activity.start(index)
        started = time.monotonic()
        try:
            client.execute_cell(cell, index)
        except Exception as error:  # DeadKernelError, or whatever a kernel sending garbage makes nbclient raise
            CellOutcome(CellStatus.DEAD, self._death(error)).record(cell)
            self._kill_kernel_processes(spare_kernel=True)
            self._save(force=True)
            return False
        finally:
            if group in self.time_left:
                self.time_left[group] -= time.monotonic() - started
        outcome = CellOutcome.of(cell)  # none for a cell holding only blanks, which is not run
        if outcome is not None and client.truncated:
            outcome = replace(outcome, truncated=True)
            outcome.record(cell)
        if outcome is None or outcome.status is not CellStatus.TIMEOUT:
            return True
        self._kill_kernel_processes(spare_kernel=True)
        if client.responds(min(RECOVERY_S, self.request.cell_timeout)):
            return True
        outcome.with_error("; the kernel did not recover from the interrupt and was replaced").record(cell)
        self._kill_kernel_processes(spare_kernel=False)
        return False

    def _death(self, error: Exception) -> str:
        """Why the kernel is gone, for the cell that was running."""
        name = type(error).__name__
        if self.memory.fired:
            self.memory.fired = False
            limit = self.memory.limit / 1024**2
            return f"{name}: the kernel and its processes used more than {limit:g} MB together and were killed"
        return f"{name}: {DEAD_KERNEL}" if isinstance(error, DeadKernelError) else f"{name}: the kernel failed: {error}"

    def _kill_kernel_processes(self, *, spare_kernel: bool) -> None:
        """Kill every process the kernel started (its group, session and descendants), and the kernel unless spared."""
        pid = self._kernel_pid()
        if pid:
            kill_tree(pid, spare_root=spare_kernel)

    def _run_epilogue(self, client: CappedClient) -> None:
        """Run the grader's epilogue in the notebook's kernel; its cell is removed again afterwards."""
        if not self.request.epilogue:
            return
        self._save(force=True)
        self._limit(client, -1)
        cell = nbformat.v4.new_code_cell(self.request.epilogue)
        self.notebook.cells.append(cell)
        client.start_cell(minimum=EPILOGUE_OUTPUT_BYTES)
        try:
            client.execute_cell(cell, len(self.notebook.cells) - 1)
        except Exception:  # a dead or broken kernel hands nothing off
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

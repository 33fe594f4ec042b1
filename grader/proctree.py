"""Find and kill a process tree through ``/proc``: a process's session, group and descendants.

Imports nothing of the grader, so that the runner inside the sandbox can use it.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

KILL_PASSES = 10


def process_tree(root: int) -> dict[int, int]:
    """Processes in ``root``'s session or group, or descended from it: pid -> start time."""
    table: dict[int, tuple[int, int, int, int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] not in "ZX":
            table[int(entry.name)] = (int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19]))
    found = {pid for pid, (_, group, session, _) in table.items() if root in (pid, group, session)}
    children: dict[int, list[int]] = {}
    for pid, (parent, *_) in table.items():
        children.setdefault(parent, []).append(pid)
    stack = list(found)
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    return {pid: table[pid][3] for pid in found}


def signal_tree(tree: dict[int, int], sig: int) -> None:
    """Send ``sig`` to each process of ``tree`` that is still the same process (same start time)."""
    for pid, start in tree.items():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            if int(stat[stat.rindex(")") + 2 :].split()[19]) == start:
                os.kill(pid, sig)
        except (OSError, ValueError):
            continue


def kill_tree(root: int, *, spare_root: bool = False) -> None:
    """SIGKILL ``root``'s session, group and descendants (all but ``root`` with ``spare_root``) until none is left."""
    for _ in range(KILL_PASSES):
        tree = process_tree(root)
        if spare_root:
            tree.pop(root, None)
        if not tree:
            return
        signal_tree(tree, signal.SIGKILL)
        time.sleep(0.05)


def task_count(uid: int) -> int:
    """How many tasks (threads included, as RLIMIT_NPROC counts them) ``uid`` runs now."""
    count = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            status = Path(entry.path, "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields.get("Uid", "-1").split()[0]) == uid:
            count += int(fields.get("Threads", "1"))
    return count

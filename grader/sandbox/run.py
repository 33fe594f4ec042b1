"""Start a sandboxed command, capture its output within limits, and kill its whole tree when it ends.

A small launcher (``python -I -S``) runs first, inside the tier's containment: it sets the process limits,
drops root to a uid of its own when the grader runs as root (chowning the workdir to it), sets
``no_new_privs``, applies the Landlock ruleset and the seccomp network filter in that tier, and executes the
command. ``memory_mb`` is
per process (``RLIMIT_DATA``, unlike ``RLIMIT_AS`` not tripped by CUDA's address-space reservations);
``max_processes`` counts the sandbox's own uid when it has one, else the caller's tasks are added to it.
"""

from __future__ import annotations

import json
import os
import random
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from grader.proctree import KILL_PASSES, process_tree, signal_tree, task_count
from grader.sandbox import bubblewrap, landlock, seccomp
from grader.sandbox.policy import Isolation, SandboxPolicy, SandboxResult
from grader.sandbox.tiers import isolation_available
from grader.sandbox.view import View, python_paths, runtime_dir, unreachable, view

NOBODY = 65534
OPEN_FILES = 1024
_MB = 1024**2
_SANDBOX_UIDS = (2_100_000_000, 2_147_000_000)  # above the ranges directory services map users to
_SANDBOX_UIDS_MAPPED = (NOBODY - 16384, NOBODY)  # where only the first 65536 uids are mapped (containers)
_LAUNCHER = """\
import ctypes, json, os, resource, sys
spec = json.loads(sys.argv[1])
for name, soft, hard in spec["rlimits"]:
    resource.setrlimit(getattr(resource, name), (soft, hard))
uid = spec["drop_to"]
if uid is not None:
    for path in spec["open_tmp"]:
        if os.path.isdir(path):
            os.chmod(path, 0o1777)
    for top, dirs, files in os.walk(spec["cwd"]):
        for path in [top, *(os.path.join(top, name) for name in dirs + files)]:
            try:
                os.chown(path, uid, uid, follow_symlinks=False)
            except OSError:
                pass
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(38, 1, 0, 0, 0) or libc.prctl(1, 9, 0, 0, 0):
    raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS / PR_SET_PDEATHSIG) failed")
if spec["landlock"] is not None:
    fd, number = spec["landlock"]
    if libc.syscall(number, fd, 0):
        raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    os.close(fd)
if spec["seccomp"] is not None:
    words = [code | jt << 16 | jf << 24 | k << 32 for code, jt, jf, k in spec["seccomp"]]
    program = (ctypes.c_uint64 * len(words))(*words)
    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
    if libc.prctl(22, 2, ctypes.byref(Fprog(len(words), ctypes.addressof(program))), 0, 0):
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")
os.chdir(spec["cwd"])
os.execvpe(spec["argv"][0], spec["argv"], spec["env"])
"""


@dataclass(frozen=True)
class Command:
    """A command line ready to start, the descriptors it inherits, and the tier it runs under."""

    argv: list[str]
    pass_fds: tuple[int, ...]
    isolation: Isolation

    def close(self) -> None:
        for fd in self.pass_fds:
            os.close(fd)


def build(argv: Sequence[str], policy: SandboxPolicy) -> Command:
    """The launcher command line that runs ``argv`` under ``policy`` in the tier in use now."""
    if not argv:
        raise ValueError("argv is empty")
    workdir = policy.workdir.resolve()
    if not workdir.is_dir():
        raise NotADirectoryError(f"workdir {workdir} is not a directory")
    tier = isolation_available()
    options = bubblewrap.namespace_options() if tier is Isolation.BUBBLEWRAP else None
    userns = options is not None and "--unshare-user" in options
    seen = view(workdir, policy.readonly, policy.hidden, policy.devices)
    drop = os.geteuid() == 0 and not userns and _can_drop(tier, seen)
    run_uid = sandbox_uid() if drop else os.getuid()
    tmp = Path("/tmp") if tier is Isolation.BUBBLEWRAP else workdir / ".tmp"
    tmp.mkdir(exist_ok=True)
    env = {key: os.environ[key] for key in ("PATH", "LANG") if key in os.environ}
    env.setdefault("PATH", os.defpath)
    env.update(HOME=str(workdir), TMPDIR=str(tmp))
    if drop:
        env.update(USER="sandbox", LOGNAME="sandbox")  # the uid has no account for getpass.getuser() to find
    env.update(policy.env)
    fd = landlock.ruleset(seen, network=policy.network) if tier is Isolation.LANDLOCK else None
    spec = {
        "rlimits": _rlimits(policy, 0 if userns or drop else task_count(run_uid)),
        "drop_to": run_uid if drop else None,
        "open_tmp": ["/tmp", "/var/tmp", "/dev/shm"] if tier is Isolation.BUBBLEWRAP else [],
        "landlock": None if fd is None else [fd, landlock.RESTRICT_SELF],
        "seccomp": seccomp.program() if tier is Isolation.LANDLOCK and not policy.network else None,
        "cwd": str(workdir),
        "env": env,
        "argv": [os.fspath(arg) for arg in argv],
    }
    launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, json.dumps(spec)]
    fds = () if fd is None else (fd,)
    if options is None:
        return Command(launcher, fds, tier)
    mounts = bubblewrap.mount_args(seen, traversable=drop)
    return Command([*bubblewrap.prefix(options, network=policy.network), *mounts, "--", *launcher], fds, tier)


def _can_drop(tier: Isolation, seen: View) -> bool:
    """Whether root can switch the command to a uid of its own: bubblewrap makes every bound path reachable;
    otherwise what it needs must be readable by other users (else the rlimits tier stays root and says so)."""
    if tier is Isolation.BUBBLEWRAP:
        return True
    blocked = unreachable(python_paths() | {runtime_dir(), seen.writable.parent} | seen.readonly)
    if blocked and tier is Isolation.LANDLOCK:
        raise RuntimeError(f"the sandbox's own uid cannot reach {blocked[0]}: make it readable by other users")
    return not blocked


def _rlimits(policy: SandboxPolicy, others: int) -> list[tuple[str, int, int]]:
    limits = policy.limits
    memory, files, nproc = limits.memory_mb * _MB, limits.max_file_mb * _MB, limits.max_processes + others
    return [
        ("RLIMIT_DATA", memory, memory),
        ("RLIMIT_NPROC", nproc, nproc),
        ("RLIMIT_FSIZE", files, files),
        ("RLIMIT_NOFILE", OPEN_FILES, OPEN_FILES),
        ("RLIMIT_CORE", 0, 0),
    ]


def sandbox_uid() -> int:
    """An unused uid for one sandbox, picked at random among those this system maps and no account has."""
    try:
        ranges = [tuple(map(int, line.split())) for line in Path("/proc/self/uid_map").read_text().splitlines()]
    except (OSError, ValueError):
        ranges = []
    full = any(inside == 0 and count > _SANDBOX_UIDS[1] for inside, _, count in ranges)
    low, high = _SANDBOX_UIDS if full else _SANDBOX_UIDS_MAPPED
    taken = _account_uids()
    while True:
        uid = random.randrange(low, high)
        if uid not in taken:
            return uid


def _account_uids() -> set[int]:
    try:
        lines = Path("/etc/passwd").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return set()
    return {int(fields[2]) for fields in (line.split(":") for line in lines) if len(fields) > 2 and fields[2].isdigit()}


_RUNNING: dict[subprocess.Popen[bytes], str] = {}  # each running sandbox, and who started it
_RUNNING_LOCK = threading.Lock()
_OWNER = threading.local()


@contextmanager
def owned_by(owner: str) -> Iterator[None]:
    """Sandboxes this thread starts in the block belong to ``owner`` (a batch on a shared worker), so that
    ``stop_all(owner)`` can stop them and no one else's."""
    previous = getattr(_OWNER, "name", "")
    _OWNER.name = owner
    try:
        yield
    finally:
        _OWNER.name = previous


def stop_all(owner: str | None = None) -> None:
    """Kill every sandbox still running in this process, or only ``owner``'s (on Ctrl-C): their runs end as
    timed out."""
    with _RUNNING_LOCK:
        running = [proc for proc, started_by in _RUNNING.items() if owner is None or started_by == owner]
    for proc in running:
        _kill_command_tree(proc, 0)


class _Capture:
    """Keep the first ``limit`` bytes of a stream and count the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = self.limit - len(self.data)
        self.data += chunk[:room]
        self.dropped += max(len(chunk) - room, 0)

    def text(self) -> str:
        text = self.data.decode("utf-8", errors="replace")
        if self.dropped:
            text += f"\n[output truncated: {self.dropped} more bytes were dropped]\n"
        return text


def run_sandboxed(
    argv: Sequence[str],
    policy: SandboxPolicy,
    *,
    timeout: float,
    stdout_limit: int = 10 * 1024**2,
    kill_grace: float = 2.0,
) -> SandboxResult:
    """Run ``argv`` under ``policy``, capturing at most ``stdout_limit`` bytes of each stream.

    On timeout the whole process tree gets SIGTERM, then SIGKILL after ``kill_grace`` seconds.
    Whatever the command leaves running when it exits is killed too.
    """
    command = build(argv, policy)
    try:
        proc = subprocess.Popen(
            command.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            pass_fds=command.pass_fds,
        )
    finally:
        command.close()
    with _RUNNING_LOCK:
        _RUNNING[proc] = getattr(_OWNER, "name", "")
    assert proc.stdout is not None and proc.stderr is not None
    captures = {proc.stdout.fileno(): _Capture(stdout_limit), proc.stderr.fileno(): _Capture(stdout_limit)}
    try:
        timed_out = _pump(proc, captures, timeout, kill_grace)
    finally:
        _kill_command_tree(proc, kill_grace)
        with _RUNNING_LOCK:
            _RUNNING.pop(proc, None)
        proc.stdout.close()
        proc.stderr.close()
    out, err = captures.values()
    return SandboxResult(
        returncode=proc.returncode,
        timed_out=timed_out,
        stdout=out.text(),
        stderr=err.text(),
        truncated=out.dropped > 0 or err.dropped > 0,
        isolation=command.isolation,
    )


def _pump(proc: subprocess.Popen[bytes], captures: dict[int, _Capture], timeout: float, kill_grace: float) -> bool:
    """Read both streams until they close, killing the tree at the deadline; whether it timed out."""
    deadline = time.monotonic() + timeout
    timed_out = exited = False
    with selectors.DefaultSelector() as selector:
        for fd in captures:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                if timed_out or exited:
                    break
                timed_out = True
                _kill_command_tree(proc, kill_grace)
                deadline = time.monotonic() + kill_grace
                continue
            if not (timed_out or exited) and proc.poll() is not None:
                exited = True
                _kill_command_tree(proc, 0)
                deadline = min(deadline, time.monotonic() + kill_grace)
            for key, _ in selector.select(min(left, 0.1)):
                chunk = os.read(key.fd, 1 << 16)
                if chunk:
                    captures[key.fd].add(chunk)
                else:
                    selector.unregister(key.fd)
    if not (timed_out or exited):
        try:
            proc.wait(max(deadline - time.monotonic(), 0))
        except subprocess.TimeoutExpired:
            timed_out = True
    return timed_out


def _kill_command_tree(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the command's tree, wait up to ``grace`` seconds, then SIGKILL until none is left."""
    tree = process_tree(proc.pid)
    if grace > 0 and tree:
        signal_tree(tree, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    for _ in range(KILL_PASSES):
        tree.update(process_tree(proc.pid))
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        signal_tree(tree, signal.SIGKILL)
        proc.poll()
        tree = process_tree(proc.pid)
        if not tree:
            break
        time.sleep(0.05)
    proc.wait()

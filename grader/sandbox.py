"""Run untrusted commands contained: bubblewrap namespaces where usable, process limits always.

``isolation_available()`` says which mode applies: ``"bubblewrap"`` when running ``bwrap`` works
here, else ``"rlimits"`` (process limits, a new session and a private ``TMPDIR`` only; see
``ISOLATION_WARNING``). ``CNN_GRADER_ISOLATION=rlimits`` forces the fallback.

In ``"bubblewrap"`` mode the command sees the machine read-only, with a private ``/tmp`` and
``/var/tmp``, no network (unless asked), its own PID/IPC/UTS namespaces, and empty read-only
directories in place of ``/run``, ``/home``, ``/root``, the caller's home and every hidden path.
The writable workdir, the running Python installation, the grader package and the policy's
read-only paths are bound back on top (the deepest path wins, so a path inside a hidden folder can
still be bound back).

Who the command runs as:

* as a normal user, bubblewrap creates a user namespace; the command keeps the caller's uid, has no
  capabilities, and ``max_processes`` counts only the sandbox's own processes and threads;
* as root, bubblewrap mounts with root's privileges and the command is then switched to a uid of
  its own (``sandbox_uid()``: unused, different for each sandbox), with no capabilities: the workdir
  is chowned to that uid, other bound paths must be world-readable, and ``max_processes`` counts
  exactly the sandbox's processes and threads, so sandboxes running side by side cannot starve each
  other. Where root cannot mount (some containers), bubblewrap's user namespace is used instead:
  the command then has no capabilities but is still root's uid outside, so ``max_processes`` is not
  enforced (the kernel exempts root).

In both modes ``no_new_privs`` is set, so setuid programs (``sudo``) and file capabilities are inert.
``memory_bytes`` is enforced per process (``RLIMIT_DATA``: memory actually reserved for writing,
unlike ``RLIMIT_AS``, which CUDA's address-space reservations would trip), so a whole tree can use
at most ``max_processes`` times that.
"""

from __future__ import annotations

import functools
import json
import os
import random
import selectors
import shutil
import signal
import site
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ISOLATION_ENV = "CNN_GRADER_ISOLATION"
ISOLATION_WARNING = (
    "Sandbox isolation is unavailable (bubblewrap is missing or cannot create namespaces here), "
    "so student code runs with process limits only: memory, process count, file size, CPU time and "
    "a wall-clock timeout. It is NOT contained otherwise: it can use the network, read every file "
    "this user can read (answer keys, reference notebooks, other submissions, credentials) and "
    "write wherever this user can write; run as root, it runs as root and the process count is not "
    "limited. Grade only trusted notebooks this way, or install bubblewrap (package `bubblewrap`)."
)
NOBODY = 65534
_SANDBOX_UIDS = (2_100_000_000, 2_147_000_000)  # above the ranges directory services map users to
_SANDBOX_UIDS_MAPPED = (NOBODY - 16384, NOBODY)  # where only the first 65536 uids are mapped (containers)
_WRITABLE_MASKS = ("/tmp", "/var/tmp")
_HIDDEN_MASKS = ("/run", "/var/run", "/home", "/root")
_KILL_PASSES = 10
_LAUNCHER = """\
import ctypes, json, os, resource, sys
spec = json.loads(sys.argv[1])
for name, soft, hard in spec["rlimits"]:
    resource.setrlimit(getattr(resource, name), (soft, hard))
uid = spec["drop_to"]
if uid is not None:
    for path in ("/tmp", "/var/tmp", "/dev/shm"):
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
os.chdir(spec["cwd"])
os.execvpe(spec["argv"][0], spec["argv"], spec["env"])
"""


@dataclass(frozen=True)
class Limits:
    """Resource limits applied to the sandboxed command (see the module docstring for scope)."""

    memory_bytes: int = 4 * 1024**3
    max_processes: int = 256
    max_file_bytes: int = 512 * 1024**2
    cpu_seconds: int | None = None
    open_files: int = 1024


@dataclass(frozen=True)
class SandboxPolicy:
    """What the sandboxed command may see and use.

    ``workdir`` is the only writable place besides a private ``/tmp``; ``readonly`` paths are bound
    back read-only when they lie under a masked or hidden folder; ``hidden`` paths (folders or files)
    are replaced by empty read-only ones. ``env`` is added to a clean environment holding ``PATH``,
    ``LANG``, ``HOME`` (the workdir) and ``TMPDIR``.
    """

    workdir: Path
    readonly: tuple[Path, ...] = ()
    hidden: tuple[Path, ...] = ()
    network: bool = False
    limits: Limits = Limits()
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SandboxResult:
    """How a sandboxed run ended and what it printed (each stream capped, then decoded as UTF-8)."""

    returncode: int
    timed_out: bool
    stdout: str
    stderr: str
    truncated: bool
    isolation: str


def isolation_available() -> str:
    """Return ``"bubblewrap"`` or ``"rlimits"``; ``CNN_GRADER_ISOLATION`` may force either.

    ``CNN_GRADER_ISOLATION=rlimits`` forces the fallback; ``=bubblewrap`` raises ``RuntimeError``
    where bubblewrap is unusable instead of falling back. Whether bubblewrap works is probed once
    by running it.
    """
    wanted = os.environ.get(ISOLATION_ENV, "") or "auto"
    if wanted not in ("auto", "bubblewrap", "rlimits"):
        raise ValueError(f"{ISOLATION_ENV} must be 'bubblewrap' or 'rlimits', not {wanted!r}")
    if wanted == "rlimits":
        return "rlimits"
    if _bwrap_options() is not None:
        return "bubblewrap"
    if wanted == "bubblewrap":
        raise RuntimeError(f"{ISOLATION_ENV}=bubblewrap, but bubblewrap cannot create a sandbox here")
    return "rlimits"


def sandboxed_command(argv: Sequence[str], policy: SandboxPolicy) -> tuple[list[str], Callable[[], None]]:
    """Return the command line that runs ``argv`` under ``policy``, and a ``preexec_fn``.

    The limits, environment and working directory are applied by a small launcher inside the
    command line itself; the ``preexec_fn`` (``os.setsid``) only puts the command in a process
    group of its own so it can be killed as a whole (``start_new_session=True`` is the
    thread-safe equivalent). The sandbox dies with the thread that starts it.
    """
    return _command(argv, policy)[0], os.setsid


_RUNNING: set[subprocess.Popen[bytes]] = set()
_RUNNING_LOCK = threading.Lock()


def stop_all() -> None:
    """Kill every sandbox still running in this process (on Ctrl-C): their runs end as timed out."""
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for proc in running:
        _kill_command_tree(proc, 0)


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
    command, isolation = _command(argv, policy)
    proc = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    with _RUNNING_LOCK:
        _RUNNING.add(proc)
    captures = {proc.stdout.fileno(): _Capture(stdout_limit), proc.stderr.fileno(): _Capture(stdout_limit)}
    deadline = time.monotonic() + timeout
    timed_out = exited = False
    try:
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
    finally:
        _kill_command_tree(proc, kill_grace)
        with _RUNNING_LOCK:
            _RUNNING.discard(proc)
        proc.stdout.close()
        proc.stderr.close()
    out, err = captures.values()
    return SandboxResult(
        returncode=proc.returncode,
        timed_out=timed_out,
        stdout=out.text(),
        stderr=err.text(),
        truncated=out.dropped > 0 or err.dropped > 0,
        isolation=isolation,
    )


def _command(argv: Sequence[str], policy: SandboxPolicy) -> tuple[list[str], str]:
    """The sandboxed command line and the isolation mode it uses."""
    if not argv:
        raise ValueError("argv is empty")
    workdir = policy.workdir.resolve()
    if not workdir.is_dir():
        raise NotADirectoryError(f"workdir {workdir} is not a directory")
    mode = isolation_available()
    options = _bwrap_options() if mode == "bubblewrap" else None
    userns = options is not None and "--unshare-user" in options
    drop = options is not None and not userns and os.geteuid() == 0
    run_uid = sandbox_uid() if drop else os.getuid()
    if options is None:
        tmp = workdir / ".tmp"
        tmp.mkdir(exist_ok=True)
    else:
        tmp = Path("/tmp")
    env = {key: os.environ[key] for key in ("PATH", "LANG") if key in os.environ}
    env.setdefault("PATH", os.defpath)
    env.update(HOME=str(workdir), TMPDIR=str(tmp))
    if drop:
        env.update(USER="sandbox", LOGNAME="sandbox")  # the uid has no account for getpass.getuser() to find
    env.update(policy.env)
    limits = policy.limits
    nproc = limits.max_processes + (0 if userns or drop else _task_count(run_uid))
    rlimits = [
        ("RLIMIT_DATA", limits.memory_bytes, limits.memory_bytes),
        ("RLIMIT_NPROC", nproc, nproc),
        ("RLIMIT_FSIZE", limits.max_file_bytes, limits.max_file_bytes),
        ("RLIMIT_NOFILE", limits.open_files, limits.open_files),
        ("RLIMIT_CORE", 0, 0),
    ]
    if limits.cpu_seconds is not None:
        rlimits.append(("RLIMIT_CPU", limits.cpu_seconds, limits.cpu_seconds + 5))
    spec = {
        "rlimits": rlimits,
        "drop_to": run_uid if drop else None,
        "cwd": str(workdir),
        "env": env,
        "argv": [os.fspath(arg) for arg in argv],
    }
    launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, json.dumps(spec)]
    if options is None:
        return launcher, mode
    prefix = _bwrap_prefix(options, network=policy.network)
    return [*prefix, *_mount_args(policy, workdir, traversable=drop), "--", *launcher], mode


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


@functools.cache
def _bwrap_options() -> tuple[str, ...] | None:
    """The namespace options with which bubblewrap works here, or None if it does not."""
    if shutil.which("bwrap") is None:
        return None
    userns = [("--unshare-user", "--disable-userns", "--cap-drop", "ALL"), ("--unshare-user", "--cap-drop", "ALL")]
    candidates = [(), *userns] if os.geteuid() == 0 else [*userns, ()]
    for options in candidates:
        probe = [*_bwrap_prefix(options, network=False), "--tmpfs", "/tmp"]
        if not options and os.geteuid() == 0:
            probe += ["--perms", "0755", "--dir", "/tmp/probe"]
        probe += ["--remount-ro", "/tmp", "--", "true"]
        try:
            done = subprocess.run(probe, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0:
            return options
    return None


def _bwrap_prefix(options: tuple[str, ...], *, network: bool) -> list[str]:
    namespaces = ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if not network:
        namespaces.append("--unshare-net")
    return [
        shutil.which("bwrap") or "bwrap",
        *options,
        *namespaces,
        "--die-with-parent",
        "--new-session",
        "--ro-bind", "/", "/",
        "--dev", "/dev",
        "--proc", "/proc",
    ]  # fmt: skip


def _mount_args(policy: SandboxPolicy, workdir: Path, *, traversable: bool) -> list[str]:
    """Mounts over the read-only root, deepest last; hidden wins over a bind of the same path.

    With ``traversable``, folders bubblewrap creates to hold the binds are made world-searchable
    (it creates them 0700), for a command that will not run as their owner.
    """
    visible = {workdir} | {path.resolve() for path in policy.readonly} | _python_paths()
    if policy.network:
        visible.add(Path("/etc/resolv.conf").resolve())
    missing = [str(path) for path in visible if not path.exists()]
    if missing:
        raise FileNotFoundError(f"paths to bind into the sandbox do not exist: {', '.join(missing)}")
    hidden = {path for path in (path.resolve() for path in policy.hidden) if path.exists()}
    if workdir in hidden:
        raise ValueError(f"workdir {workdir} is also a hidden path")
    masks = {path.resolve() for path in map(Path, (*_HIDDEN_MASKS, Path.home())) if path.is_dir()}
    masks.discard(Path("/"))
    ops: list[tuple[int, int, list[str]]] = []
    for path in (Path(p) for p in _WRITABLE_MASKS if Path(p).is_dir() and not Path(p).is_symlink()):
        ops.append((len(path.parts), 0, ["--tmpfs", str(path)]))
    for path in masks:
        ops.append((len(path.parts), 0, ["--tmpfs", str(path)]))
    if traversable:
        for folder in {parent for path in visible for parent in path.parents if parent.parent != parent}:
            ops.append((len(folder.parts), 1, ["--perms", "0755", "--dir", str(folder)]))
    for path in visible - {workdir}:
        ops.append((len(path.parts), 2, ["--ro-bind", str(path), str(path)]))
    ops.append((len(workdir.parts), 3, ["--bind", str(workdir), str(workdir)]))
    for path in hidden:
        mount = ["--tmpfs", str(path)] if path.is_dir() else ["--ro-bind", "/dev/null", str(path)]
        ops.append((len(path.parts), 4, mount))
    args = [arg for _, _, mount in sorted(ops, key=lambda op: op[:2]) for arg in mount]
    for path in sorted(masks | {path for path in hidden if path.is_dir()}):
        args += ["--remount-ro", str(path)]
    return args


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


def _python_paths() -> set[Path]:
    """The running Python installation (and user site) and the grader package, which commands need inside."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, os.path.dirname(__file__)}
    user_site = site.getusersitepackages()
    if os.path.isdir(user_site):
        paths.add(user_site)
    return {Path(path).resolve() for path in paths}


def _task_count(uid: int) -> int:
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


def _signal(tree: dict[int, int], sig: int) -> None:
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
    for _ in range(_KILL_PASSES):
        tree = process_tree(root)
        if spare_root:
            tree.pop(root, None)
        if not tree:
            return
        _signal(tree, signal.SIGKILL)
        time.sleep(0.05)


def _kill_command_tree(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the command's tree, wait up to ``grace`` seconds, then SIGKILL until none is left."""
    tree = process_tree(proc.pid)
    if grace > 0 and tree:
        _signal(tree, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    for _ in range(_KILL_PASSES):
        tree.update(process_tree(proc.pid))
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        _signal(tree, signal.SIGKILL)
        proc.poll()
        tree = process_tree(proc.pid)
        if not tree:
            break
        time.sleep(0.05)
    proc.wait()

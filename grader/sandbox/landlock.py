"""The Landlock tier: the command restricts itself, no privileges or namespaces needed.

The grader builds a ruleset (read-only: the system folders, ``/proc``, the Python installation, the staged
runtime and the policy's read-only paths; read-write: the workdir, a few device nodes and the GPU's (ioctl
included, as CUDA needs); no TCP bind or connect; ABI 6+: no abstract Unix sockets or signals outside the
sandbox) and passes its descriptor to the launcher,
which calls ``landlock_restrict_self`` just before it executes the command. Landlock only grants, so an
excluded path inside a visible folder is left out by granting that folder's other entries one by one (its
names stay listable, its files unreadable). Not covered by Landlock: UDP and other non-TCP sockets (the
seccomp filter of this tier refuses them), and connecting to Unix sockets that have a path.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import subprocess
import sys
from pathlib import Path

from grader.sandbox.view import DEVICES, View, system_paths

CREATE_RULESET, ADD_RULE, RESTRICT_SELF = 444, 445, 446  # the same on x86_64 and aarch64
ARCHITECTURES = ("x86_64", "aarch64")
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
READ_RIGHTS = EXECUTE | READ_FILE | READ_DIR
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1
_PROBE = """\
import ctypes, sys
create, restrict = map(int, sys.argv[1:3])
libc = ctypes.CDLL(None, use_errno=True)
attr = ctypes.c_uint64(1 << 2)
fd = libc.syscall(create, ctypes.byref(attr), 8, 0)
if fd < 0 or libc.prctl(38, 1, 0, 0, 0) or libc.syscall(restrict, fd, 0):
    sys.exit(1)
allow = ctypes.c_uint64(0x06 | 0x7FFF0000 << 32)  # the tier's seccomp filter must be allowed too
class Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
if libc.prctl(22, 2, ctypes.byref(Fprog(1, ctypes.addressof(allow))), 0, 0):
    sys.exit(1)
"""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


@functools.cache
def abi() -> int:
    """The Landlock ABI version this kernel offers (0: none, calls blocked, not Linux, or another architecture)."""
    if not sys.platform.startswith("linux") or platform.machine() not in ARCHITECTURES:
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    version = libc.syscall(CREATE_RULESET, None, 0, CREATE_RULESET_VERSION)
    return max(version, 0)


@functools.cache
def usable() -> bool:
    """Whether a process here can restrict itself, and install a seccomp filter (either may be filtered out)."""
    if abi() < 1:
        return False
    code = [sys.executable, "-I", "-S", "-c", _PROBE, str(CREATE_RULESET), str(RESTRICT_SELF)]
    try:
        return subprocess.run(code, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _handled_fs(version: int) -> int:
    rights = (1 << 13) - 1
    if version >= 2:
        rights |= REFER
    if version >= 3:
        rights |= TRUNCATE
    if version >= 5:
        rights |= IOCTL_DEV
    return rights


class _Ruleset:
    def __init__(self, version: int, *, network: bool):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.handled = _handled_fs(version)
        net = NET_BIND_TCP | NET_CONNECT_TCP if version >= 4 and not network else 0
        scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if version >= 6 else 0
        attr = _RulesetAttr(self.handled, net, scoped)
        size = 24 if version >= 6 else 16 if version >= 4 else 8
        self.fd = self.libc.syscall(CREATE_RULESET, ctypes.byref(attr), size, 0)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")

    def allow(self, path: Path, rights: int) -> None:
        """Grant ``rights`` beneath ``path`` (file rights only, for a file)."""
        handle = os.open(path, os.O_PATH | os.O_CLOEXEC)
        try:
            if not os.path.isdir(path):
                rights &= FILE_RIGHTS
            rule = _PathBeneath(rights & self.handled, handle)
            if self.libc.syscall(ADD_RULE, self.fd, RULE_PATH_BENEATH, ctypes.byref(rule), 0):
                raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
        finally:
            os.close(handle)

    def allow_except(self, root: Path, rights: int, excluded: list[Path]) -> None:
        """Grant ``rights`` beneath ``root`` except beneath ``excluded`` paths (only listing stays allowed)."""
        inside = [path for path in excluded if path != root and path.is_relative_to(root)]
        if root in excluded:
            return
        if not inside or not root.is_dir():
            self.allow(root, rights)
            return
        self.allow(root, rights & READ_DIR)
        for entry in os.scandir(root):
            if not entry.is_symlink():
                self.allow_except(Path(entry.path), rights, inside)


def ruleset(seen: View, *, network: bool = False) -> int:
    """A Landlock ruleset descriptor for ``seen`` (inheritable; the caller closes it once the command started).

    With ``network``, TCP is left alone.
    """
    rules = _Ruleset(abi(), network=network)
    try:
        excluded = sorted(seen.excluded)
        roots = {path.resolve() for path in system_paths()} | set(seen.readonly)
        for root in sorted(roots):
            if root.exists():
                rules.allow_except(root, READ_RIGHTS, excluded)
        rules.allow(Path("/proc"), READ_FILE | READ_DIR)
        for device in [*map(Path, DEVICES), *seen.devices]:
            if device.exists():
                rules.allow(device, READ_FILE | WRITE_FILE | IOCTL_DEV)
        rules.allow(seen.writable, rules.handled)
    except BaseException:
        os.close(rules.fd)
        raise
    os.set_inheritable(rules.fd, True)
    return rules.fd

"""The bubblewrap tier: new namespaces and a file system built from only what the command needs.

The root is empty; the system folders, the Python installation, the staged runtime and the policy's read-only
paths are bound read-only, the workdir read-write, ``/tmp`` and ``/var/tmp`` are private, ``/dev`` is minimal
plus the device nodes the view allows (a GPU's), and every excluded path inside a bound folder is covered by an
empty read-only one (the deepest mount wins).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

from grader.sandbox.view import View, system_paths

_PRIVATE = ("/tmp", "/var/tmp")


@functools.cache
def namespace_options() -> tuple[str, ...] | None:
    """The namespace options with which bubblewrap works here, or None if it does not."""
    if shutil.which("bwrap") is None:
        return None
    userns = [("--unshare-user", "--disable-userns", "--cap-drop", "ALL"), ("--unshare-user", "--cap-drop", "ALL")]
    candidates = [(), *userns] if os.geteuid() == 0 else [*userns, ()]
    for options in candidates:
        probe = [*prefix(options, network=False), *_system_mounts(), "--tmpfs", "/tmp"]
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


def prefix(options: tuple[str, ...], *, network: bool) -> list[str]:
    namespaces = ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if not network:
        namespaces.append("--unshare-net")
    return [shutil.which("bwrap") or "bwrap", *options, *namespaces, "--die-with-parent", "--new-session"]


def _system_mounts() -> list[str]:
    args = []
    for path in system_paths():
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        else:
            args += ["--ro-bind", str(path), str(path)]
    return [*args, "--dev", "/dev", "--proc", "/proc"]


def mount_args(seen: View, *, traversable: bool) -> list[str]:
    """Mounts for ``seen``, shallowest first; an excluded path covers a bind of the same path.

    With ``traversable``, folders bubblewrap creates to hold the binds are made world-searchable (it creates
    them 0700), for a command that will not run as their owner.
    """
    visible = set(seen.readonly)
    bound = [*visible, *(path.resolve() for path in system_paths()), seen.writable]
    ops: list[tuple[int, int, list[str]]] = [(len(Path(path).parts), 0, ["--tmpfs", path]) for path in _PRIVATE]
    if traversable:
        shown = visible | {seen.writable} | set(seen.devices)
        holders = {parent for path in shown for parent in path.parents if parent.parent != parent}
        for folder in holders:
            ops.append((len(folder.parts), 1, ["--perms", "0755", "--dir", str(folder)]))
    ops += [(len(path.parts), 2, ["--ro-bind", str(path), str(path)]) for path in visible - {seen.writable}]
    ops.append((len(seen.writable.parts), 3, ["--bind", str(seen.writable), str(seen.writable)]))
    covered = [path for path in seen.excluded if any(path.is_relative_to(root) for root in bound)]
    for path in covered:
        mount = ["--tmpfs", str(path)] if path.is_dir() else ["--ro-bind", "/dev/null", str(path)]
        ops.append((len(path.parts), 4, mount))
    args = [arg for _, _, mount in sorted(ops, key=lambda op: op[:2]) for arg in mount]
    for path in sorted(path for path in covered if path.is_dir()):
        args += ["--remount-ro", str(path)]
    devices = [arg for path in seen.devices for arg in ("--dev-bind", str(path), str(path))]
    return [*_system_mounts(), *args, *devices, "--remount-ro", "/"]

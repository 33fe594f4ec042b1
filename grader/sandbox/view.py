"""What a sandbox sees: the system, the Python environment and a staged copy of the runner — never the grader's
own files.

The grader's own files are found from the installed package itself: the imported package folder, every file of
every installed distribution that ships it (a wheel's bundled spec, an editable install's bundled copy and
metadata) and, for an editable install, its source checkout. Those that lie inside a visible folder are kept out
of sight by each isolation tier.
"""

from __future__ import annotations

import atexit
import functools
import importlib.metadata
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import grader

SYSTEM_READONLY = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/sys")
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
RUNTIME_MODULES = ("__init__.py", "proctree.py", "protocol.py", "runner.py", "measure.py", "datasets")
_DISTRIBUTION = "cnn-grader"


@dataclass(frozen=True)
class View:
    """Read-only and writable roots of a sandbox, the paths inside them it must not see (all resolved), and the
    device nodes beyond the basic ones (``DEVICES``) it may open, at their own paths."""

    readonly: frozenset[Path]
    writable: Path
    excluded: frozenset[Path]
    devices: tuple[Path, ...] = ()


def view(workdir: Path, readonly: tuple[Path, ...], hidden: tuple[Path, ...], devices: tuple[Path, ...] = ()) -> View:
    """The roots a sandboxed command over ``workdir`` sees, less the grader's own files and ``hidden``, and the
    ``devices`` it may open (each must be a character device)."""
    roots = {path.resolve() for path in readonly} | python_paths() | {runtime_dir()}
    missing = [str(path) for path in roots if not path.exists()]
    if missing:
        raise FileNotFoundError(f"paths to show the sandbox do not exist: {', '.join(missing)}")
    excluded = {path.resolve() for path in hidden} | grader_owned()
    if workdir in excluded:
        raise ValueError(f"workdir {workdir} is also a hidden path")
    not_devices = [str(path) for path in devices if not _is_device(path)]
    if not_devices:
        raise ValueError(f"not device nodes: {', '.join(not_devices)}")
    return View(frozenset(roots), workdir, frozenset(path for path in excluded if path.exists()), tuple(devices))


def _is_device(path: Path) -> bool:
    try:
        return stat.S_ISCHR(os.stat(path).st_mode)
    except OSError:
        return False


def system_paths() -> list[Path]:
    """The system folders commands need (libraries, configuration), those present here."""
    return [Path(path) for path in SYSTEM_READONLY if os.path.lexists(path)]


@functools.cache
def python_paths() -> frozenset[Path]:
    """The Python installation as ``python -I`` sees it: its prefixes and import path, less the grader's own."""
    probe = "import json, sys; print(json.dumps([sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,"
    probe += " *sys.path]))"
    shown = subprocess.run(
        [sys.executable, "-I", "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    paths = {Path(entry).resolve() for entry in json.loads(shown) if entry and os.path.isdir(entry)}
    return frozenset(paths - grader_owned())


@functools.cache
def grader_owned() -> frozenset[Path]:
    """Every path an install of the grader left: package folders, distribution files, an editable checkout."""
    owned = {Path(grader.__file__).resolve().parent}
    names = importlib.metadata.packages_distributions().get("grader") or [_DISTRIBUTION]
    for name in dict.fromkeys(names):
        for dist in importlib.metadata.distributions(name=name):
            owned |= _distribution_paths(dist)
    return frozenset(owned)


def _distribution_paths(dist: importlib.metadata.Distribution) -> set[Path]:
    """The entries a distribution put in its site folder (top level), files elsewhere, and its editable source."""
    base = Path(str(dist.locate_file(""))).resolve()
    found = set()
    for file in dist.files or ():
        path = Path(os.path.normpath(base / str(file)))
        found.add(base / path.relative_to(base).parts[0] if path.is_relative_to(base) else path)
    try:
        origin = json.loads(dist.read_text("direct_url.json") or "{}")
    except json.JSONDecodeError:
        origin = {}
    url = urlparse(origin.get("url", ""))
    if origin.get("dir_info", {}).get("editable") and url.scheme == "file":
        found.add(Path(unquote(url.path)).resolve())
    return found


def runtime_dir() -> Path:
    """A read-only, world-readable copy of the modules that run inside sandboxes, made once (removed at exit)."""
    with _RUNTIME_LOCK:
        if not _RUNTIME:
            _RUNTIME.append(_stage_runtime())
        return _RUNTIME[0]


_RUNTIME: list[Path] = []
_RUNTIME_LOCK = threading.Lock()


def _stage_runtime() -> Path:
    root = Path(tempfile.mkdtemp(prefix="cnn-grader-runtime-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    source = Path(grader.__file__).resolve().parent
    for name in RUNTIME_MODULES:
        origin, target = source / name, root / "grader" / name
        if origin.is_dir():
            shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(origin, target)
    for folder, _, files in os.walk(root):
        os.chmod(folder, 0o555)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o444)
    atexit.register(_make_removable, root)
    return root


def _make_removable(root: Path) -> None:
    for folder, _, _ in os.walk(root):
        os.chmod(folder, 0o755)


def runtime_command(module: str, *args: str) -> list[str]:
    """The command that runs ``module``'s ``main()`` from the staged runtime with the sandbox's Python."""
    bootstrap = f"import sys; sys.path.insert(0, {str(runtime_dir())!r}); from {module} import main; main()"
    return [sys.executable, "-I", "-c", bootstrap, *args]


def unreachable(paths: set[Path] | frozenset[Path]) -> list[Path]:
    """The paths another user cannot reach: a folder above them not searchable by all, or them not readable."""
    blocked = []
    for path in paths:
        chain = [*reversed(path.parents), path]
        for index, step in enumerate(chain):
            try:
                mode = os.stat(step).st_mode
            except OSError:
                blocked.append(path)
                break
            needed = stat.S_IXOTH if index < len(chain) - 1 or stat.S_ISDIR(mode) else 0
            needed |= stat.S_IROTH if step == path else 0
            if mode & needed != needed:
                blocked.append(path)
                break
    return sorted(blocked)

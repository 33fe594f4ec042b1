"""Run untrusted commands contained, in the strongest isolation tier available.

Tiers (``Isolation``): ``bubblewrap`` (namespaces, a file system of only what the command needs, no network),
``landlock`` (the command restricts itself: no privileges or namespaces needed, for unprivileged containers),
``rlimits`` (process limits only; see ``ISOLATION_WARNING``). In every tier the command gets a clean
environment, process limits, ``no_new_privs``, and — when the grader runs as root — a uid of its own.
"""

from grader.proctree import kill_tree, process_tree
from grader.sandbox.policy import Isolation, Limits, SandboxPolicy, SandboxResult
from grader.sandbox.run import build, owned_by, run_sandboxed, sandbox_uid, stop_all
from grader.sandbox.tiers import (
    CHOICES,
    ISOLATION_ENV,
    ISOLATION_WARNING,
    available,
    isolation_available,
    resolve,
    rlimits_warning,
)
from grader.sandbox.view import runtime_command

__all__ = [
    "CHOICES",
    "ISOLATION_ENV",
    "ISOLATION_WARNING",
    "Isolation",
    "Limits",
    "SandboxPolicy",
    "SandboxResult",
    "available",
    "build",
    "isolation_available",
    "kill_tree",
    "owned_by",
    "process_tree",
    "resolve",
    "rlimits_warning",
    "run_sandboxed",
    "runtime_command",
    "sandbox_uid",
    "stop_all",
]

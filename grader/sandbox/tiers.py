"""Which isolation tier applies: the strongest usable here, or the one asked for.

``CNN_GRADER_ISOLATION`` (``auto``, ``bubblewrap``, ``landlock``, ``none``; ``grader … --isolation`` sets it)
chooses; ``auto`` takes bubblewrap, else Landlock, else process limits only (``rlimits``, see
``ISOLATION_WARNING``). A tier asked for by name that cannot run here is an error, never a silent fallback.
"""

from __future__ import annotations

import functools
import os

from grader.sandbox import bubblewrap, landlock
from grader.sandbox.policy import Isolation
from grader.sandbox.view import python_paths, runtime_dir, unreachable

ISOLATION_ENV = "CNN_GRADER_ISOLATION"
CHOICES = ("auto", "bubblewrap", "landlock", "none")
ISOLATION_WARNING = (
    "Sandbox isolation is unavailable or turned off (isolation: rlimits), so student code runs with process "
    "limits only: memory, process count, file size and a wall-clock timeout. It is NOT contained otherwise: "
    "it can use the network, read every file its user can read (answer keys, reference notebooks, other "
    "submissions, credentials) and write wherever that user can write. Grade only trusted notebooks this way, "
    "or install bubblewrap (package `bubblewrap`) or use a Linux kernel with Landlock (5.13 or later)."
)
ROOT_WARNING = (
    " Run as root here it also stays root (the Python installation is not readable by other users, so "
    "it cannot switch to a uid of its own), and the process count is not limited."
)


def rlimits_warning() -> str:
    """The loud warning for the rlimits tier, saying whether the code also runs as root."""
    return ISOLATION_WARNING + (ROOT_WARNING if os.geteuid() == 0 and drop_blocked() else "")


def unavailable_reason(tier: Isolation) -> str:
    """Why ``tier`` cannot run here ("" when it can)."""
    if tier is Isolation.BUBBLEWRAP and bubblewrap.namespace_options() is None:
        return "bubblewrap is missing or cannot create namespaces here"
    if tier is Isolation.LANDLOCK:
        if not landlock.usable():
            return f"Landlock is unavailable here (ABI {landlock.abi()}: off, filtered, or an unknown architecture)"
        if os.geteuid() == 0:
            return drop_blocked()
    return ""


@functools.cache
def drop_blocked() -> str:
    """Why root cannot switch sandboxes to a uid of their own here ("" when it can)."""
    blocked = unreachable(python_paths() | {runtime_dir()})
    if not blocked:
        return ""
    return (
        f"running as root, the sandbox drops to a uid of its own, which cannot read {blocked[0]} (a folder "
        "above it is not searchable by other users); install Python where every user can read it"
    )


def available() -> list[Isolation]:
    """The tiers that can run here, strongest first."""
    return [tier for tier in Isolation if not unavailable_reason(tier)]


def resolve(requested: str) -> Isolation:
    """The tier ``requested`` (one of ``CHOICES``) means here; raise ``RuntimeError`` when it cannot run."""
    if requested not in (*CHOICES, "rlimits"):
        raise ValueError(f"{ISOLATION_ENV} must be one of {', '.join(CHOICES)}, not {requested!r}")
    if requested == "auto":
        return available()[0]
    tier = Isolation.RLIMITS if requested in ("none", "rlimits") else Isolation(requested)
    reason = unavailable_reason(tier)
    if reason:
        raise RuntimeError(f"isolation {requested}: {reason}")
    return tier


def isolation_available() -> Isolation:
    """The tier sandboxes use now: ``CNN_GRADER_ISOLATION`` resolved (default ``auto``)."""
    return resolve(os.environ.get(ISOLATION_ENV, "") or "auto")

"""What a sandboxed command may see and use, and how its run ended."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from grader.spec.model import Limits


class Isolation(str, Enum):
    """The containment a command really ran under, strongest first."""

    BUBBLEWRAP = "bubblewrap"
    LANDLOCK = "landlock"
    RLIMITS = "rlimits"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class SandboxPolicy:
    """What the sandboxed command may see and use.

    ``workdir`` is its only writable place (besides a private ``/tmp`` under bubblewrap); ``readonly``
    paths are visible read-only; ``hidden`` paths stay out of sight even where they lie inside a visible
    one; ``devices`` are device nodes it may open (a GPU's). ``env`` is added to a clean environment holding
    ``PATH``, ``LANG``, ``HOME`` (the workdir) and ``TMPDIR``. Of ``limits``, the sandbox applies ``memory_mb``
    (per process), ``max_processes`` and ``max_file_mb``; the time limits are the caller's.
    """

    workdir: Path
    readonly: tuple[Path, ...] = ()
    hidden: tuple[Path, ...] = ()
    network: bool = False
    limits: Limits = Limits()
    env: Mapping[str, str] = field(default_factory=dict)
    devices: tuple[Path, ...] = ()


@dataclass(frozen=True)
class SandboxResult:
    """How a sandboxed run ended and what it printed (each stream capped, then decoded as UTF-8)."""

    returncode: int
    timed_out: bool
    stdout: str
    stderr: str
    truncated: bool
    isolation: Isolation

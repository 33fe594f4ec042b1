"""What a sandboxed command may see and use, and how its run ended."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path


class Isolation(str, Enum):
    """The containment a command really ran under, strongest first."""

    BUBBLEWRAP = "bubblewrap"
    LANDLOCK = "landlock"
    RLIMITS = "rlimits"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Limits:
    """Resource limits applied to the sandboxed command's processes."""

    memory_bytes: int = 4 * 1024**3
    max_processes: int = 256
    max_file_bytes: int = 512 * 1024**2
    cpu_seconds: int | None = None
    open_files: int = 1024


@dataclass(frozen=True)
class SandboxPolicy:
    """What the sandboxed command may see and use.

    ``workdir`` is its only writable place (besides a private ``/tmp`` under bubblewrap); ``readonly``
    paths are visible read-only; ``hidden`` paths stay out of sight even where they lie inside a visible
    one. ``env`` is added to a clean environment holding ``PATH``, ``LANG``, ``HOME`` (the workdir) and
    ``TMPDIR``.
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
    isolation: Isolation

"""The NVIDIA GPUs of this machine, which of them grading may use, and how they are shared out.

A GPU is known by its device node (``/dev/nvidiaN``, character major 195, minor N) and, where the driver tells
(``/proc/driver/nvidia/gpus/*/information``), its UUID. A notebook given GPUs sees the shared driver nodes and
the nodes of its GPUs only, with ``CUDA_VISIBLE_DEVICES`` naming them by UUID when known: a sandbox that hides
the other nodes makes CUDA number the GPUs it sees from 0, and a UUID means the same GPU either way.

``CNN_GRADER_DEVICE_ROOT`` (default ``/dev``) is where the nodes are looked for; tests point it at stand-ins.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

DEVICE_ROOT_ENV = "CNN_GRADER_DEVICE_ROOT"
DRIVER_INFO = Path("/proc/driver/nvidia/gpus")
SHARED_NODES = ("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset")
CAPS_FOLDER = "nvidia-caps"  # MIG capabilities, where the driver creates them
_GPU_NODE = re.compile(r"nvidia(\d+)")


class GpuSelectionError(ValueError):
    """``--gpus`` names a GPU this machine does not have, or is not a list of GPU numbers."""


@dataclass(frozen=True)
class Gpu:
    """One GPU: its number (the device node's minor, ``nvidia-smi``'s index on usual machines) and node."""

    index: int
    node: Path
    uuid: str = ""

    @property
    def cuda_name(self) -> str:
        """How ``CUDA_VISIBLE_DEVICES`` names it: by UUID when known, else by number."""
        return self.uuid or str(self.index)


@dataclass(frozen=True)
class GpuInventory:
    """The GPUs found under a device root, and the driver's nodes every GPU user needs."""

    gpus: tuple[Gpu, ...]
    shared: tuple[Path, ...]

    def nodes(self, chosen: Sequence[Gpu]) -> tuple[Path, ...]:
        """The device nodes a process using ``chosen`` may open: the shared ones and theirs (none without GPUs)."""
        return (*self.shared, *(gpu.node for gpu in chosen)) if chosen else ()

    def select(self, wanted: str) -> tuple[Gpu, ...]:
        """``all`` (those this process may use) or a comma-separated list of GPU numbers, each present here."""
        if wanted.strip() == "all":
            return self.allowed()
        try:
            numbers = [int(part) for part in wanted.split(",") if part.strip()]
        except ValueError:
            raise GpuSelectionError(f"--gpus takes 'all' or GPU numbers such as 0,1, not {wanted!r}") from None
        by_index = {gpu.index: gpu for gpu in self.gpus}
        missing = [number for number in numbers if number not in by_index]
        if missing:
            found = ", ".join(str(gpu.index) for gpu in self.gpus) or "none"
            raise GpuSelectionError(f"no GPU {missing[0]} on this machine (GPUs found: {found})")
        return tuple(by_index[number] for number in dict.fromkeys(numbers))

    def allowed(self) -> tuple[Gpu, ...]:
        """The GPUs this process may use: all, or those its ``CUDA_VISIBLE_DEVICES`` names, in that order (as
        ``dask cuda worker`` or a batch system sets it; the first is the one a lone grading uses)."""
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        if visible is None:
            return self.gpus
        chosen = []
        for name in (part.strip() for part in visible.split(",")):
            chosen += [gpu for gpu in self.gpus if name in (str(gpu.index), gpu.uuid) and gpu not in chosen]
        return tuple(chosen)


def device_root() -> Path:
    return Path(os.environ.get(DEVICE_ROOT_ENV) or "/dev")


def _is_device(path: Path) -> bool:
    try:
        return stat.S_ISCHR(os.stat(path).st_mode)
    except OSError:
        return False


def _uuids(info: Path) -> dict[int, str]:
    """GPU number → UUID, as the driver reports them (empty where there is no driver)."""
    found = {}
    for path in sorted(info.glob("*/information")):
        try:
            fields = dict(line.split(":", 1) for line in path.read_text().splitlines() if ":" in line)
            found[int(fields["Device Minor"])] = fields["GPU UUID"].strip()
        except (OSError, KeyError, ValueError):
            continue
    return found


def discover(root: Path | None = None, info: Path = DRIVER_INFO) -> GpuInventory:
    """The GPU device nodes under ``root`` (default: ``device_root()``)."""
    root = root or device_root()
    uuids = _uuids(info)
    gpus = []
    for path in root.glob("nvidia*"):
        match = _GPU_NODE.fullmatch(path.name)
        if match and _is_device(path):
            gpus.append(Gpu(int(match.group(1)), path, uuids.get(int(match.group(1)), "")))
    shared = [root / name for name in SHARED_NODES if _is_device(root / name)]
    shared += sorted(path for path in (root / CAPS_FOLDER).glob("*") if _is_device(path))
    return GpuInventory(tuple(sorted(gpus, key=lambda gpu: gpu.index)), tuple(shared))


class GpuSlots:
    """Places on GPUs: each GPU takes at most ``per_gpu`` notebooks at once; the least busy is given first."""

    def __init__(self, gpus: Sequence[Gpu], per_gpu: int) -> None:
        if per_gpu < 1:
            raise ValueError("per_gpu must be at least 1")
        self.per_gpu = per_gpu
        self.gpus = tuple(gpus)
        self.busy = {gpu: 0 for gpu in gpus}

    def __bool__(self) -> bool:
        return bool(self.busy)

    def take(self) -> Gpu | None:
        """A GPU with a free place (now counted busy), or None when every place is taken."""
        free = [gpu for gpu, count in self.busy.items() if count < self.per_gpu]
        if not free:
            return None
        chosen = min(free, key=lambda gpu: self.busy[gpu])
        self.busy[chosen] += 1
        return chosen

    def give_back(self, gpu: Gpu) -> None:
        self.busy[gpu] -= 1

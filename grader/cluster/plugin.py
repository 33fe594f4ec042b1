"""Getting a Dask worker ready to grade: the grader version, the isolation tier, the MNIST cache.

The driver registers one ``GraderPlugin``; Dask runs its ``setup`` on every worker, those already
there and those that join later.
"""

from __future__ import annotations

import gzip
import logging
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from distributed import WorkerPlugin

import grader
from grader.datasets import DatasetError, ensure_mnist, fetch_mnist
from grader.datasets.cache import mnist_dir, read_stamp
from grader.datasets.catalog import MNIST_FILES
from grader.sandbox import isolation_available

PLUGIN_NAME = "cnn-grader"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Readiness:
    """What a worker found when it got ready."""

    version: str
    isolation: str
    mnist: str


def mnist_payload() -> tuple[tuple[str, bytes], ...]:
    """The driver's verified MNIST files, gzip-compressed, to send to workers (fetched first if needed)."""
    directory = ensure_mnist()
    return tuple(
        (f"{item.name}.gz", gzip.compress((directory / item.name).read_bytes(), compresslevel=1, mtime=0))
        for item in MNIST_FILES
    )


def fill_mnist(payload: tuple[tuple[str, bytes], ...]) -> str:
    """Put the driver's MNIST files into this machine's cache unless it holds verified ones; each file's
    SHA-256 is checked on the way in, as for every other source. Returns what was done."""
    if read_stamp(mnist_dir()):
        return "present"
    if not payload:
        return "not sent (not needed, or not available to the driver)"
    with tempfile.TemporaryDirectory(prefix="cnn-grader-mnist-") as folder:
        for name, data in payload:
            (Path(folder) / name).write_bytes(data)
        try:
            result = fetch_mnist(Path(folder))
        except DatasetError as error:
            return f"refused: {error}"
    return "verified, from the driver" if result.fetched else "present"


class GraderPlugin(WorkerPlugin):
    """Checks the worker's grader version against the driver's, finds its isolation tier, fills MNIST."""

    name = PLUGIN_NAME

    def __init__(self, version: str = grader.__version__, mnist: tuple[tuple[str, bytes], ...] = ()) -> None:
        self.version = version
        self.mnist = mnist
        self.readiness: Readiness | None = None

    def setup(self, worker) -> None:
        if self.version != grader.__version__:
            raise RuntimeError(f"worker {worker.address} runs grader {grader.__version__}, the driver {self.version}")
        tier = str(isolation_available())
        if tier == "rlimits":
            logger.warning("worker %s: notebooks run with process limits only (isolation: rlimits)", worker.address)
        self.readiness = Readiness(grader.__version__, tier, fill_mnist(self.mnist))
        self.mnist = ()  # the files are in the cache now (or refused); do not keep them in memory


def readiness(dask_worker) -> dict[str, str]:
    """The plugin's findings on this worker (for ``Client.run``)."""
    plugin = dask_worker.plugins.get(PLUGIN_NAME)
    return asdict(plugin.readiness) if plugin is not None and plugin.readiness else {}

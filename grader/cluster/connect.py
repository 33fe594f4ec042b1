"""Reaching a Dask cluster from ``--cluster``: ``local:N`` starts one here, anything else is a scheduler address."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import dask
from distributed import Client, LocalCluster

from grader.cluster.plugin import GraderPlugin, readiness

_LOCAL = re.compile(r"local:(\d+)")
CONNECT_SECONDS = 30
# Grading shares this machine's cores with the cluster's own processes: no statistical profiling of tasks
# (a stack sample every 10 ms), and resource monitoring every few seconds instead of several times a second.
QUIET = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "1s",
}


class ClusterError(ValueError):
    """``--cluster`` names no usable cluster, or its workers cannot grade."""


@dataclass(frozen=True)
class Cluster:
    """A connected client; ``local`` when the grader started the cluster itself (no resources declared)."""

    client: Client
    local: bool

    def workers(self) -> dict[str, dict]:
        return self.client.scheduler_info(n_workers=-1)["workers"]

    def has_gpu_workers(self) -> bool:
        return any(info.get("resources", {}).get("GPU") for info in self.workers().values())

    def readiness(self) -> dict[str, dict[str, str]]:
        """Each current worker's version, isolation tier and MNIST state, as its plugin found them."""
        return self.client.run(readiness)


def _client(address: str) -> tuple[Client, LocalCluster | None]:
    local = _LOCAL.fullmatch(address)
    if local:
        count = int(local.group(1))
        if count < 1:
            raise ClusterError(f"--cluster {address}: a local cluster needs at least one worker")
        with dask.config.set(QUIET):
            cluster = LocalCluster(
                n_workers=count,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
        return Client(cluster), cluster
    if address.startswith("local"):
        raise ClusterError(f"--cluster {address}: write local:N, N the number of worker processes")
    try:
        return Client(address, timeout=CONNECT_SECONDS), None
    except (OSError, TimeoutError, ValueError) as error:
        raise ClusterError(f"--cluster {address}: cannot reach the scheduler ({error})") from None


@contextmanager
def open_cluster(address: str, mnist: tuple[tuple[str, bytes], ...] = ()) -> Iterator[Cluster]:
    """Connect, and get every worker ready with ``GraderPlugin`` (``mnist``: the files to fill caches with).

    A local cluster is shut down on exit, its running notebooks with it; a remote one is left as it was.
    """
    client, local = _client(address)
    try:
        try:
            client.register_plugin(GraderPlugin(mnist=mnist))
        except Exception as error:
            raise ClusterError(f"--cluster {address}: a worker cannot grade: {error}") from None
        yield Cluster(client, local is not None)
    finally:
        if client.status != "running":  # the scheduler is gone: closing would only log its failed reconnection
            logging.getLogger("distributed.client").setLevel(logging.CRITICAL)
        client.close()
        if local is not None:
            local.close()

"""A batch's time on a cluster: send the MNIST files if needed, get the workers ready, say what they are."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from grader.activity import Activity
from grader.cluster.connect import Cluster, open_cluster
from grader.cluster.engine import DaskEngine
from grader.cluster.plugin import mnist_payload
from grader.cluster.task import needs_gpu, needs_model
from grader.datasets import DatasetError
from grader.grade import GradeOptions
from grader.spec import Spec

Say = Callable[[str], None]


def _describe(cluster: Cluster, say: Say, warn: Say) -> None:
    found = cluster.readiness()
    if not found:
        say("cluster: no worker yet; tasks wait for workers to join")
        return
    tiers = Counter(item.get("isolation", "unknown") for item in found.values())
    say(
        f"cluster: {len(found)} worker{'s' if len(found) != 1 else ''}, isolation "
        + ", ".join(f"{tier} ×{count}" for tier, count in tiers.items())
    )
    for address, item in found.items():
        if item.get("isolation") == "rlimits":
            warn(
                f"worker {address} runs notebooks with process limits only (isolation: rlimits): they are not "
                "contained otherwise"
            )
        if item.get("mnist", "").startswith("refused"):
            warn(f"worker {address}: MNIST {item['mnist']}")


@contextmanager
def cluster_engine(
    address: str,
    spec: Spec,
    options: GradeOptions,
    say: Say,
    warn: Say,
    activity: Callable[[Path, Activity], None] | None = None,
) -> Iterator[DaskEngine]:
    """A ``DaskEngine`` on the cluster at ``address`` (``local:N`` or a scheduler), its workers ready;
    ``activity`` receives what each running notebook is doing."""
    mnist: tuple[tuple[str, bytes], ...] = ()
    if needs_model(spec, options):
        try:
            mnist = mnist_payload()
        except DatasetError as error:
            warn(f"MNIST is not available here to send to the workers: {error}")
    with open_cluster(address, mnist) as cluster:
        _describe(cluster, say, warn)
        if not cluster.local and needs_gpu(spec, options) and not cluster.has_gpu_workers():
            warn(
                "no worker declares the GPU resource yet: the model exercise's submissions wait for one "
                "(start workers with --resources GPU=1, or pass --device cpu to train on any worker)"
            )
        engine = DaskEngine(cluster.client, spec, options, gpu_resource=not cluster.local, activity=activity)
        try:
            yield engine
        finally:
            engine.close()

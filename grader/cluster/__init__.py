"""Grading a batch on a Dask distributed cluster (``grader grade --cluster``); imported only when asked for."""

from .connect import ClusterError
from .engine import ClusterLost, DaskEngine
from .session import cluster_engine
from .task import GradingTask, grade_task, pack_task, worker_of

__all__ = [
    "ClusterError",
    "ClusterLost",
    "DaskEngine",
    "GradingTask",
    "cluster_engine",
    "grade_task",
    "pack_task",
    "worker_of",
]

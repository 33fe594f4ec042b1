"""MNIST for grading without the internet: a verified cache, a prepared TFDS store, kernel set-up."""

from .cache import cache_dir
from .errors import DatasetError
from .kernel_setup import setup_cell_source, utils_module_source
from .mnist import FetchResult, ensure_mnist, fetch_mnist, load_mnist_arrays
from .tfds_store import ensure_tfds_store

__all__ = [
    "DatasetError",
    "FetchResult",
    "cache_dir",
    "ensure_mnist",
    "ensure_tfds_store",
    "fetch_mnist",
    "load_mnist_arrays",
    "setup_cell_source",
    "utils_module_source",
]

"""Code the grader adds to a student's kernel so the usual MNIST loaders work offline, unchanged."""

from __future__ import annotations

from pathlib import Path
from string import Template

from .catalog import MNIST_FILES

_SETUP_CELL = Template('''\
# Added by the grader; not part of your notebook. It makes MNIST load offline.
# The grading machine has no internet, so the usual MNIST loaders are pointed at a local copy
# whose SHA-256 checksums match the official files:
#   * tfds.load('mnist', ...) and tfds.builder('mnist', ...) read a prepared TFDS store, whatever
#     data_dir, split or download you pass (other datasets are left alone);
#   * keras.datasets.mnist.load_data() (also tf.keras...) returns the official arrays.
# Nothing heavy is imported here: each loader is adjusted when your code first imports it,
# and the cell leaves no names behind.


def _grader_offline_mnist(tfds_dir, idx_dir):
    import functools
    import os
    import sys
    from importlib.abc import MetaPathFinder

    def is_mnist(name):
        return str(name).split(":")[0].strip().lower() == "mnist"

    def offline_tfds(module):
        """tfds.load / tfds.builder for 'mnist' (any version spec) read the prepared store."""
        load, builder = module.load, module.builder

        @functools.wraps(load)
        def offline_load(name, *args, **kwargs):
            if is_mnist(name):
                kwargs.update(data_dir=tfds_dir, download=False, try_gcs=False)
            return load(name, *args, **kwargs)

        @functools.wraps(builder)
        def offline_builder(name, *args, **kwargs):
            if is_mnist(name):
                kwargs.update(data_dir=tfds_dir, try_gcs=False)
            return builder(name, *args, **kwargs)

        return {"load": offline_load, "builder": offline_builder}

    def read_idx(name):
        import numpy as np

        with open(os.path.join(idx_dir, name), "rb") as f:
            ndim = f.read(4)[3]
            shape = tuple(int(n) for n in np.frombuffer(f.read(4 * ndim), dtype=">u4"))
            return np.fromfile(f, dtype=np.uint8).reshape(shape)

    def offline_keras(module):
        """keras.datasets.mnist.load_data() reads the verified IDX files instead of downloading."""

        @functools.wraps(module.load_data)
        def load_data(path="mnist.npz"):
            return ((read_idx("train-images-idx3-ubyte"), read_idx("train-labels-idx1-ubyte")),
                    (read_idx("t10k-images-idx3-ubyte"), read_idx("t10k-labels-idx1-ubyte")))

        return {"load_data": load_data}

    patches = {
        "tensorflow_datasets.core.load": offline_tfds,
        "keras.src.datasets.mnist": offline_keras,  # Keras 3 (tf.keras is Keras 3 too)
        "keras.datasets.mnist": offline_keras,  # Keras 2
    }

    def go_offline(module):
        """Swap the module's loaders, and any copies other modules already imported."""
        new = patches[module.__name__](module)
        old = {name: getattr(module, name) for name in new}
        if any(getattr(f, "_grader_offline", False) for f in old.values()):
            return
        for function in new.values():
            function._grader_offline = True
        for other in list(sys.modules.values()):
            namespace = getattr(other, "__dict__", {})
            for name, function in new.items():
                if namespace.get(name) is old[name]:
                    setattr(other, name, function)

    class GraderOfflineMnist(MetaPathFinder):
        """Calls go_offline on a module right after Python first imports it."""

        def find_spec(self, fullname, path, target=None):
            if fullname not in patches:
                return None
            others = [f for f in sys.meta_path if f is not self and hasattr(f, "find_spec")]
            spec = next(filter(None, (f.find_spec(fullname, path, target) for f in others)), None)
            if spec is None or spec.loader is None:
                return spec
            exec_module = spec.loader.exec_module

            def exec_then_go_offline(module):
                exec_module(module)
                go_offline(module)

            spec.loader.exec_module = exec_then_go_offline
            return spec

    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "GraderOfflineMnist"]
    sys.meta_path.insert(0, GraderOfflineMnist())
    for name in patches:
        if name in sys.modules:
            go_offline(sys.modules[name])


_grader_offline_mnist($tfds_dir, $idx_dir)
del _grader_offline_mnist
''')

_UTILS_MODULE = '''\
"""Helpers the notebook imports (`from utils import set_seed`); provided by the grader."""

import os
import random

import numpy as np


def set_seed(seed: int = 42) -> None:
    """Seed Python, NumPy and TensorFlow so that a run can be repeated."""
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    try:
        import tensorflow as tf
    except ImportError:
        return
    tf.random.set_seed(seed)
    tf.keras.utils.set_random_seed(seed)
'''


def setup_cell_source(store: Path, cache: Path) -> str:
    """Source of the set-up cell: ``store`` is the prepared TFDS ``data_dir``; ``cache`` is the folder of
    the raw IDX files (``ensure_mnist()``) or the cache root above it (``cache_dir()``).

    The cell makes ``tfds.load('mnist', ...)``/``tfds.builder('mnist', ...)`` read ``store`` whatever
    ``data_dir`` the student passes, and ``keras.datasets.mnist.load_data()`` read the IDX files in
    ``cache``. It imports nothing heavy: the loaders are patched when the student's code imports them.
    """
    idx_dir = cache / "mnist" if (cache / "mnist" / MNIST_FILES[0].name).is_file() else cache
    return _SETUP_CELL.substitute(tfds_dir=repr(str(store)), idx_dir=repr(str(idx_dir)))


def utils_module_source() -> str:
    """Text of a ``utils.py`` offering ``set_seed(seed=42)``, for notebooks that import it."""
    return _UTILS_MODULE

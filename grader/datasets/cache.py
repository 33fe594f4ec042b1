"""Where verified data lives, how a file gets in (hash, then atomic rename), and what is known good."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import platformdirs

from .catalog import MNIST_FILES, IdxFile
from .errors import DatasetError

CACHE_ENV = "CNN_GRADER_CACHE"
_CHUNK = 1 << 20
_STAMP = "verified.json"


def cache_dir() -> Path:
    """The grader's data cache: ``$CNN_GRADER_CACHE`` if set, else the user cache dir for cnn-grader."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured).expanduser() if configured else Path(platformdirs.user_cache_dir("cnn-grader"))


def mnist_dir() -> Path:
    """The folder holding the four raw MNIST IDX files (and the prepared TFDS store under ``tfds/``)."""
    return cache_dir() / "mnist"


def sha256_chunks(chunks: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def read_chunks(stream: BinaryIO) -> Iterable[bytes]:
    while chunk := stream.read(_CHUNK):
        yield chunk


def sha256_file(path: Path) -> str:
    with path.open("rb") as f:
        return sha256_chunks(read_chunks(f))


def install_verified(directory: Path, expected: IdxFile, stream: BinaryIO, origin: str) -> Path:
    """Copy ``stream`` into ``directory/expected.name`` only if its SHA-256 is the expected one.

    The bytes go to a temporary file in the same folder, which is renamed into place after the hash
    matches and deleted otherwise, so the cache never holds an unverified file under a real name.
    """
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / expected.name
    fd, tmp_name = tempfile.mkstemp(prefix=f".{expected.name}.", suffix=".part", dir=directory)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for chunk in read_chunks(stream):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != expected.sha256:
            raise DatasetError(
                f"{expected.name} from {origin}: SHA-256 mismatch (expected {expected.sha256}, "
                f"got {digest.hexdigest()}); the file was not used"
            )
        tmp.chmod(0o644)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _signature(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def read_stamp(directory: Path) -> bool:
    """Whether every MNIST file is unchanged (size and mtime) since it was last hashed and found good."""
    try:
        stamp = json.loads((directory / _STAMP).read_text())
        return all(stamp.get(f.sha256) == _signature(directory / f.name) for f in MNIST_FILES)
    except (OSError, ValueError, AttributeError):
        return False


def write_stamp(directory: Path) -> None:
    """Record that the MNIST files in ``directory`` were just hashed and found good."""
    stamp = {f.sha256: _signature(directory / f.name) for f in MNIST_FILES}
    fd, tmp_name = tempfile.mkstemp(prefix=".verified.", suffix=".part", dir=directory)
    with os.fdopen(fd, "w") as out:
        json.dump(stamp, out)
    os.chmod(tmp_name, 0o644)
    os.replace(tmp_name, directory / _STAMP)

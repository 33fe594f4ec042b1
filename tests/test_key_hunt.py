"""No copy of the key is within reach of student code, whatever the install: a notebook that hunts the file system
for the spec, the reference notebook and the package's metadata (``tests/adversarial/key_hunt.ipynb``) finds
nothing and earns nothing, for an editable install and a wheel, under each tier that contains files."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO
from interpreters import make_venv, reachable_python, remove_venv

from grader.sandbox import Isolation
from grader.sandbox.tiers import unavailable_reason

pytestmark = pytest.mark.kernel
HUNTER = REPO / "tests" / "adversarial" / "key_hunt.ipynb"
CONTAINED = (Isolation.BUBBLEWRAP, Isolation.LANDLOCK)


@pytest.fixture(scope="module")
def world() -> Iterator[Path]:
    """A folder every user can reach (outside /tmp), as an instructor's course folder would be."""
    folder = Path(tempfile.mkdtemp(prefix="cnn-grader-key-hunt-", dir="/var/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def wheel_python(world: Path) -> Iterator[Path]:
    """A Python whose ``grader`` is a wheel built from this checkout (its other packages: this environment's)."""
    dist = world / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(REPO)],
                   check=True, capture_output=True, timeout=600)
    (wheel,) = dist.glob("cnn_grader-*.whl")
    python = make_venv([Path(path) for path in site.getsitepackages()], "cnn-grader-test-wheel-")
    if python is None:
        pytest.skip("no system Python of this version to install the wheel into")
    (target,) = python.parents[1].glob("lib/python3*/site-packages")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile", "--target",
                    str(target), str(wheel)], check=True, capture_output=True, timeout=600)
    subprocess.run(["chmod", "-R", "a+rX", str(target)], check=True)
    yield python
    remove_venv(python)


@pytest.fixture(scope="module")
def editable_python() -> Iterator[Path | None]:
    """This environment's Python (the grader installed editable), or one a dropped uid can run (Landlock as root)."""
    python = reachable_python()
    yield python
    if python is not None:
        remove_venv(python)


def _python(install: str, tier: Isolation, request: pytest.FixtureRequest) -> Path:
    if install == "wheel":
        return request.getfixturevalue("wheel_python")
    if tier is Isolation.BUBBLEWRAP:
        return Path(sys.executable)
    python = request.getfixturevalue("editable_python")
    if python is None:
        pytest.skip("no Python a dropped uid can run, for Landlock as root")
    return python


@pytest.mark.parametrize("install", ["editable", "wheel"])
@pytest.mark.parametrize("tier", CONTAINED, ids=str)
def test_key_hunt_finds_nothing(install: str, tier: Isolation, world: Path, request: pytest.FixtureRequest) -> None:
    reason = unavailable_reason(tier)
    if reason and not reason.startswith("running as root"):
        pytest.skip(reason)
    python = _python(install, tier, request)
    folder = world / f"{install}-{tier}"
    (folder / "key_hunt").mkdir(parents=True)
    notebook = folder / "key_hunt" / "key_hunt.ipynb"
    shutil.copy(HUNTER, notebook)
    subprocess.run(["chmod", "-R", "a+rX", str(folder)], check=True)
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "CNN_GRADER_ISOLATION")}
    shown = subprocess.run([str(python), "-c", "import grader; print(grader.__file__)"], cwd=folder, env=env,
                           capture_output=True, text=True, check=True).stdout
    assert (install == "wheel") == ("site-packages" in shown), shown
    done = subprocess.run([str(python), "-m", "grader", "grade", str(notebook), "-e", "1", "-e", "2", "--isolation",
                           tier.value, "--out", str(folder / "out")], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (entry,) = json.loads((folder / "out" / "results.json").read_text(encoding="utf-8"))["submissions"]
    exercises = {exercise["number"]: exercise for exercise in entry["exercises"]}
    total = next(check for check in exercises[2]["checks"] if check["id"] == "total-params")
    assert entry["isolation"] == tier.value
    assert total["found"].replace(",", "") == "903401", exercises[1].get("answer", "")[:3000]  # 903,400 + 1 + hits
    assert (exercises[1]["score"], exercises[2]["score"]) == (0, 0)


def test_without_containment_the_hunt_reaches_the_key(world: Path) -> None:
    """The hunter works: with process limits only, it finds the key (which is why that tier warns)."""
    folder = world / "rlimits" / "key_hunt"
    folder.mkdir(parents=True)
    shutil.copy(HUNTER, folder / "key_hunt.ipynb")
    done = subprocess.run([sys.executable, "-m", "grader", "grade", str(folder / "key_hunt.ipynb"), "-e", "2",
                           "--max-output-mb", "1", "--isolation", "none", "--out", str(world / "rlimits" / "out")],
                          cwd=world, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and "NOT contained" in done.stderr, done.stderr[-3000:]
    (entry,) = json.loads((world / "rlimits" / "out" / "results.json").read_text(encoding="utf-8"))["submissions"]
    total = next(check for check in entry["exercises"][0]["checks"] if check["id"] == "total-params")
    assert entry["isolation"] == "rlimits" and entry["score"] > 0
    assert total["found"].replace(",", "") != "903401"

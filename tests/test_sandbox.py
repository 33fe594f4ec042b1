"""The sandbox contains real child processes: network, files, limits, timeouts and output, in every tier.

Landlock tests need an interpreter the sandbox's own uid can run; where this one is private to root, they run
again in a child pytest under such an interpreter (``test_landlock_tier_with_a_reachable_python``).
"""

from __future__ import annotations

import ast
import os
import resource
import secrets
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from interpreters import landlock_in_child

from grader.sandbox import (
    ISOLATION_ENV,
    Isolation,
    Limits,
    SandboxPolicy,
    SandboxResult,
    build,
    isolation_available,
    owned_by,
    run_sandboxed,
    stop_all,
)
from grader.sandbox.tiers import drop_blocked, unavailable_reason

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable


def _use(tier: Isolation, monkeypatch: pytest.MonkeyPatch) -> Isolation:
    reason = unavailable_reason(tier)
    if reason:
        pytest.skip(reason)
    monkeypatch.setenv(ISOLATION_ENV, tier.value)
    return tier


@pytest.fixture(params=list(Isolation))
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Isolation:
    """Each test using this runs once per isolation tier (those that cannot run here are skipped)."""
    return _use(request.param, monkeypatch)


@pytest.fixture(params=[Isolation.BUBBLEWRAP, Isolation.LANDLOCK])
def contained(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Isolation:
    """Each test using this runs once per tier that contains files and the network."""
    return _use(request.param, monkeypatch)


@pytest.fixture()
def bubblewrap(monkeypatch: pytest.MonkeyPatch) -> Isolation:
    return _use(Isolation.BUBBLEWRAP, monkeypatch)


@pytest.fixture()
def world() -> Iterator[Path]:
    """A folder every user can reach (outside /tmp), as an instructor's course folder would be."""
    folder = Path(tempfile.mkdtemp(prefix="cnn-grader-test-", dir="/var/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture()
def workdir(world: Path) -> Path:
    folder = world / "work"
    folder.mkdir()
    return folder


def python(code: str, policy: SandboxPolicy, *, timeout: float = 30, **kwargs: object) -> SandboxResult:
    return run_sandboxed([PY, "-c", code], policy, timeout=timeout, **kwargs)


@pytest.fixture()
def marker() -> Iterator[str]:
    """A unique `sleep` argument; processes carrying it are killed after the test whatever happened."""
    value = str(900_000 + secrets.randbelow(99_999))
    yield value
    for proc in survivors(value):
        proc.kill()


def survivors(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        if marker in (proc.info["cmdline"] or []) and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


def test_probe_and_forced_fallback(monkeypatch: pytest.MonkeyPatch, workdir: Path) -> None:
    monkeypatch.delenv(ISOLATION_ENV, raising=False)
    assert isolation_available() in list(Isolation)
    monkeypatch.setenv(ISOLATION_ENV, "none")
    assert isolation_available() is Isolation.RLIMITS
    command = build(["true"], SandboxPolicy(workdir=workdir))
    assert command.argv[0] == PY and command.isolation is Isolation.RLIMITS and command.pass_fds == ()
    monkeypatch.setenv(ISOLATION_ENV, "chroot")
    with pytest.raises(ValueError, match=ISOLATION_ENV):
        isolation_available()


def test_a_tier_asked_for_that_cannot_run_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for tier in Isolation:
        monkeypatch.setenv(ISOLATION_ENV, tier.value)
        if unavailable_reason(tier):
            with pytest.raises(RuntimeError, match=tier.value):
                isolation_available()
        else:
            assert isolation_available() is tier


def test_landlock_tier_with_a_reachable_python(workdir: Path) -> None:
    """As root with a Python other users cannot read, the Landlock tests run in a child pytest under one they can."""
    done = landlock_in_child(Path(__file__), "LANDLOCK and not reachable")
    assert done.returncode == 0, done.stdout[-4000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout.splitlines()[-1], done.stdout[-2000:]


def test_venv_python_imports_numpy(mode: str, workdir: Path) -> None:
    result = python("import numpy; print(numpy.arange(4).sum())", SandboxPolicy(workdir=workdir))
    assert (result.returncode, result.stdout.strip()) == (0, "6"), result.stderr
    assert result.isolation == mode


def test_environment_is_clean(mode: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_SECRET_TOKEN", "s3cret")
    policy = SandboxPolicy(workdir=workdir, env={"MPLCONFIGDIR": str(workdir / ".mpl")})
    code = "import os; print(os.getcwd()); print(sorted(os.environ)); print(os.environ['HOME'])"
    cwd, names, home = python(code, policy).stdout.splitlines()
    assert cwd == home == str(workdir.resolve())
    assert "GRADER_SECRET_TOKEN" not in names and "MPLCONFIGDIR" in names


def test_no_network(contained: Isolation, workdir: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        code = (
            "import socket\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=2).close()\n"
            "    print('connected')\n"
            "except OSError as exc:\n"
            "    print('refused', exc)\n"
        )
        blocked = python(code, SandboxPolicy(workdir=workdir))
        allowed = python(code, SandboxPolicy(workdir=workdir, network=True))
    assert blocked.stdout.startswith("refused"), blocked.stdout + blocked.stderr
    assert allowed.stdout.startswith("connected"), allowed.stdout + allowed.stderr


def test_no_udp_reaches_the_host(contained: Isolation, workdir: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(1)
        code = (
            "import socket, sys\n"
            "try:\n"
            "    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'key', ('127.0.0.1', int(sys.argv[1])))\n"
            "    print('sent')\n"
            "except OSError as exc:\n"
            "    print('refused', exc.errno)\n"
        )
        result = run_sandboxed([PY, "-c", code, str(server.getsockname()[1])], SandboxPolicy(workdir=workdir),
                               timeout=30)
        with pytest.raises(TimeoutError):
            server.recvfrom(16)
    expected = "sent" if contained is Isolation.BUBBLEWRAP else "refused 13"  # its own loopback / no socket
    assert result.stdout.strip() == expected, result.stderr


def test_hidden_paths_cannot_be_read(contained: Isolation, world: Path, workdir: Path) -> None:
    course = world / "course"
    (course / "answers").mkdir(parents=True)
    (course / "answers" / "key.ipynb").write_text("the answer is 42")
    (course / "reference.ipynb").write_text("reference solution")
    (course / "public.txt").write_text("visible")
    policy = SandboxPolicy(workdir=workdir, readonly=(course,), hidden=(course / "answers", course / "reference.ipynb"))
    code = (
        "import os, sys\n"
        "course = sys.argv[1]\n"
        "print(open(os.path.join(course, 'public.txt')).read())\n"
        "print(os.listdir(os.path.join(course, 'answers')))\n"
        "for name in ('answers/key.ipynb', 'reference.ipynb'):\n"
        "    try:\n"
        "        print(repr(open(os.path.join(course, name)).read()))\n"
        "    except OSError as exc:\n"
        "        print(type(exc).__name__)\n"
    )
    result = run_sandboxed([PY, "-c", code, str(course)], policy, timeout=30)
    public, listing, key, reference = result.stdout.splitlines()
    assert public == "visible", result.stderr
    assert listing == ("[]" if contained is Isolation.BUBBLEWRAP else "['key.ipynb']")  # Landlock shows names only
    assert key in ("FileNotFoundError", "PermissionError")
    assert reference in ("PermissionError", "''")


def test_paths_inside_a_hidden_folder_can_be_bound_back(contained: Isolation, world: Path) -> None:
    output = world / "output"
    (output / "data").mkdir(parents=True)
    (output / "data" / "mnist.txt").write_text("digits")
    (output / "report.json").write_text("{}")
    scratch = output / "scratch" / "alice"
    scratch.mkdir(parents=True)
    policy = SandboxPolicy(workdir=scratch, readonly=(output / "data",), hidden=(output,))
    code = (
        "import os\n"
        "open('notes.txt', 'w').write('ok')\n"
        "print(open('../../data/mnist.txt').read())\n"
        "try:\n"
        "    print(open('../../report.json').read())\n"
        "except OSError as exc:\n"
        "    print(type(exc).__name__)\n"
    )
    result = python(code, policy)
    digits, report = result.stdout.split()
    assert digits == "digits", result.stderr
    assert report in ("FileNotFoundError", "PermissionError")
    assert (scratch / "notes.txt").read_text() == "ok"


def test_writes_stay_in_workdir(contained: Isolation, world: Path, workdir: Path) -> None:
    course = world / "course"
    course.mkdir()
    name = f"cnn-grader-sandbox-test-{secrets.token_hex(4)}"
    targets = [course / name, REPO / name, Path.home() / name, Path("/tmp") / name, workdir / name]
    code = (
        "import sys\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        open(path, 'w').write('x')\n"
        "        print('wrote')\n"
        "    except OSError:\n"
        "        print('denied')\n"
    )
    try:
        policy = SandboxPolicy(workdir=workdir, readonly=(course,))
        result = run_sandboxed([PY, "-c", code, *map(str, targets)], policy, timeout=30)
        outcomes = result.stdout.splitlines()
        leaked = [str(path) for path in targets[:-1] if path.exists()]
    finally:
        for path in targets[:-1]:
            path.unlink(missing_ok=True)
    private_tmp = "wrote" if contained is Isolation.BUBBLEWRAP else "denied"  # Landlock: no /tmp at all
    assert outcomes[:3] == ["denied"] * 3, result.stderr
    assert outcomes[3:] == [private_tmp, "wrote"]
    assert leaked == [], "a write reached the host's /tmp"
    assert (workdir / name).read_text() == "x"


def test_sandboxed_process_has_no_privileges(contained: Isolation, workdir: Path) -> None:
    code = (
        "import os\n"
        "caps = [l.split()[1] for l in open('/proc/self/status') if l.startswith('CapEff')]\n"
        "print(os.getuid(), caps[0])\n"
        "try:\n"
        "    os.setuid(0)\n"
        "    print('became root')\n"
        "except OSError:\n"
        "    print('denied')\n"
    )
    uid, caps, setuid = python(code, SandboxPolicy(workdir=workdir)).stdout.split()
    assert int(caps, 16) == 0
    assert setuid == "denied"
    assert uid != "0" or os.getuid() != 0


def test_memory_limit(mode: str, workdir: Path) -> None:
    policy = SandboxPolicy(workdir=workdir, limits=Limits(memory_mb=256))
    result = python("block = bytearray(1024**3); print('allocated')", policy)
    assert result.returncode != 0
    assert "allocated" not in result.stdout
    assert "MemoryError" in result.stderr


def test_fork_bomb_is_capped(mode: str, workdir: Path, marker: str) -> None:
    if mode is Isolation.RLIMITS and os.geteuid() == 0 and drop_blocked():
        pytest.skip("the kernel does not apply RLIMIT_NPROC to root, and here the sandbox cannot drop root")
    code = (
        "import subprocess\n"
        "children = []\n"
        "try:\n"
        "    for _ in range(1000):\n"
        f"        children.append(subprocess.Popen(['sleep', '{marker}']))\n"
        "    print('spawned', len(children))\n"
        "except OSError as exc:\n"
        "    print('stopped', len(children), exc.errno)\n"
    )
    result = python(code, SandboxPolicy(workdir=workdir, limits=Limits(max_processes=64)))
    verdict, count, *_ = result.stdout.split()
    assert verdict == "stopped", result.stdout
    assert 0 < int(count) < 64
    assert survivors(marker) == []


def test_file_size_limit(mode: str, workdir: Path) -> None:
    policy = SandboxPolicy(workdir=workdir, limits=Limits(max_file_mb=1))
    code = "f = open('big.bin', 'wb')\nfor _ in range(20):\n    f.write(b'x' * 1024**2)\n    f.flush()\n"
    result = python(code, policy)
    assert result.returncode != 0
    assert "File too large" in result.stderr
    assert (workdir / "big.bin").stat().st_size <= 1024**2


def test_timeout_kills_the_whole_tree(mode: str, workdir: Path, marker: str) -> None:
    code = (
        "import subprocess, time\n"
        f"subprocess.Popen(['sleep', '{marker}'])\n"
        f"subprocess.Popen(['sleep', '{marker}'], start_new_session=True)\n"
        "print('started', flush=True)\n"
        "time.sleep(1000)\n"
    )
    start = time.monotonic()
    result = python(code, SandboxPolicy(workdir=workdir), timeout=1.5, kill_grace=0.5)
    elapsed = time.monotonic() - start
    assert result.timed_out and result.stdout.strip() == "started"
    assert result.returncode != 0
    assert elapsed < 5
    assert survivors(marker) == []


def test_leftover_background_processes_are_killed(mode: str, workdir: Path, marker: str) -> None:
    code = f"import subprocess\nsubprocess.Popen(['sleep', '{marker}'])\nprint('done')\n"
    result = python(code, SandboxPolicy(workdir=workdir), timeout=20, kill_grace=0.5)
    assert (result.returncode, result.timed_out, result.stdout.strip()) == (0, False, "done")
    assert survivors(marker) == []


def test_output_is_capped(mode: str, workdir: Path) -> None:
    limit = 1024**2
    code = "import sys\nchunk = b'y' * 1024**2\nfor _ in range(200):\n    sys.stdout.buffer.write(chunk)\n"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = python(code, SandboxPolicy(workdir=workdir), stdout_limit=limit)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert result.returncode == 0 and result.truncated
    assert result.stdout.startswith("y" * limit)
    assert len(result.stdout) < limit + 200
    assert "output truncated: 208666624 more bytes" in result.stdout
    assert grown_kib < 64 * 1024


def test_the_grader_own_files_are_found_from_the_install() -> None:
    import grader
    from grader.sandbox.view import grader_owned, python_paths

    owned = grader_owned()
    assert Path(grader.__file__).resolve().parent in owned
    assert any(path.name.startswith("cnn_grader-") and path.name.endswith(".dist-info") for path in owned)
    assert not owned & python_paths()
    if (REPO / "pyproject.toml").is_file() and Path(grader.__file__).resolve().is_relative_to(REPO):
        assert REPO in owned  # an editable install: its checkout, from direct_url.json


def test_bubblewrap_shows_only_what_the_command_needs(bubblewrap: Isolation, workdir: Path) -> None:
    code = "import os, sys; print(sorted(os.listdir('/'))); print(os.path.exists(sys.argv[1]))"
    result = run_sandboxed([PY, "-c", code, str(REPO / "exercises")], SandboxPolicy(workdir=workdir), timeout=30)
    top, exercises = result.stdout.splitlines()
    system = {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "sys", "dev", "proc", "tmp", "var"}
    needed = {Path(path).resolve().parts[1] for path in (sys.prefix, sys.base_prefix, workdir)}
    assert set(ast.literal_eval(top)) <= system | needed, top
    assert exercises == "False"


def test_stopping_one_owner_s_sandboxes_leaves_the_others_running(workdir: Path) -> None:
    """On a shared worker, stopping a cancelled batch kills its sandboxes only."""
    import threading

    results: dict[str, SandboxResult] = {}

    def run(owner: str, seconds: float) -> None:
        with owned_by(owner):
            code = f"import time; time.sleep({seconds}); print('done')"
            results[owner] = python(code, SandboxPolicy(workdir=workdir), timeout=60)

    threads = [threading.Thread(target=run, args=("cancelled", 30)), threading.Thread(target=run, args=("other", 3))]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    started = time.monotonic()
    stop_all("cancelled")
    threads[0].join(timeout=20)
    assert time.monotonic() - started < 10 and results["cancelled"].stdout == ""
    threads[1].join(timeout=30)
    assert results["other"].stdout.strip() == "done" and results["other"].returncode == 0

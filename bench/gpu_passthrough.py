"""GPU pass-through on a real GPU machine: what a sandboxed process given one GPU (or none) can do with CUDA.

For each isolation tier that runs here and each GPU (at most ``--gpus`` of them), a sandbox is given that GPU
as grading gives it to a notebook (its device nodes and ``CUDA_VISIBLE_DEVICES``), and a probe inside reports
the device nodes it can open (of those under the device root it can list), whether PyTorch sees CUDA, how many
GPUs and which, and a matrix product on the device checked against the CPU's. A sandbox given no GPU must see
none. Needs PyTorch with CUDA in the Python that runs this (TensorFlow is not needed).

Usage: python bench/gpu_passthrough.py [--gpus N] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from grader.model_exercise import discover
from grader.model_exercise.device import kernel_environment
from grader.model_exercise.gpus import device_root
from grader.sandbox import ISOLATION_ENV, SandboxPolicy, available, run_sandboxed

PROBE = """\
import errno, glob, json, os, sys
report = {"cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"), "nodes": {}}
root = sys.argv[1]
for path in sorted(glob.glob(f"{root}/nvidia*") + glob.glob(f"{root}/nvidia-caps/*")):
    try:
        os.close(os.open(path, os.O_RDWR))
        report["nodes"][path] = "opened"
    except OSError as error:
        report["nodes"][path] = errno.errorcode.get(error.errno, str(error.errno))
try:
    import torch
    report["cuda"] = torch.cuda.is_available()
    if report["cuda"]:
        report["count"] = torch.cuda.device_count()
        report["names"] = [torch.cuda.get_device_name(index) for index in range(report["count"])]
        a = torch.randn(512, 512, generator=torch.Generator().manual_seed(0))
        on_gpu = (a.cuda() @ a.cuda()).cpu()
        report["matmul_max_error"] = float((on_gpu - a @ a).abs().max())
except Exception as error:
    report["error"] = f"{type(error).__name__}: {error}"
print(json.dumps(report))
"""


def probe(gpus: tuple, workdir: Path) -> dict:
    inventory = discover()
    policy = SandboxPolicy(workdir=workdir, devices=inventory.nodes(gpus), env=kernel_environment("gpu", gpus))
    command = [sys.executable, "-c", PROBE, str(device_root())]
    result = run_sandboxed(command, policy, timeout=300)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    report = json.loads(lines[-1]) if lines else {"error": result.stderr[-2000:]}
    return {"isolation": str(result.isolation), "given": [gpu.index for gpu in gpus], **report}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus", type=int, default=2, help="GPUs to try, each in a sandbox of its own")
    parser.add_argument("--out", type=Path, help="also write the reports to this JSON file")
    arguments = parser.parse_args()
    inventory = discover()
    print(f"GPUs found: {[(gpu.index, str(gpu.node), gpu.uuid) for gpu in inventory.gpus]}")
    print(f"shared nodes: {[str(path) for path in inventory.shared]}")
    reports = []
    for tier in available():
        os.environ[ISOLATION_ENV] = tier.value
        for given in [*((gpu,) for gpu in inventory.gpus[: arguments.gpus]), ()]:
            with tempfile.TemporaryDirectory(prefix="cnn-grader-gpu-probe-") as folder:
                Path(folder).chmod(0o755)
                reports.append(probe(given, Path(folder)))
            print(json.dumps(reports[-1]))
    if arguments.out:
        arguments.out.write_text(json.dumps(reports, indent=2))


if __name__ == "__main__":
    main()

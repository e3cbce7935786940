"""Training throughput of one process against N processes (torchrun + DDP) on the same pipeline.

Runs ``mif run PIPELINE --events jsonl`` once in one process and once with ``--nproc N``, reads the
``EpochEnded`` events and reports the last epoch's time (the first one includes start-up costs) and
training samples per second, in total and per process (per GPU on CUDA). Per-process throughput equal
to one process's means perfect scaling.

Usage (repository root):
  python bench/ddp_throughput.py                       # CUDA: every visible GPU, the 3D example
  python bench/ddp_throughput.py --device cpu --nproc 2 --set phantoms.count=40 --set phantoms.size=64
    --pipeline segmentation_train.json                  # CPU (gloo), e.g. on a laptop

On a CPU, run it as ``OMP_NUM_THREADS=1 python bench/ddp_throughput.py ...`` for a fair comparison:
torchrun gives each process one thread, while one process alone would use every core.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "medical_imaging_framework" / "resources" / "pipelines"
# what gpu_check's DDP step trains: the 3D example on GPUs; a small 2D run for --cpu
PIPELINES = {
    "cuda": (BUNDLED / "segmentation_train_3d.json", []),
    "cpu": (BUNDLED / "segmentation_train.json", ["phantoms.count=40", "phantoms.size=64"]),
}


def training_samples(pipeline: Path, overrides: list[str]) -> int:
    """Items in the training split: the phantom count less the validation fraction (as TrainValSplit does)."""
    data = json.loads(pipeline.read_text())
    params = {node["id"]: dict(node.get("params", {})) for node in data["nodes"]}
    for override in overrides:
        target, _, value = override.partition("=")
        node_id, _, name = target.partition(".")
        if node_id in params:
            params[node_id][name] = value
    count = int(params["phantoms"]["count"])
    return count - round(count * float(params["split"]["val_fraction"]))


def run(pipeline: Path, nproc: int, device: str, epochs: int, overrides: list[str], folder: Path) -> dict[str, Any]:
    """One ``mif run``; returns its epoch times (seconds) and exit code."""
    command = [sys.executable, "-m", "medical_imaging_framework", "run", str(pipeline), "--events", "jsonl",
               "--nproc", str(nproc), "--set", f"trainer.num_epochs={epochs}", "--set", f"trainer.device={device}",
               "--set", f"trainer.checkpoint_dir={folder / f'ck_{nproc}'}"]
    for override in overrides:
        command += ["--set", override]
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=1800)
    seconds = [record["seconds"] for record in map(json.loads, done.stdout.splitlines())
               if record.get("type") == "EpochEnded"]
    return {"code": done.returncode, "seconds": seconds, "stderr": done.stderr}


def measure(pipeline: Path, nproc: int, device: str, epochs: int = 2, overrides: list[str] | None = None) -> dict:
    """Run one process and ``nproc`` processes; returns a dict of the figures (``ok`` False on a failure)."""
    overrides = overrides or []
    samples = training_samples(pipeline, overrides)
    with tempfile.TemporaryDirectory() as folder:
        single = run(pipeline, 1, device, epochs, overrides, Path(folder))
        multi = run(pipeline, nproc, device, epochs, overrides, Path(folder))
    result: dict[str, Any] = {"ok": True, "nproc": nproc, "samples": samples}
    for name, outcome in (("one", single), ("many", multi)):
        if outcome["code"] != 0 or not outcome["seconds"]:
            return {"ok": False, "detail": f"{name} process run failed:\n{outcome['stderr'][-2000:]}"}
        result[f"{name}_epoch_s"] = outcome["seconds"][-1]
    result["one_rate"] = samples / result["one_epoch_s"]
    result["many_rate"] = samples / result["many_epoch_s"]
    result["per_process_rate"] = result["many_rate"] / nproc
    result["speedup"] = result["one_epoch_s"] / result["many_epoch_s"]
    return result


def describe(figures: dict[str, Any], unit: str) -> str:
    """One line of the figures."""
    return (f"1 process: {figures['one_epoch_s']:.2f} s/epoch, {figures['one_rate']:.1f} samples/s; "
            f"{figures['nproc']} processes: {figures['many_epoch_s']:.2f} s/epoch, {figures['many_rate']:.1f} "
            f"samples/s = {figures['per_process_rate']:.1f} per {unit} "
            f"({figures['per_process_rate'] / figures['one_rate']:.0%} of one process; speed-up "
            f"{figures['speedup']:.2f}x; {figures['samples']} training samples, last epoch, train+validation)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", default="segmentation_train_3d.json")
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--nproc", type=int, default=0, help="processes (default: every visible GPU)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    import torch

    nproc = args.nproc or (torch.cuda.device_count() if args.device == "cuda" else 2)
    if args.device == "cuda" and nproc < 2:
        print(f"SKIP: DDP needs 2 or more GPUs; torch sees {torch.cuda.device_count()}")
        return 0
    pipeline = Path(args.pipeline)
    if not pipeline.exists():
        pipeline = BUNDLED / pipeline.name
    figures = measure(pipeline, nproc, args.device, args.epochs, args.overrides)
    if not figures["ok"]:
        print(f"FAIL: {figures['detail']}")
        return 1
    print(describe(figures, "GPU" if args.device == "cuda" else "process"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

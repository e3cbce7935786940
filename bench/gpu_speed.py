"""The GPU part of the speed work, called by ``bench/gpu_check.py`` (which skips without CUDA).

`speed_checks`: async checkpoints on CUDA (the documented files; every file loads on a CPU; a resumed run
ends bit-identical to an uninterrupted one when the device is deterministic) and bf16-mixed / fp16-mixed
runs (fp16 checkpoints hold the GradScaler state). `run_gpu_benchmarks`: train_overhead on the 3D UNet in
fp32 and bf16, and the checkpoint bench's size sweep with pinned-memory async saves.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

Check = Callable[..., None]
Train = Callable[..., tuple[Any, list[str]]]


def folder_files(checkpoints: list[str]) -> list[str]:
    """What a Trainer's checkpoint folder holds after a run: ``checkpoints`` and the run's ``metrics.csv``, sorted.

    Args:
        checkpoints: the checkpoint file names the run should have written.
    """
    return sorted([*checkpoints, "metrics.csv"])


def _weights_equal(first: Path, second: Path) -> float:
    a = torch.load(first, map_location="cpu")["model_state_dict"]
    b = torch.load(second, map_location="cpu")["model_state_dict"]
    return max((a[key].double() - b[key].double()).abs().max().item() for key in a)


def speed_checks(train: Train, root: Path, device: str, check: Check) -> None:
    """Async checkpoints and precision on ``device``.

    Args:
        train: ``train(folder, **trainer_options) -> (result, log lines)`` for the tiny pipeline.
        root: a temp folder.
        device: ``cuda`` (or ``cpu`` for a dry run).
        check: ``check(name, ok, detail="", level="FAIL")`` records a result.
    """
    options = {"save_every_n_epochs": 2, "async_checkpoint": "on"}
    full, _ = train(root / "async_full", num_epochs=4, **options)
    check("async checkpoint run", full.status == "done", full.error)
    if full.status != "done":
        return
    names = sorted(os.listdir(root / "async_full"))
    expected = ["best_model.pt", "checkpoint_epoch_2.pt", "checkpoint_epoch_4.pt", "final_model.pt"]
    check("async: file set", names == folder_files(expected), str(names))
    loads = all(all(t.device.type == "cpu" for t in torch.load(root / "async_full" / name,
                                                             map_location="cpu")["model_state_dict"].values())
                for name in expected)
    check("async: every file loads on the CPU (weights_only)", loads)
    control, _ = train(root / "async_control", num_epochs=4, **options)
    part, _ = train(root / "async_part", num_epochs=2, **options)
    resumed, _ = train(root / "async_part", num_epochs=4, resume_from="last", **options)
    if all(r.status == "done" for r in (control, part, resumed)):
        noise = _weights_equal(root / "async_full" / "final_model.pt", root / "async_control" / "final_model.pt")
        diff = _weights_equal(root / "async_full" / "final_model.pt", root / "async_part" / "final_model.pt")
        if noise == 0.0:
            check("async: resume bit-identical", diff == 0.0, f"max abs diff {diff:.3g}")
        else:
            check("async: resume (device not deterministic)", False, f"control {noise:.3g}, resumed {diff:.3g}",
                  level="INFO")
    for precision in ("bf16-mixed", "fp16-mixed") if device == "cuda" else ("bf16-mixed",):  # fp16: CUDA only
        result, lines = train(root / precision, num_epochs=2, save_every_n_epochs=2, precision=precision)
        fell_back = any("training in full precision" in line for line in lines)
        check(f"{precision} run", result.status == "done" and not fell_back, result.error or
              ("fell back to full precision" if fell_back else ""))
        if result.status == "done" and precision == "fp16-mixed":
            final = torch.load(root / precision / "final_model.pt", map_location="cpu")
            check("fp16-mixed: scaler_state_dict saved", "scale" in final.get("scaler_state_dict", {}))


def run_gpu_benchmarks(root: Path) -> None:
    """Print the GPU figures of train_overhead (3D UNet fp32/bf16) and the checkpoint bench (pinned async)."""
    commands = [
        [sys.executable, str(root / "bench" / "train_overhead.py"), "--device", "cuda", "--dims", "3", "--rounds", "3"],
        [sys.executable, str(root / "bench" / "checkpoint_bench.py"), "--device", "cuda", "--repeats", "3"],
    ]
    for command in commands:
        print(f"\n$ {' '.join(Path(part).name if part.endswith('.py') else part for part in command[1:])}",
              flush=True)
        subprocess.run(command, check=False, timeout=600)

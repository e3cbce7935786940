"""GPU check of the Trainer's checkpoints (about a minute on one NVIDIA GPU; skips cleanly without CUDA).

Trains the tiny segmentation pipeline on CUDA and checks that:
  1. a mixed-precision run writes the documented files, with ``scaler_state_dict`` and the CUDA RNG state;
  2. every file loads with plain ``torch.load(path, map_location="cpu")`` (weights_only) and through
     ``load_checkpoint(path, model=cpu_model, map_location="cpu")`` into a CPU model;
  3. a full-precision run resumed from epoch 3 of 6 ends bit-identical to an uninterrupted run
     (deterministic algorithms on); otherwise the max abs difference is reported;
  4. the same for a mixed-precision resume (reported, not required to be bit-identical);
  5. the speed work (bench/gpu_speed.py): async checkpoints on CUDA (files, CPU loading, bit-identical
     resume), bf16-mixed and fp16-mixed runs, then the GPU benchmarks (train_overhead --device cuda --dims 3,
     checkpoint_bench --device cuda); ``--no-bench`` leaves the benchmarks out.
  6. DDP (nccl, every visible GPU, ``--nproc`` = GPU count): the 3D example trains 2 epochs in one process
     and under torchrun; samples/s per GPU against one process (`ddp_throughput.py`; skipped with < 2 GPUs).

Usage (repository root):  python bench/gpu_check.py        (``--cpu`` runs the same checks on the CPU)
Without an installed package (no entry points), put the repository on PYTHONPATH; nodes are registered by hand.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # needed by deterministic cuBLAS; before CUDA starts

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from medical_imaging_framework.checkpoints.files import load_checkpoint  # noqa: E402
from medical_imaging_framework.checkpoints.inspect import describe_checkpoint  # noqa: E402
from medical_imaging_framework.core import NodeRegistry, load_pipeline  # noqa: E402
from medical_imaging_framework.nodes import register  # noqa: E402
from medical_imaging_framework.run.events import format_event  # noqa: E402
from medical_imaging_framework.run.executor import Executor  # noqa: E402

PIPELINE = ROOT / "medical_imaging_framework" / "resources" / "pipelines" / "segmentation_train.json"
TINY = {
    "phantoms": {"count": 16, "size": 32},
    "train_loader": {"batch_size": 4},
    "val_loader": {"batch_size": 4},
    "unet": {"channels": [8, 16, 32], "strides": [2, 2], "num_res_units": 1},
}
RESULTS: list[tuple[str, str, str]] = []


def check(name: str, ok: bool, detail: str = "", level: str = "FAIL") -> None:
    """Record and print one result (``level`` is what a false ``ok`` counts as: FAIL or INFO)."""
    status = "PASS" if ok else level
    RESULTS.append((status, name, detail))
    print(f"[{status}] {name}" + (f": {detail}" if detail else ""), flush=True)


def train(registry: NodeRegistry, folder: Path, device: str, **trainer: Any) -> tuple[Any, list[str]]:
    """Run the tiny pipeline; returns the run result and its log lines."""
    graph = load_pipeline(PIPELINE, registry)
    for node_id, settings in TINY.items():
        graph.nodes[node_id].config.update(settings)
    graph.nodes["trainer"].config.update({"device": device, "checkpoint_dir": str(folder), **trainer})
    lines: list[str] = []
    result = Executor(graph, lambda event: lines.append(format_event(event) or "")).run()
    if result.status != "done":
        print("\n".join(lines), flush=True)
    return result, lines


def max_diff(first: Path, second: Path) -> float:
    """Largest absolute difference between two checkpoints' model weights."""
    a = torch.load(first, map_location="cpu")["model_state_dict"]
    b = torch.load(second, map_location="cpu")["model_state_dict"]
    return max((a[key].double() - b[key].double()).abs().max().item() for key in a)


def resume_check(registry: NodeRegistry, root: Path, device: str, amp: bool) -> None:
    """Two uninterrupted 6-epoch runs (a determinism control) vs 3 epochs + resume to 6.

    When the two uninterrupted runs agree bit for bit, the resumed run must too (else FAIL: a resume bug);
    when they differ, the device is not deterministic here and the differences are reported (INFO).
    """
    tag = "mixed precision" if amp else "full precision"
    options = {"save_every_n_epochs": 3, "mixed_precision": amp}
    runs = [train(registry, root / f"{name}_{amp}", device, num_epochs=epochs, **options)[0]
            for name, epochs in (("full", 6), ("control", 6), ("part", 3))]
    resumed, lines = train(registry, root / f"part_{amp}", device, num_epochs=6, resume_from="last", **options)
    if any(result.status != "done" for result in [*runs, resumed]):
        check(f"resume ({tag})", False, "runs ended " + "/".join(r.status for r in [*runs, resumed]))
        return
    check(f"resume ({tag}) starts at epoch 4", any("continuing at epoch 4 of 6" in line for line in lines))
    full = root / f"full_{amp}" / "final_model.pt"
    control = max_diff(full, root / f"control_{amp}" / "final_model.pt")
    diff = max_diff(full, root / f"part_{amp}" / "final_model.pt")
    losses_same = (torch.load(full)["epoch_losses"]
                   == torch.load(root / f"part_{amp}" / "final_model.pt")["epoch_losses"])
    if control == 0.0:
        check(f"resume ({tag}) bit-identical weights", diff == 0.0, f"max abs diff {diff:.3g}")
        check(f"resume ({tag}) identical epoch losses", losses_same)
    else:
        check(f"resume ({tag}) deterministic on this device", False,
              f"two uninterrupted runs differ by {control:.3g}; resumed vs uninterrupted max abs diff {diff:.3g}",
              level="INFO")


def run_checks(device: str) -> None:
    from bench.gpu_speed import folder_files

    registry = NodeRegistry(discover=False)
    register(registry)
    torch.use_deterministic_algorithms(True, warn_only=True)  # an op without a deterministic kernel only warns
    torch.backends.cudnn.benchmark = False
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        amp = device == "cuda"
        result, _ = train(registry, root / "amp", device, num_epochs=6, save_every_n_epochs=3, mixed_precision=amp)
        check("mixed-precision training run", result.status == "done", result.error)
        if result.status != "done":
            return
        names = sorted(os.listdir(root / "amp"))
        expected = ["best_model.pt", "checkpoint_epoch_3.pt", "checkpoint_epoch_6.pt", "final_model.pt"]
        check("file set", names == folder_files(expected), str(names))
        final = torch.load(root / "amp" / "final_model.pt", map_location="cpu")  # weights_only by default
        cuda_rng = final["rng_state"]["cuda"]
        count = torch.cuda.device_count() if device == "cuda" else 0
        check("CUDA RNG state saved", len(cuda_rng) == count and all(t.dtype == torch.uint8 for t in cuda_rng),
              f"{len(cuda_rng)} state(s) for {count} device(s)")
        if amp:
            check("scaler_state_dict saved", "scale" in final.get("scaler_state_dict", {}),
                  str(final.get("scaler_state_dict")))
        summary = describe_checkpoint(root / "amp" / "final_model.pt")
        wanted = ["Intact: yes"] + (["AMP scaler", f"cuda x{count}"] if amp else [])
        check("mif inspect summary", all(text in summary for text in wanted), summary.splitlines()[-1])
        cpu_model = result.outputs["trainer"]["model"].to("cpu")
        for parameter in cpu_model.parameters():
            parameter.data.zero_()
        for name in expected:
            checkpoint = load_checkpoint(root / "amp" / name, model=cpu_model, map_location="cpu")
            on_cpu = all(t.device.type == "cpu" for t in checkpoint["model_state_dict"].values())
            check(f"{name} loads on CPU (map_location='cpu')", on_cpu)
        saved = final["model_state_dict"]
        load_checkpoint(root / "amp" / "final_model.pt", model=cpu_model, map_location="cpu")
        same = all(torch.equal(value, saved[key]) for key, value in cpu_model.state_dict().items())
        check("CPU model holds the CUDA-trained weights", same)
        resume_check(registry, root, device, amp=False)
        if amp:
            resume_check(registry, root, device, amp=True)
        from bench.gpu_speed import speed_checks  # the speed issue's GPU part

        speed_checks(lambda folder, **options: train(registry, folder, device, **options), root, device, check)
    ddp_check(device)


def ddp_check(device: str) -> None:
    """Step 6: DDP over every visible GPU (2 gloo processes with ``--cpu``) against one process."""
    from ddp_throughput import PIPELINES, describe, measure

    nproc = torch.cuda.device_count() if device == "cuda" else 2
    if nproc < 2:
        check("DDP step", True, f"skipped: {nproc} GPU visible, DDP needs 2 or more", level="INFO")
        return
    pipeline, overrides = PIPELINES[device]
    figures = measure(pipeline, nproc, device, epochs=2, overrides=overrides)
    if not figures["ok"]:
        check(f"DDP training on {nproc} {device} processes", False, figures["detail"])
        return
    unit = "GPU" if device == "cuda" else "process"
    check(f"DDP training on {nproc} {device} processes", True, describe(figures, unit))


def main() -> int:
    parser = argparse.ArgumentParser(description="GPU check of checkpoints (PASS/FAIL summary).")
    parser.add_argument("--cpu", action="store_true", help="run the same checks on the CPU (no CUDA needed)")
    parser.add_argument("--no-bench", action="store_true", help="leave out the GPU benchmarks (about 3 minutes)")
    args = parser.parse_args()
    if not args.cpu and not torch.cuda.is_available():
        print(f"SKIP: torch {torch.__version__} sees no CUDA device; nothing to check here "
              "(use --cpu to run the same checks on the CPU).")
        return 0
    device = "cpu" if args.cpu else "cuda"
    name = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
    print(f"gpu_check on {name}, torch {torch.__version__}", flush=True)
    try:
        run_checks(device)
    except Exception:
        traceback.print_exc()
        check("no unexpected error", False, "see the traceback above")
    if device == "cuda" and not args.no_bench:
        from bench.gpu_speed import run_gpu_benchmarks

        run_gpu_benchmarks(ROOT)
    failed = [row for row in RESULTS if row[0] == "FAIL"]
    print(f"\nGPU CHECK: {'FAIL' if failed else 'PASS'} ({len(RESULTS) - len(failed)}/{len(RESULTS)} checks passed)")
    for status, label, detail in RESULTS:
        if status != "PASS":
            print(f"  {status} {label}: {detail}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

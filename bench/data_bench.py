"""Does 3D data keep up? No cache vs an in-memory cache vs an on-disk cache, with 0 and 2 loader workers.

Writes 3D NIfTI volumes with labels (96^3; 50, 100 and 200 cases) to a temp folder, then for each mode and
worker count, in a fresh process, runs the pipeline's data nodes (``io.ImageFolder`` -> ``transforms.Apply``
with NormalizeIntensity + RandomFlip -> ``data.DataLoader``, batch 2) and trains the 3D UNet example's model
(channels 16-128, 2 residual units, Dice loss, Adam) for 2 epochs. Prints the epoch times, the fraction of
step time the loop waits for data (the baseline is the model's own compute, measured in the same run),
peak RSS (the main process; workers' peak apart) and MB per case (the growth of peak RSS between the
smallest and the largest case count, so memory growth is visible).

Modes: ``none`` (files read and transformed every epoch), ``memory`` (MONAI CacheDataset: ``cache`` on),
``disk`` (MONAI PersistentDataset: ``cache`` on with ``cache_dir``). Targets: with a cache, data wait under
5% of step time; RSS of the disk cache flat as cases grow.

    python bench/data_bench.py                   full: 96^3, 50/100/200 cases (long: about an hour on 2 cores)
    python bench/data_bench.py --quick           48^3, 6 and 12 cases (for `make bench`)
    python bench/data_bench.py --cases 50 --size 96 --workers 0,2 --modes none,memory,disk
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_options import add_thread_option, apply_thread_option

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_cases(folder: Path, count: int, size: int) -> None:
    """``count`` NIfTI image/label pairs of ``size``^3 (ellipsoid phantoms over noise) in images/ and labels/."""
    import nibabel as nib
    import numpy as np

    from medical_imaging_framework.nodes.data.phantoms import make_phantom

    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "labels").mkdir(parents=True, exist_ok=True)
    for index in range(count):
        name = f"case{index:04d}.nii.gz"
        if (folder / "labels" / name).exists():
            continue
        image, mask = make_phantom(size, 3, 0.2, np.random.default_rng([0, index]))
        nib.save(nib.Nifti1Image(image.astype(np.float32), np.eye(4)), folder / "images" / name)
        nib.save(nib.Nifti1Image(mask.astype(np.uint8), np.eye(4)), folder / "labels" / name)


def pipeline(folder: Path, mode: str, workers: int, cache_dir: Path) -> dict[str, Any]:
    """The data part of a pipeline: ImageFolder -> Normalize -> RandomFlip -> Apply -> DataLoader."""
    nodes = [
        {"id": "images", "type": "io.ImageFolder",
         "params": {"images_dir": str(folder / "images"), "labels_dir": str(folder / "labels"), "cache": False}},
        {"id": "normalize", "type": "transforms.NormalizeIntensity", "params": {}},
        {"id": "flip", "type": "transforms.RandomFlip", "params": {"prob": 0.5, "spatial_axis": "all", "seed": 0}},
        {"id": "apply", "type": "transforms.Apply",
         "params": {"cache": mode != "none", "cache_dir": str(cache_dir) if mode == "disk" else ""}},
        {"id": "loader", "type": "data.DataLoader",
         "params": {"batch_size": 2, "shuffle": True, "num_workers": workers}},
    ]
    links = [{"from": "normalize.transform", "to": "flip.transform"},
             {"from": "flip.transform", "to": "apply.transform"},
             {"from": "images.dataset", "to": "apply.train"},
             {"from": "apply.train", "to": "loader.dataset"}]
    return {"format": "mif-pipeline", "version": 1, "name": "data_bench", "nodes": nodes, "links": links}


def peak_rss_mb() -> tuple[float, float]:
    """Peak resident memory (MB) of this process and of its largest finished child (loader workers)."""
    scale = 1024 if sys.platform != "darwin" else 1
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e6
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * scale / 1e6
    return own, children


def one_run(folder: Path, mode: str, workers: int, epochs: int) -> dict[str, Any]:
    """Build the data nodes, train the 3D UNet for ``epochs``; returns the figures (runs in a fresh process)."""
    import torch
    from monai.losses import DiceLoss
    from monai.networks.nets import UNet

    from medical_imaging_framework.core import NodeRegistry
    from medical_imaging_framework.core.pipeline_file import graph_from_dict
    from medical_imaging_framework.run.executor import Executor

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory(prefix="mif_disk_cache_") as cache_dir:
        graph = graph_from_dict(pipeline(folder, mode, workers, Path(cache_dir)), NodeRegistry())
        started = time.perf_counter()
        result = Executor(graph).run()
        if result.status != "done":
            raise SystemExit(f"data pipeline {result.status}: {result.error or result.problems}")
        setup = time.perf_counter() - started
        loader = result.outputs["loader"]["loader"]
        model = UNet(spatial_dims=3, in_channels=1, out_channels=1, channels=(16, 32, 64, 128), strides=(2, 2, 2),
                     num_res_units=2)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = DiceLoss(sigmoid=True)
        epoch_times, waits, steps = [], 0.0, 0.0
        for _ in range(epochs):
            epoch_started = time.perf_counter()
            iterator = iter(loader)
            while True:
                step_started = time.perf_counter()
                batch = next(iterator, None)
                waited = time.perf_counter() - step_started
                if batch is None:
                    break
                optimizer.zero_grad(set_to_none=True)
                loss_fn(model(batch["image"]), batch["label"]).backward()
                optimizer.step()
                waits += waited
                steps += time.perf_counter() - step_started
            epoch_times.append(time.perf_counter() - epoch_started)
        del iterator, loader, result
        gc.collect()  # persistent workers shut down and are reaped: their peak RSS is then counted
    own, children = peak_rss_mb()
    return {"setup": setup, "epochs": epoch_times, "wait_fraction": waits / steps, "rss": own, "workers_rss": children}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="50,100,200", help="case counts (comma-separated)")
    parser.add_argument("--size", type=int, default=96, help="edge length of the volumes")
    parser.add_argument("--modes", default="none,memory,disk")
    parser.add_argument("--workers", default="0,2")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--dir", default=None, help="where to write the volumes (default: a temp folder)")
    parser.add_argument("--quick", action="store_true", help="48^3, 6 and 12 cases")
    parser.add_argument("--one", nargs=3, metavar=("FOLDER", "MODE", "WORKERS"), help=argparse.SUPPRESS)
    add_thread_option(parser)
    args = parser.parse_args()
    apply_thread_option(args)
    if args.one:
        print(json.dumps(one_run(Path(args.one[0]), args.one[1], int(args.one[2]), args.epochs)))
        return
    cases = [6, 12] if args.quick else [int(value) for value in args.cases.split(",")]
    size = 48 if args.quick else args.size
    modes, workers = args.modes.split(","), [int(value) for value in args.workers.split(",")]
    print(f"data bench: {size}^3 NIfTI image+label, cases {cases}, batch 2, {args.epochs} epochs, modes {modes}, "
          f"workers {workers}; each row a fresh process", flush=True)
    print(f"{'mode':>6} {'wk':>2} {'cases':>5} {'setup s':>8} {'epoch1 s':>8} {'epoch2 s':>8} {'wait %':>7} "
          f"{'RSS MB':>7} {'wkr MB':>7}")
    rss: dict[tuple[str, int], dict[int, float]] = {}
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="mif_data_bench_") as temp:
        for count in cases:
            folder = Path(temp) / f"cases_{count}"
            write_cases(folder, count, size)
            for mode in modes:
                for worker_count in workers:
                    command = [sys.executable, __file__, "--one", str(folder), mode, str(worker_count),
                               "--epochs", str(args.epochs), "--threads", str(args.threads)]
                    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ}, check=False)
                    if done.returncode != 0:
                        print(f"{mode:>6} {worker_count:>2} {count:>5}  FAILED: {done.stderr.strip()[-400:]}")
                        continue
                    row = json.loads(done.stdout.strip().splitlines()[-1])
                    rss.setdefault((mode, worker_count), {})[count] = row["rss"]
                    epochs = row["epochs"] + [float("nan")] * (2 - len(row["epochs"]))
                    print(f"{mode:>6} {worker_count:>2} {count:>5} {row['setup']:8.2f} {epochs[0]:8.2f} "
                          f"{epochs[1]:8.2f} {row['wait_fraction'] * 100:6.1f}% {row['rss']:7.0f} "
                          f"{row['workers_rss']:7.0f}", flush=True)
    if len(cases) > 1:
        low, high = min(cases), max(cases)
        print(f"MB per case (peak RSS growth from {low} to {high} cases):")
        for (mode, worker_count), by_count in rss.items():
            if low in by_count and high in by_count:
                print(f"  {mode:>6}, {worker_count} workers: {(by_count[high] - by_count[low]) / (high - low):6.2f}")
    print("targets: with a cache, data wait < 5% of step time; disk-cache RSS flat as cases grow")


if __name__ == "__main__":
    main()

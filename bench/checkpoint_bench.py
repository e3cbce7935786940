"""How long training is blocked per checkpoint save, synchronous and asynchronous, against a bare
``torch.save`` + fsync, over a sweep of state sizes (about 5, 50 and 200 MB of model + Adam state).

Every side writes the same state (a 2D UNet sized to the target, Adam with its moments) to the same folder,
alternating bare / sync / async so that all three share the disk's conditions. The sync side is the whole
policy step the training loop waits for: building the state (RNG capture, state dicts), the free-space
check, temp file, flush + fsync, ``os.replace`` and the folder fsync. The async side is what the loop
waits for with ``async_checkpoint`` on: the copy into (reused; pinned on CUDA) CPU buffers and the hand-off
to the writer's thread; the write itself then runs in the background, and the bench lets it finish, untimed,
before the next save (an epoch longer than a write). Its background write time is printed too.

Targets: sync <= 1.2x bare; async <= 0.25x sync, at every size.

Usage: python bench/checkpoint_bench.py [--sizes 5,50,200] [--repeats N] [--dir FOLDER] [--device cpu|cuda]
       python bench/checkpoint_bench.py --quick      (5 and 50 MB, 5 repeats: for `make bench`)
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from bench_options import add_thread_option, apply_thread_option, cuda_missing
from monai.networks.nets import UNet

from medical_imaging_framework.checkpoints.background import BackgroundWriter
from medical_imaging_framework.checkpoints.policy import CheckpointPolicy
from medical_imaging_framework.checkpoints.state import build_checkpoint
from medical_imaging_framework.training.loop import EpochResult, TrainingState


def unet(width: int) -> UNet:
    channels = (width, 2 * width, 4 * width, 8 * width)
    return UNet(spatial_dims=2, in_channels=1, out_channels=1, channels=channels, strides=(2, 2, 2),
                num_res_units=2)


def width_for(megabytes: float) -> int:
    """The UNet base width whose model + Adam state (3 float32 copies) is about ``megabytes``."""
    reference = sum(p.numel() for p in unet(16).parameters()) * 4 * 3 / 1e6
    return max(4, round(16 * math.sqrt(megabytes / reference) / 4) * 4)


def make_state(width: int, device: torch.device) -> TrainingState:
    """A UNet and Adam after one step, so the optimizer holds its moment tensors."""
    torch.manual_seed(0)
    model = unet(width).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(2, 1, 32, 32, device=device)).mean().backward()
    optimizer.step()
    return TrainingState(model=model, optimizer=optimizer, epoch=0)


def bare_save(state: TrainingState, path: Path) -> float:
    """Seconds for the plain-PyTorch baseline: torch.save of the same dict, flush, fsync."""
    checkpoint = build_checkpoint(state, 0.5, None, {}, {})
    started = time.perf_counter()
    with open(path, "wb") as stream:
        torch.save(checkpoint, stream)
        stream.flush()
        os.fsync(stream.fileno())
    return time.perf_counter() - started


def policy_save(policy: CheckpointPolicy, state: TrainingState) -> float:
    """Seconds the training loop is blocked in the policy for one periodic save."""
    state.epoch += 1
    state.epoch_losses.append(0.5)
    state.best_loss = float("-inf")  # periodic save only, no best save
    result = EpochResult(state.epoch, 10_000, 0.5, None, 0.0)
    started = time.perf_counter()
    policy.on_epoch_end(state, result)
    return time.perf_counter() - started


def measure(megabytes: float, repeats: int, root: Path, device: torch.device) -> dict[str, float]:
    """Median blocked seconds of bare / sync / async saves of a state of about ``megabytes``."""
    state = make_state(width_for(megabytes), device)
    events: list[object] = []
    sync = CheckpointPolicy(directory=str(root / "sync"), every=1, emit=events.append, keep_last_n=2)
    background = CheckpointPolicy(directory=str(root / "async"), every=1, emit=events.append, keep_last_n=2,
                                  writer=BackgroundWriter(pin_memory=device.type == "cuda"))
    sync.on_train_start(state)
    background.on_train_start(state)
    times: dict[str, list[float]] = {"bare": [], "sync": [], "async": [], "write": []}
    for index in range(repeats + 1):  # one warm-up round, alternating so all share the disk's conditions
        bare = bare_save(state, root / f"bare_{index}.pt")  # a new file, as the atomic writer's temp file is
        (root / f"bare_{index - 2}.pt").unlink(missing_ok=True)  # keep two, like keep_last_n=2 (untimed)
        synchronous = policy_save(sync, state)
        # keep_last_n unlinks the oldest file in the background: in a run that overlaps the next epoch's
        # training; here it must not overlap (and slow) the next measured save, so it is waited for, untimed
        sync.wait_for_deletes()
        blocked = policy_save(background, state)
        started = time.perf_counter()
        background.flush()  # untimed for training: the write runs while the next epoch trains
        written = time.perf_counter() - started + blocked
        background.wait_for_deletes()
        if index >= 1:
            for key, value in zip(times, (bare, synchronous, blocked, written), strict=True):
                times[key].append(value)
    failed = [event for event in events if type(event).__name__ == "CheckpointFailed"]
    if failed:
        raise SystemExit(f"checkpoint saves failed: {failed}")
    size = (root / f"bare_{repeats}.pt").stat().st_size
    return {"size": size, **{key: statistics.median(values) for key, values in times.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=None, help="folder on the disk to test (default: a temp folder)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--sizes", default="5,50,200", help="state sizes in MB (model + Adam moments)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--quick", action="store_true", help="5 and 50 MB, 5 repeats")
    add_thread_option(parser)
    args = parser.parse_args()
    apply_thread_option(args)
    if cuda_missing(args.device):
        return
    sizes = [5.0, 50.0] if args.quick else [float(value) for value in args.sizes.split(",")]
    repeats = 5 if args.quick else args.repeats
    device = torch.device(args.device)
    print(f"checkpoint bench on {device.type}, {repeats} saves per side and size (medians, ms)")
    print(f"{'state':>9} {'bare':>9} {'sync':>9} {'async':>9} {'bg write':>9}  sync/bare  async/sync")
    worst_sync, worst_async = 0.0, 0.0
    for megabytes in sizes:
        with tempfile.TemporaryDirectory(dir=args.dir) as folder:
            row = measure(megabytes, repeats, Path(folder), device)
        sync_ratio, async_ratio = row["sync"] / row["bare"], row["async"] / row["sync"]
        worst_sync, worst_async = max(worst_sync, sync_ratio), max(worst_async, async_ratio)
        print(f"{row['size'] / 1e6:7.1f}MB {row['bare'] * 1e3:9.1f} {row['sync'] * 1e3:9.1f} "
              f"{row['async'] * 1e3:9.1f} {row['write'] * 1e3:9.1f}  {sync_ratio:9.2f}  {async_ratio:10.3f}",
              flush=True)
    print(f"worst ratio sync/bare: {worst_sync:.2f} (target <= 1.2); "
          f"worst async/sync: {worst_async:.3f} (target <= 0.25)")


if __name__ == "__main__":
    main()

"""How long training is blocked per checkpoint save, against a bare ``torch.save`` + fsync.

Both write the same state (the default pipeline's UNet, Adam with its moments) to the same folder. The
checkpoint side is the whole policy step the training loop waits for: building the state (RNG capture,
state dicts), the free-space check, temp file, flush + fsync, ``os.replace`` and the folder fsync. Prints
medians and the ratio (target <= 1.2).

Usage: python bench/checkpoint_bench.py [--dir FOLDER] [--repeats N] [--channels 16,32,64,128]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
from monai.networks.nets import UNet

from medical_imaging_framework.core.checkpoint_policy import CheckpointPolicy
from medical_imaging_framework.core.checkpoint_state import build_checkpoint
from medical_imaging_framework.core.training import EpochResult, TrainingState


def make_state(channels: tuple[int, ...]) -> TrainingState:
    """A UNet and Adam after one step, so the optimizer holds its moment tensors."""
    torch.manual_seed(0)
    model = UNet(spatial_dims=2, in_channels=1, out_channels=1, channels=channels,
                 strides=(2,) * (len(channels) - 1), num_res_units=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(2, 1, 64, 64)).mean().backward()
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=None, help="folder on the disk to test (default: a temp folder)")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--channels", default="16,32,64,128", help="UNet channels (bigger = bigger file)")
    args = parser.parse_args()
    channels = tuple(int(value) for value in args.channels.split(","))
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        root = Path(folder)
        state = make_state(channels)
        events: list[object] = []
        policy = CheckpointPolicy(directory=str(root / "ck"), every=1, emit=events.append, keep_last_n=2)
        policy.on_train_start(state)
        bare, ours = [], []
        for index in range(args.repeats + 2):  # two warm-up rounds, alternating to share disk conditions
            b = bare_save(state, root / f"bare_{index % 3}.pt")
            o = policy_save(policy, state)
            if index >= 2:
                bare.append(b)
                ours.append(o)
        size = (root / "bare_0.pt").stat().st_size
        failed = [event for event in events if type(event).__name__ == "CheckpointFailed"]
        if failed:
            raise SystemExit(f"checkpoint saves failed: {failed}")
    bare_median, our_median = statistics.median(bare), statistics.median(ours)
    params = sum(p.numel() for p in state.model.parameters())
    print(f"state: UNet channels {channels}, {params:,} parameters, file {size / 1e6:.2f} MB, "
          f"{args.repeats} saves each")
    print(f"bare torch.save + fsync:   median {bare_median * 1000:8.2f} ms")
    print(f"checkpoint policy (atomic): median {our_median * 1000:8.2f} ms")
    print(f"ratio (blocked per save / bare): {our_median / bare_median:.2f}  (target <= 1.2)")


if __name__ == "__main__":
    main()

"""The Trainer's training loop against a plain PyTorch loop written here: same model, data, batch size and seed.

Each round trains one epoch with the core `Trainer` (events to a no-op sink, no checkpoints) and one epoch
with the plain loop, alternating A/B so both share the machine's conditions; the first round is a warm-up.
Prints the median epoch time of each and their ratio (Trainer / plain; target <= 1.03 on CPU), and with
``--device cuda`` the samples/s of both (target: the Trainer >= 0.97x the plain loop).

    python bench/train_overhead.py                         2D UNet (default pipeline's), 64x64, CPU
    python bench/train_overhead.py --device cuda --dims 3  3D UNet 96^3, batch 4, channels 16-256,
                                                           2 residual units, Dice loss, Adam; fp32 and bf16
    python bench/train_overhead.py --quick                 fewer rounds and items (for `make bench`)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from bench_options import add_thread_option, apply_thread_option, cuda_missing
from monai.losses import DiceLoss
from monai.networks.nets import UNet
from torch.utils.data import DataLoader, TensorDataset

from medical_imaging_framework.run.control import CancelToken
from medical_imaging_framework.training.loop import Trainer, TrainingState

SEED = 0


def make_model(dims: int, device: torch.device) -> torch.nn.Module:
    torch.manual_seed(SEED)
    if dims == 3:
        return UNet(spatial_dims=3, in_channels=1, out_channels=1, channels=(16, 32, 64, 128, 256),
                    strides=(2, 2, 2, 2), num_res_units=2).to(device)
    return UNet(spatial_dims=2, in_channels=1, out_channels=1, channels=(16, 32, 64, 128), strides=(2, 2, 2),
                num_res_units=2).to(device)


def make_loader(dims: int, count: int, size: int, batch: int, pin: bool) -> DataLoader:
    generator = torch.Generator().manual_seed(SEED)
    shape = (count, 1) + (size,) * dims
    images = torch.randn(shape, generator=generator)
    labels = (torch.rand(shape, generator=generator) > 0.7).float()
    return DataLoader(TensorDataset(images, labels), batch_size=batch, shuffle=True, pin_memory=pin,
                      generator=torch.Generator().manual_seed(SEED))


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def trainer_epoch(dims: int, loader: DataLoader, device: torch.device, dtype: torch.dtype | None) -> float:
    """Seconds for one epoch of the core Trainer."""
    model = make_model(dims, device)
    state = TrainingState(model=model, optimizer=torch.optim.Adam(model.parameters(), lr=1e-3))
    trainer = Trainer(loss_fn=DiceLoss(sigmoid=True), train_loader=loader, val_loader=None, num_epochs=1,
                      device=device, cancel=CancelToken(), emit=lambda event: None, autocast_dtype=dtype)
    sync(device)
    started = time.perf_counter()
    trainer.fit(state)
    sync(device)
    return time.perf_counter() - started


def plain_epoch(dims: int, loader: DataLoader, device: torch.device, dtype: torch.dtype | None) -> float:
    """Seconds for one epoch of a hand-written loop (what a PyTorch user writes)."""
    model = make_model(dims, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = DiceLoss(sigmoid=True)
    sync(device)
    started = time.perf_counter()
    model.train()
    total = torch.zeros((), device=device)
    for image, label in loader:
        image, label = image.to(device, non_blocking=True), label.to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device.type, dtype=dtype, enabled=dtype is not None):
            loss = loss_fn(model(image), label)
        loss.backward()
        optimizer.step()
        total += loss.detach()
    total.item()
    sync(device)
    return time.perf_counter() - started


def compare(dims: int, loader: DataLoader, device: torch.device, dtype: torch.dtype | None, rounds: int,
            label: str) -> tuple[float, float]:
    """Median epoch seconds (Trainer, plain), alternating A/B; round 0 is a warm-up."""
    ours, plain = [], []
    for index in range(rounds + 1):
        first, second = (trainer_epoch, plain_epoch) if index % 2 == 0 else (plain_epoch, trainer_epoch)
        a, b = first(dims, loader, device, dtype), second(dims, loader, device, dtype)
        if index:
            ours.append(a if first is trainer_epoch else b)
            plain.append(b if first is trainer_epoch else a)
    ours_median, plain_median = statistics.median(ours), statistics.median(plain)
    samples = len(loader.dataset)  # type: ignore[arg-type]
    print(f"{label}: Trainer {ours_median:.3f} s/epoch ({samples / ours_median:.1f} samples/s), "
          f"plain loop {plain_median:.3f} s/epoch ({samples / plain_median:.1f} samples/s), "
          f"ratio {ours_median / plain_median:.3f}", flush=True)
    return ours_median, plain_median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--dims", type=int, default=2, choices=(2, 3))
    parser.add_argument("--rounds", type=int, default=5, help="A/B rounds after a warm-up (>= 3)")
    parser.add_argument("--count", type=int, default=None, help="items per epoch")
    parser.add_argument("--quick", action="store_true", help="3 rounds, fewer items")
    add_thread_option(parser)
    args = parser.parse_args()
    apply_thread_option(args)
    if cuda_missing(args.device):
        return
    device = torch.device(args.device)
    rounds = 3 if args.quick else max(3, args.rounds)
    torch.backends.cudnn.benchmark = device.type == "cuda"
    if args.dims == 3:
        size, batch, count = 96, 4, args.count or (8 if device.type == "cpu" else 64)
    else:
        size, batch, count = 64, 8, args.count or (32 if args.quick else 64)
    loader = make_loader(args.dims, count, size, batch, pin=device.type == "cuda")
    print(f"train overhead: {args.dims}D UNet, {count} items of {size}^{args.dims}, batch {batch}, "
          f"on {device.type}, {rounds} A/B rounds (medians)")
    compare(args.dims, loader, device, None, rounds, "fp32")
    if device.type == "cuda" and args.dims == 3:
        compare(args.dims, loader, device, torch.bfloat16, rounds, "bf16-mixed")
    print("target: ratio <= 1.03 on CPU; on a GPU the Trainer's samples/s >= 0.97x the plain loop's")


if __name__ == "__main__":
    main()

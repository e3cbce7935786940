"""The hand-written PyTorch + MONAI loop `bench/peer_loop.py` times against ``mif run``: what a researcher writes
for the default pipeline (resources/pipelines/segmentation_train.json) without mif.

Same data (the phantoms of ``data.SyntheticPhantoms``, split like ``data.TrainValSplit``), model (MONAI UNet
2D 16-32-64-128), loss (Dice, sigmoid), optimizer (Adam 0.005), batch (8, shuffled), seed (0) and checkpoint
scheme (periodic every ``--save-every`` epochs, best on the validation loss, final; ``torch.save``); torch's
default intra-op thread count (nothing set).

    python bench/peer_train.py --epochs 3 --save-every 2 --out ckpt
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch
from monai.losses import DiceLoss
from monai.networks.nets import UNet
from torch.utils.data import DataLoader, Subset

from medical_imaging_framework.nodes.data.datasets import PhantomDataset

SEED = 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--save-every", type=int, default=5)
    parser.add_argument("--count", type=int, default=80, help="phantoms (the default pipeline's 80)")
    parser.add_argument("--out", default="peer_checkpoints")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    dataset = PhantomDataset(count=args.count, size=128, spatial_dims=2, noise=0.2, seed=SEED)
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(SEED)).tolist()
    val_count = round(len(dataset) * 0.2)
    train = DataLoader(Subset(dataset, sorted(order[val_count:])), batch_size=8, shuffle=True)
    val = DataLoader(Subset(dataset, sorted(order[:val_count])), batch_size=8)

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    model = UNet(spatial_dims=2, in_channels=1, out_channels=1, channels=(16, 32, 64, 128), strides=(2, 2, 2),
                 num_res_units=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005)
    loss_fn = DiceLoss(sigmoid=True)
    best = float("inf")

    def save(name: str, epoch: int) -> None:
        torch.save({"epoch": epoch, "model_state_dict": model.state_dict(),
                    "optimizer_state_dict": optimizer.state_dict()}, out / name)

    for epoch in range(1, args.epochs + 1):
        model.train()
        total, count = 0.0, 0
        for batch in train:
            optimizer.zero_grad()
            loss = loss_fn(model(batch["image"]), batch["label"])
            loss.backward()
            optimizer.step()
            total, count = total + loss.item() * len(batch["image"]), count + len(batch["image"])
        model.eval()
        val_total, val_count_seen = 0.0, 0
        with torch.no_grad():
            for batch in val:
                val_total += loss_fn(model(batch["image"]), batch["label"]).item() * len(batch["image"])
                val_count_seen += len(batch["image"])
        val_loss = val_total / val_count_seen
        print(f"Epoch [{epoch}/{args.epochs}], Loss: {total / count:.4f}, Val Loss: {val_loss:.4f}", flush=True)
        if epoch % args.save_every == 0:
            save(f"checkpoint_epoch_{epoch}.pt", epoch)
        if val_loss < best:
            best = val_loss
            save("best_model.pt", epoch)
    save("final_model.pt", args.epochs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

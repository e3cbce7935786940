"""What a safe on-disk cache entry costs: write and read of one 3D item, the old pickle against the signed entry.

The item is what ``transforms.Apply`` caches for a 3D scan: an image and a label ``MetaTensor`` (size^3,
float32) with a reader's meta (numpy affine, file name) and the history of Resize + Pad to Multiple. *pickle*
is what the cache did before issue 18 (MONAI ``PersistentDataset``: ``torch.save`` of the item,
``torch.load(weights_only=False)``); *signed* is `cache_entries` (HMAC-SHA256 over the file, then
``torch.load(weights_only=True)`` of tensors and plain values, then the ``MetaTensor`` s rebuilt). Last, a
planted file of ``--planted-gib`` GiB (sparse, starting like an entry) is refused: time and peak RSS growth.

    python bench/cache_entries.py                 96^3, 10 repeats, a 2 GiB planted file
    python bench/cache_entries.py --size 64 --repeats 5 --planted-gib 1
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_item(size: int) -> dict[str, Any]:
    """An item as the cache holds it after Resize and Pad to Multiple (history ids reset, as MONAI does)."""
    import numpy as np
    import torch
    from monai.data import MetaTensor
    from monai.transforms import DivisiblePadd, Resized, reset_ops_id

    affine = torch.diag(torch.tensor([0.8, 0.8, 2.5, 1.0], dtype=torch.float64))
    meta = {"original_affine": affine.numpy(), "spatial_shape": np.array([size + 7] * 3),
            "filename_or_obj": "/data/case_000.nii.gz"}
    image = MetaTensor(torch.rand(1, size + 7, size + 7, size + 7), affine=affine, meta=dict(meta))
    label = MetaTensor((torch.rand(1, size + 7, size + 7, size + 7) > 0.5).float(), affine=affine, meta=dict(meta))
    item = {"image": image, "label": label, "name": "case_000", "affine": affine}
    item = Resized(("image", "label"), spatial_size=(size - 3,) * 3, mode=("trilinear", "nearest"))(item)
    return reset_ops_id(DivisiblePadd(("image", "label"), k=16)(item))


def timed(action: Any, repeats: int) -> float:
    """Median seconds of ``action()``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--planted-gib", type=float, default=2.0)
    args = parser.parse_args()

    import torch

    from medical_imaging_framework.nodes.transforms.cache_entries import MAGIC, BadEntry, read_entry, write_entry

    item, key = make_item(args.size), bytes(range(32))
    with tempfile.TemporaryDirectory(prefix="mif_cache_bench_") as folder:
        old, new = Path(folder) / "chain-x" / "old.pt", Path(folder) / "chain-x" / "new.pt"
        old.parent.mkdir()
        rows = [
            ("pickle", timed(lambda: torch.save(item, old), args.repeats),
             timed(lambda: torch.load(old, weights_only=False), args.repeats), old),
            ("signed", timed(lambda: write_entry(new, item, key), args.repeats),
             timed(lambda: read_entry(new, key), args.repeats), new),
        ]
        print(f"one item: image + label {tuple(item['image'].shape)} float32, median of {args.repeats}")
        print("| Entry | Size | Write | Read |\n|---|---|---|---|")
        for name, write, read, path in rows:
            print(f"| {name} | {path.stat().st_size / 1e6:.2f} MB | {write * 1e3:.1f} ms | {read * 1e3:.1f} ms |")
        planted = Path(folder) / "chain-x" / "planted.pt"
        with planted.open("wb") as stream:
            stream.write(MAGIC + bytes(32))
            stream.truncate(int(args.planted_gib * (1 << 30)))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        try:
            read_entry(planted, key)
        except BadEntry as error:
            print(f"planted {args.planted_gib:g} GiB file: refused in {time.perf_counter() - start:.1f} s, peak RSS "
                  f"+{(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024:.0f} MiB ({error})")


if __name__ == "__main__":
    main()

"""The torch ``Dataset`` behind ``data.SyntheticPhantoms``, kept apart so the node specs load without torch."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from medical_imaging_framework.nodes.data.phantoms import make_phantom


class PhantomDataset(Dataset):
    """In-memory phantoms; item ``i`` is ``{"image": (1, *spatial), "label": (1, *spatial), "name": str}``.

    Args:
        count: number of images.
        size: edge length in pixels/voxels.
        spatial_dims: 2 or 3.
        noise: Gaussian noise standard deviation.
        seed: the same seed always gives the same images.
    """

    def __init__(self, count: int, size: int, spatial_dims: int, noise: float, seed: int) -> None:
        self.images: list[torch.Tensor] = []
        self.labels: list[torch.Tensor] = []
        for index in range(count):
            rng = np.random.default_rng([seed, index])
            image, mask = make_phantom(size, spatial_dims, noise, rng)
            self.images.append(torch.from_numpy(image)[None])
            self.labels.append(torch.from_numpy(mask)[None])

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {"image": self.images[index], "label": self.labels[index], "name": f"phantom_{index:04d}"}

"""Applying a transform chain to a dataset: MONAI ``Compose`` with the item's affine kept, and the cached
dataset classes. Kept apart from the transform node specs (`nodes.transforms`) so that they load without
torch or MONAI.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from monai.data import CacheDataset, MetaTensor
from monai.transforms import Compose, MapTransform, RandomizableTrait

from medical_imaging_framework.nodes.disk_cache import DiskCachedDataset, failures_named
from medical_imaging_framework.nodes.item_keys import BOTH, IMAGE, SOURCE_AFFINE, SOURCE_SHAPE

TransformChain = tuple[MapTransform, ...]


class ToMetaTensor(MapTransform):
    """Wrap image/label as MONAI ``MetaTensor`` carrying the item's affine, so spatial steps update it.

    The item also keeps its source grid, ``source_affine`` (4x4) and ``source_shape`` (spatial sizes),
    set once (a second Apply keeps the first one's), so predictions can be written back on that grid.
    """

    def __init__(self) -> None:
        super().__init__(BOTH, allow_missing_keys=True)

    def __call__(self, data: dict[str, Any]) -> dict[str, Any]:
        item = dict(data)
        affine = item.get("affine")
        affine = torch.eye(4, dtype=torch.float64) if affine is None else torch.as_tensor(affine, dtype=torch.float64)
        if IMAGE in item and SOURCE_AFFINE not in item:
            item[SOURCE_AFFINE] = affine.clone()
            item[SOURCE_SHAPE] = torch.tensor(tuple(item[IMAGE].shape[1:]), dtype=torch.int64)
        for key in self.key_iterator(item):
            item[key] = MetaTensor(torch.as_tensor(item[key]).clone(), affine=affine.clone())
        return item


class FromMetaTensor(MapTransform):
    """Plain tensors again, with the (possibly updated) affine back in ``item["affine"]``."""

    def __init__(self) -> None:
        super().__init__(BOTH, allow_missing_keys=True)

    def __call__(self, data: dict[str, Any]) -> dict[str, Any]:
        item = dict(data)
        image = item.get(IMAGE)
        if isinstance(image, MetaTensor):
            item["affine"] = torch.as_tensor(image.affine, dtype=torch.float64).clone()
        for key in self.key_iterator(item):
            value = item[key]
            item[key] = (value.as_tensor() if isinstance(value, MetaTensor) else torch.as_tensor(value)).float()
        return item


class CheckSpatialDims(MapTransform):
    """Refuses items whose image is not ``spatial_dims``-D (MONAI would silently add an axis).

    Args:
        spatial_dims: 2 or 3.
        field: the parameter named in the error.
    """

    def __init__(self, spatial_dims: int, field: str) -> None:
        super().__init__((IMAGE,), allow_missing_keys=True)
        self.spatial_dims, self.field = spatial_dims, field

    def __call__(self, data: dict[str, Any]) -> dict[str, Any]:
        image = data.get(IMAGE)
        if image is not None and image.ndim - 1 != self.spatial_dims:
            raise ValueError(
                f"the image is {image.ndim - 1}D but {self.field} has {self.spatial_dims} values (give one per axis)"
            )
        return data


def is_random(transform: object) -> bool:
    """Whether ``transform`` draws random numbers (MONAI's ``RandomizableTrait``)."""
    return isinstance(transform, RandomizableTrait)


def build_compose(chain: Sequence[MapTransform], training: bool) -> Compose:
    """The MONAI ``Compose`` for one dataset; without ``training`` random steps are left out.

    Args:
        chain: the steps, in order.
        training: keep random steps.
    """
    steps = [t for t in chain if training or not is_random(t)]
    compose = Compose([ToMetaTensor(), *steps, FromMetaTensor()])
    for step in steps:  # Compose re-seeds every random step; give each back its own seed
        seed = getattr(step, "mif_seed", None)
        if seed is not None:
            step.set_random_state(seed=seed)
    return compose


class TransformedDataset(CacheDataset):
    """A dataset seen through a transform chain; deterministic steps are cached when ``cache`` is set.

    Args:
        data: the source dataset (items are dicts).
        chain: MONAI dictionary transforms.
        training: apply random steps (training data only).
        cache: run the deterministic steps once per item and keep the results in memory.
    """

    def __init__(self, data: Any, chain: Sequence[MapTransform], training: bool, cache: bool) -> None:
        self.training = training
        super().__init__(
            data=data,
            transform=build_compose(chain, training),
            cache_rate=1.0 if cache else 0.0,
            num_workers=1,
            progress=False,
        )

    def _load_cache_item(self, idx: int) -> Any:
        with failures_named(self.data, idx, _failure):
            return super()._load_cache_item(idx)

    def _transform(self, index: int) -> Any:
        with failures_named(self.data, index, _failure):
            return super()._transform(index)


def cached_dataset(data: Any, chain: TransformChain, training: bool, config: dict[str, Any]) -> Any:
    """``data`` through ``chain``: no cache, in-memory cache, or on-disk cache when ``cache_dir`` is set."""
    cache_dir = str(config.get("cache_dir", "")).strip()
    if config["cache"] and cache_dir:
        return DiskCachedDataset(data, build_compose(chain, training), cache_dir, _failure)
    return TransformedDataset(data, chain, training, config["cache"])


def _failure(data: Any, index: int, error: Exception) -> str:
    try:
        name = data[index].get("name", f"#{index}")
    except Exception:
        name = f"#{index}"
    root = error
    while root.__cause__ is not None:
        root = root.__cause__
    return f"transforms failed on item '{name}': {type(root).__name__}: {root}"

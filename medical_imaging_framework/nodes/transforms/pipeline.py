"""Applying a transform chain to a dataset: MONAI ``Compose`` with the item's affine kept, and the cached
dataset classes. Kept apart from the transform node specs (`nodes.transforms`) so that they load without
torch or MONAI.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from monai.data import CacheDataset, MetaTensor
from monai.transforms import Compose, MapTransform, RandomizableTrait

from medical_imaging_framework.nodes.transforms.disk_cache import DiskCachedDataset, failures_named
from medical_imaging_framework.nodes.transforms.item_keys import BOTH, IMAGE

TransformChain = tuple[MapTransform, ...]


class ToMetaTensor(MapTransform):
    """Image/label as MONAI ``MetaTensor``: a copy of one already (with its file's meta and transform history),
    or a plain tensor wrapped with the item's ``affine`` (identity without one), so spatial steps update it."""

    def __init__(self) -> None:
        super().__init__(BOTH, allow_missing_keys=True)

    def __call__(self, data: dict[str, Any]) -> dict[str, Any]:
        item = dict(data)
        affine = item.get("affine")
        affine = torch.eye(4, dtype=torch.float64) if affine is None else torch.as_tensor(affine, dtype=torch.float64)
        for key in self.key_iterator(item):
            value = item[key]
            item[key] = value.clone() if isinstance(value, MetaTensor) else \
                MetaTensor(torch.as_tensor(value).clone(), affine=affine.clone())
        return item


class SyncAffine(MapTransform):
    """Float ``MetaTensor`` s, with the image's (possibly updated) affine repeated in ``item["affine"]``."""

    def __init__(self) -> None:
        super().__init__(BOTH, allow_missing_keys=True)

    def __call__(self, data: dict[str, Any]) -> dict[str, Any]:
        item = dict(data)
        for key in self.key_iterator(item):
            item[key] = item[key].float()
        image = item.get(IMAGE)
        if isinstance(image, MetaTensor):
            item["affine"] = torch.as_tensor(image.affine, dtype=torch.float64).clone()
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
    compose = Compose([ToMetaTensor(), *steps, SyncAffine()])
    _seed(steps)  # Compose re-seeds every random step; give each back its own seed
    return compose


def _seed(steps: Sequence[Any]) -> None:
    for step in steps:
        seed = getattr(step, "mif_seed", None)
        if seed is not None:
            step.set_random_state(seed=seed)


def reseed(dataset: Any) -> None:
    """Every random step behind ``dataset`` back to its seed: a data set reused by a later run (`run.cache`)
    then gives the items a freshly built one would.

    Args:
        dataset: a transformed dataset (or what wraps one).
    """
    for compose in transform_chains(dataset):
        _seed(compose.transforms)


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

    def _fill_cache(self, indices: Sequence[int] | None = None) -> list[Any]:
        """The cached items, computed in the calling thread (MONAI's own uses a thread pool; see below)."""
        # MONAI fills the cache in a `ThreadPool`, even of one worker. When an item fails, the pool's terminate()
        # does not join its worker threads (multiprocessing joins worker processes only), so the worker goes on
        # transforming its next item while the run ends; a daemon thread still inside a torch op when Python
        # exits is ended by pthread_exit from under pybind11, which aborts the process ("terminate called
        # without an active exception", exit 134; issue 18). One worker gains nothing over this thread.
        if self.cache_num <= 0:
            return []
        return [self._load_cache_item(index) for index in (range(self.cache_num) if indices is None else indices)]

    def _load_cache_item(self, idx: int) -> Any:
        with failures_named(self.data, idx, _failure):
            return super()._load_cache_item(idx)

    def _transform(self, index: int) -> Any:
        with failures_named(self.data, index, _failure):
            return super()._transform(index)


def transform_chains(dataset: Any) -> list[Compose]:
    """The ``Compose`` s that produced ``dataset``'s items, the last applied first (for ``Invertd``).

    Follows subsets, transformed datasets (in memory or on disk) and their sources, so a chain applied
    by a second ``transforms.Apply`` is undone before the first one's.

    Args:
        dataset: what a data loader reads (or the loader's ``dataset``).
    """
    chains: list[Compose] = []
    while dataset is not None:
        if isinstance(dataset, (TransformedDataset, DiskCachedDataset)):
            chains.append(dataset.transform)
            dataset = dataset.source if isinstance(dataset, DiskCachedDataset) else dataset.data
        else:
            dataset = getattr(dataset, "dataset", None)  # a Subset, or a user wrapper that follows the convention
    return chains


def source_dataset(dataset: Any) -> Any:
    """The dataset that read the files behind ``dataset`` (through subsets and transformed datasets), or None.

    Args:
        dataset: what a data loader reads (or the loader's ``dataset``).
    """
    source = None
    while dataset is not None:
        source = dataset
        if isinstance(dataset, (TransformedDataset, DiskCachedDataset)):
            dataset = dataset.source if isinstance(dataset, DiskCachedDataset) else dataset.data
        else:
            dataset = getattr(dataset, "dataset", None)
    return source


def cached_dataset(data: Any, chain: TransformChain, training: bool, config: dict[str, Any],
                   log: Callable[[str], None] | None = None) -> Any:
    """``data`` through ``chain``: no cache, in-memory cache, or on-disk cache when ``cache_dir`` is set.

    Args:
        data: the source dataset.
        chain: the transform steps.
        training: keep random steps.
        config: the Apply node's ``cache`` and ``cache_dir``.
        log: where the on-disk cache reports refused entries (the node's log).
    """
    cache_dir = str(config.get("cache_dir", "")).strip()
    if config["cache"] and cache_dir:
        dims = next((step.spatial_dims for step in chain if isinstance(step, CheckSpatialDims)), None)
        return DiskCachedDataset(data, build_compose(chain, training), cache_dir, _failure, log, dims)
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

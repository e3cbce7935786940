"""Data speed parameters: the on-disk transform cache (MONAI PersistentDataset) and the loader's options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from monai.transforms import MapTransform

from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.nodes.transforms.disk_cache import DiskCachedDataset
from medical_imaging_framework.run.control import CancelToken, NodeError
from medical_imaging_framework.run.executor import NodeContext
from tests.nodes.test_transforms import Items, _chain

CALLS: list[int] = []  # outside the step, so its settings (the cache folder's key) stay the same


class CountingStep(MapTransform):
    """Deterministic: multiplies the image and counts its calls (in this process)."""

    def __init__(self, factor: float = 2.0) -> None:
        super().__init__(("image",))
        self.factor = factor

    def __call__(self, data: dict[str, Any]) -> dict[str, Any]:
        CALLS.append(1)
        return {**data, "image": data["image"] * self.factor}


@pytest.fixture(autouse=True)
def _own_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # the cache key: not the user's own


def ctx() -> NodeContext:
    return NodeContext(node_id="apply", emit=lambda e: None, cancel=CancelToken())


def apply(registry: NodeRegistry, chain: Any, **config: Any) -> dict[str, Any]:
    return registry.get("transforms.Apply").run(ctx(), {"transform": chain, "val": Items(), "train": Items()},
                                                {"cache": True, "cache_dir": "", **config})


def test_disk_cache_matches_memory_cache_and_is_reused(registry: NodeRegistry, tmp_path: Path) -> None:
    counting = CountingStep()
    chain = (counting, *_chain(registry, ("transforms.RandomFlip", {"prob": 0.5})))
    memory = apply(registry, chain)["val"]
    disk = apply(registry, chain, cache_dir=str(tmp_path / "cache"))["val"]
    assert isinstance(disk, DiskCachedDataset)
    CALLS.clear()
    for index in range(len(memory)):
        ours, theirs = disk[index], memory[index]
        assert torch.equal(ours["image"], theirs["image"]) and torch.equal(ours["affine"], theirs["affine"])
        assert ours["name"] == theirs["name"]
    assert len(CALLS) == 4, "each item computed once, then written to the folder"
    assert len(list((tmp_path / "cache").glob("chain-*/*.pt"))) == 4
    again = apply(registry, chain, cache_dir=str(tmp_path / "cache"))["val"]
    CALLS.clear()
    assert torch.equal(again[1]["image"], memory[1]["image"])
    assert len(CALLS) == 0, "a later run reads the folder instead of recomputing"
    other = apply(registry, (CountingStep(3.0),), cache_dir=str(tmp_path / "cache"))["val"]
    assert torch.equal(other[0]["image"], Items()[0]["image"] * 3), "another chain never reads a stale result"
    train = apply(registry, chain, cache_dir=str(tmp_path / "cache"))["train"]
    assert train[0]["image"].shape == (1, 8, 8), "random steps still run after the cached ones"


def test_disk_cache_folder_that_cannot_be_made_is_a_clear_error(registry: NodeRegistry, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(NodeError, match=r"cache_dir '.*file/cache': cannot create the cache folder"):
        apply(registry, (CountingStep(),), cache_dir=str(blocker / "cache"))


def test_loader_worker_and_pinning_options(registry: NodeRegistry) -> None:
    spec = registry.get("data.DataLoader")
    config = {p.name: p.default for p in spec.params} | {"num_workers": 1, "persistent_workers": False}
    loader = spec.run(ctx(), {"dataset": Items()}, config)["loader"]
    assert loader.num_workers == 1 and loader.persistent_workers is False
    assert loader.pin_memory is torch.cuda.is_available(), "pinned only where there is a GPU to copy to"
    config["persistent_workers"] = True
    assert spec.run(ctx(), {"dataset": Items()}, config)["loader"].persistent_workers is True

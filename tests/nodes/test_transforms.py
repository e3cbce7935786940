"""Transform nodes and Apply: random steps touch training data only, caching, seeds, affine tracking."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import MapTransform
from torch.utils.data import DataLoader

from medical_imaging_framework.core import Graph, NodeRegistry
from medical_imaging_framework.nodes.inference.specs import Case
from medical_imaging_framework.nodes.io.prediction_saving import on_source_grid
from medical_imaging_framework.nodes.transforms.pipeline import TransformedDataset, is_random, transform_chains
from medical_imaging_framework.run.control import CancelToken, NodeError
from medical_imaging_framework.run.executor import NodeContext


class Items(torch.utils.data.Dataset):
    """Tiny 2D items with an affine, like the ImageFolder's."""

    def __init__(self, count: int = 4, size: int = 8) -> None:
        self.items = []
        for index in range(count):
            image = torch.arange(size * size, dtype=torch.float32).reshape(1, size, size) + 100 * index
            label = (image > image.mean()).float()
            affine = torch.diag(torch.tensor([2.0, 3.0, 1.0, 1.0], dtype=torch.float64))
            self.items.append({"image": image, "label": label, "name": f"item{index}", "affine": affine})

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return dict(self.items[index])


class CountingStep(MapTransform):
    """A deterministic step that counts its calls (to prove caching)."""

    def __init__(self) -> None:
        super().__init__(("image",))
        self.calls = 0

    def __call__(self, data: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        item = dict(data)
        item["image"] = item["image"] * 2
        return item


def _ctx() -> NodeContext:
    return NodeContext(node_id="t", emit=lambda e: None, cancel=CancelToken())


def _chain(registry: NodeRegistry, *steps: tuple[str, dict[str, Any]]) -> tuple[Any, ...]:
    chain: tuple[Any, ...] = ()
    for type_id, config in steps:
        spec = registry.get(type_id)
        settings = {p.name: p.parse(config.get(p.name, p.default)) for p in spec.params}
        chain = spec.run(_ctx(), {"transform": chain}, settings)["transform"]
    return chain


def _apply(registry: NodeRegistry, chain: Any, cache: bool = True, **data: Any) -> dict[str, Any]:
    return registry.get("transforms.Apply").run(_ctx(), {"transform": chain, **data}, {"cache": cache})


def test_random_steps_apply_to_training_data_only(registry: NodeRegistry) -> None:
    chain = _chain(
        registry,
        ("transforms.NormalizeIntensity", {}),
        ("transforms.RandomFlip", {"prob": 1.0, "spatial_axis": "0"}),
        ("transforms.GaussianNoise", {"prob": 1.0, "std": 0.5}),
    )
    assert [is_random(step) for step in chain] == [False, True, True]  # no size: no dimension checks
    out = _apply(registry, chain, train=Items(), val=Items())
    source = Items()[0]["image"]
    normalised = (source - source.mean()) / source.std(unbiased=False)
    val_item = out["val"][0]
    torch.testing.assert_close(val_item["image"], normalised, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(val_item["affine"], Items()[0]["affine"])
    train_item = out["train"][0]
    flipped = torch.flip(normalised, dims=[1])
    assert not torch.allclose(train_item["image"], normalised, atol=1e-2)
    assert (train_item["image"] - flipped).abs().mean() > 0.01, "noise was added"
    torch.testing.assert_close(train_item["label"], torch.flip(Items()[0]["label"], dims=[1]))
    assert train_item["affine"][0, 0] == -2.0, "the flip is tracked in the affine"


def test_random_steps_repeat_with_the_same_seed(registry: NodeRegistry) -> None:
    def draw(seed: int) -> list[torch.Tensor]:
        chain = _chain(registry, ("transforms.RandomCrop", {"roi_size": [4, 4], "seed": seed}))
        data = _apply(registry, chain, cache=False, train=Items())["train"]
        return [data[i]["image"] for i in range(4)]

    first, again, other = draw(3), draw(3), draw(4)
    assert all(a.shape == (1, 4, 4) for a in first)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))


def test_cache_runs_deterministic_preprocessing_once(registry: NodeRegistry) -> None:
    counting = CountingStep()
    flip = _chain(registry, ("transforms.RandomFlip", {"prob": 0.5}))
    cached = TransformedDataset(Items(), (counting, *flip), training=True, cache=True)
    assert counting.calls == 4, "filled once on creation"
    loader = DataLoader(cached, batch_size=2)
    for _epoch in range(3):
        for batch in loader:
            assert batch["image"].shape == (2, 1, 8, 8) and batch["affine"].shape == (2, 4, 4)
    assert counting.calls == 4, "never again during the epochs"
    counting.calls = 0
    uncached = TransformedDataset(Items(), (counting, *flip), training=True, cache=False)
    for _epoch in range(3):
        for _batch in DataLoader(uncached, batch_size=2):
            pass
    assert counting.calls == 12


def test_cached_items_are_not_changed_by_random_steps(registry: NodeRegistry) -> None:
    chain = _chain(registry, ("transforms.GaussianNoise", {"prob": 1.0, "std": 1.0}))
    data = TransformedDataset(Items(), chain, training=True, cache=True)
    first, second = data[0]["image"], data[0]["image"]
    assert not torch.equal(first, second), "fresh noise each time, on a copy of the cached item"
    assert torch.equal(Items()[0]["image"], Items().items[0]["image"])


def test_ct_window_resize_pad_and_divisible_pad(registry: NodeRegistry) -> None:
    chain = _chain(
        registry,
        ("transforms.CTWindow", {"window_min": 0, "window_max": 100}),
        ("transforms.Resize", {"spatial_size": [4, 4]}),
        ("transforms.PadOrCrop", {"spatial_size": [6, 5]}),
        ("transforms.DivisiblePad", {"k": 4}),
    )
    item = _apply(registry, chain, val=Items())["val"][1]
    assert item["image"].shape == (1, 8, 8) and item["label"].shape == (1, 8, 8)
    assert float(item["image"].min()) >= 0.0 and float(item["image"].max()) <= 1.0
    assert set(np.unique(item["label"].numpy())) <= {0.0, 1.0}, "labels are resampled with nearest"
    assert item["affine"][0, 0] == pytest.approx(4.0), "halving the size doubles the spacing"


def test_rotate90_keeps_image_and_label_together(registry: NodeRegistry) -> None:
    chain = _chain(registry, ("transforms.RandomRotate90", {"prob": 1.0, "seed": 1}))
    item = _apply(registry, chain, train=Items())["train"][0]
    source = Items()[0]
    rotations = [torch.rot90(source["image"], k, dims=(1, 2)) for k in (1, 2, 3)]
    k = next(i for i, r in enumerate(rotations) if torch.equal(r, item["image"])) + 1
    torch.testing.assert_close(item["label"], torch.rot90(source["label"], k, dims=(1, 2)))


def test_bad_inputs_give_clear_errors(registry: NodeRegistry) -> None:
    chain = _chain(registry, ("transforms.Resize", {"spatial_size": [4, 4, 4]}))
    with pytest.raises(NodeError, match="link a dataset to 'train' or 'val'"):
        _apply(registry, chain)
    with pytest.raises(NodeError, match=r"transforms failed on item 'item0': .*the image is 2D but spatial_size has 3"):
        _apply(registry, chain, val=Items())
    with pytest.raises(NodeError, match=r"spatial_size needs 2 .* or 3 .* values, got 1"):
        _chain(registry, ("transforms.PadOrCrop", {"spatial_size": [4]}))
    only_val = _apply(registry, (), val=Items())
    assert only_val["train"] is None
    with pytest.raises(NodeError, match="no dataset arrived: the linked output produced none"):
        registry.get("data.DataLoader").run(_ctx(), {"dataset": only_val["train"]},
                                            {"batch_size": 2, "shuffle": False, "num_workers": 0})
    with pytest.raises(NodeError, match=r"window_min .* must be below window_max"):
        _chain(registry, ("transforms.CTWindow", {"window_min": 5, "window_max": 5}))


def test_loader_workers_draw_different_random_numbers(registry: NodeRegistry) -> None:
    chain = _chain(registry, ("transforms.GaussianNoise", {"prob": 1.0, "std": 1.0}))
    data = _apply(registry, chain, train=Items(count=2))["train"]
    loader = registry.get("data.DataLoader").run(_ctx(), {"dataset": data},
                                                 {"batch_size": 1, "shuffle": False, "num_workers": 2})["loader"]
    noise = [batch["image"][0] - Items(count=2)[index]["image"] for index, batch in enumerate(loader)]
    assert not torch.allclose(noise[0], noise[1], atol=1e-3), "each worker's first item gets its own noise"


def test_log_counts_the_users_steps_not_internal_checks(registry: NodeRegistry) -> None:
    """nifti_folder_train.json's chain: 4 transform nodes (one with a size, which adds a hidden check)."""
    chain = _chain(
        registry,
        ("transforms.NormalizeIntensity", {}),
        ("transforms.RandomCrop", {"roi_size": [4, 4]}),
        ("transforms.DivisiblePad", {"k": 4}),
        ("transforms.RandomFlip", {}),
    )
    lines: list[str] = []
    ctx = NodeContext(node_id="transforms", emit=lambda e: lines.append(getattr(e, "text", "")), cancel=CancelToken())
    registry.get("transforms.Apply").run(ctx, {"transform": chain, "train": Items()}, {"cache": True})
    assert "Transforms: 4 step(s), 2 random (training data only), deterministic steps cached" in lines


def test_items_keep_their_transform_history_and_invert_to_the_source_grid(registry: NodeRegistry) -> None:
    first = _chain(registry, ("transforms.Resize", {"spatial_size": [4, 4]}), ("transforms.DivisiblePad", {"k": 5}))
    once = _apply(registry, first, val=Items())["val"]
    data = _apply(registry, _chain(registry, ("transforms.DivisiblePad", {"k": 3})), val=once)["val"]
    twice = data[0]
    source = Items()[0]
    assert twice["image"].shape == (1, 6, 6), "8 -> 4, padded to 5, then to 6"
    assert twice["affine"][0, 0] == pytest.approx(2.0 * 8 / 4), "halving the size doubles the spacing"
    assert isinstance(twice["label"], MetaTensor) and len(twice["label"].applied_operations) == 3, "both Applies"
    chains = transform_chains(data)
    assert len(chains) == 2, "the second Apply's chain is undone first, then the first one's"
    restored = on_source_grid(Case("item0", None, twice["label"], twice["affine"].numpy()), chains)
    assert restored.shape == (1, 8, 8) and not restored.applied_operations
    torch.testing.assert_close(restored.affine, source["affine"])
    torch.testing.assert_close(restored.as_tensor(), source["label"], msg="2x nearest down and up, crops: exact")


@pytest.mark.parametrize(("preset", "low", "high"), [
    ("soft_tissue", -160.0, 240.0), ("lung", -1350.0, 150.0), ("bone", -500.0, 1300.0), ("brain", 0.0, 80.0),
])
def test_ct_window_presets_set_the_standard_windows(registry: NodeRegistry, preset: str, low: float,
                                                    high: float) -> None:
    # window_min/max left contradictory on purpose: a preset sets its own window
    chain = _chain(registry, ("transforms.CTWindow", {"preset": preset, "window_min": 5, "window_max": 5}))
    hounsfield = torch.tensor([[[low - 100.0, low, (low + high) / 2, high, high + 100.0]]])
    scaled = chain[-1]({"image": hounsfield})["image"]
    torch.testing.assert_close(torch.as_tensor(scaled), torch.tensor([[[0.0, 0.0, 0.5, 1.0, 1.0]]]))
    graph = Graph("ct")
    graph.add_node(registry.create("transforms.CTWindow", node_id="ct_window"))
    graph.nodes["ct_window"].config.update(preset=preset, window_min=5, window_max=5)
    assert [problem for problem in graph.validate() if problem.node_id == "ct_window"] == []
    graph.nodes["ct_window"].config["preset"] = "custom"  # custom: the fields are the window, and must make one
    assert {problem.field for problem in graph.validate() if problem.node_id == "ct_window"} == {
        "window_min", "window_max"}

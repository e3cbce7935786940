"""The transform nodes real CT/MR data needs, on tiny arrays: crops keep labels aligned with their image,
patches are centred where asked, CT clip + z-score and MR non-zero z-score give the expected values, and
the K-fold split holds every case out exactly once."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch

from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.run.control import CancelToken
from medical_imaging_framework.run.executor import NodeContext


def call(registry: NodeRegistry, type_id: str, inputs: dict[str, Any], **config: Any) -> dict[str, Any]:
    spec = registry.get(type_id)
    settings = {p.name: p.parse(config.get(p.name, p.default)) for p in spec.params}
    return spec.run(NodeContext(node_id="n", emit=lambda e: None, cancel=CancelToken()), inputs, settings)


def applied(registry: NodeRegistry, steps: list[tuple[str, dict[str, Any]]], items: list[dict[str, Any]],
            port: str = "val") -> Any:
    chain: tuple[Any, ...] = ()
    for type_id, config in steps:
        chain = call(registry, type_id, {"transform": chain}, **config)["transform"]
    return call(registry, "transforms.Apply", {"transform": chain, port: items}, cache=False)[port]


def smooth_volume(seed: int, shape: tuple[int, ...] = (16, 14, 10)) -> torch.Tensor:
    """A positive blob in a zero background, whose label is a function of it: (image > 0.5) + (image > 1.2)."""
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"))
    centre = np.array([5 + seed, 7, 5])[:, None, None, None]
    distance = np.sqrt(((grid - centre) ** 2).sum(0))
    image = np.clip(2.0 - distance / 3.0, 0.0, None).astype(np.float32)
    return torch.from_numpy(image)[None]


def label_of(image: torch.Tensor) -> torch.Tensor:
    return (image > 0.5).float() + (image > 1.2).float()


def items(count: int = 2) -> list[dict[str, Any]]:
    return [{"image": (image := smooth_volume(i)), "label": label_of(image), "name": f"c{i}"} for i in range(count)]


@pytest.mark.parametrize("source", ["image", "label"])
def test_crop_foreground_keeps_the_label_on_its_image(registry: NodeRegistry, source: str) -> None:
    data = applied(registry, [("transforms.CropForeground", {"source": source, "margin": 1})], items())
    for index in range(2):
        item = data[index]
        image, label = item["image"], item["label"]
        assert image.shape == label.shape and image.shape[1:] < (16, 14, 10), "cropped to the foreground box"
        torch.testing.assert_close(label.as_tensor(), label_of(image.as_tensor()))
        assert label.sum() == label_of(smooth_volume(index)).sum(), "no labelled voxel was cut away"


def test_pos_neg_crop_centres_patches_on_the_label_and_keeps_it_aligned(registry: NodeRegistry) -> None:
    data = applied(registry, [("transforms.RandCropByPosNegLabel",
                               {"spatial_size": [6, 6, 4], "pos": 1.0, "neg": 0.0, "num_samples": 3, "seed": 5})],
                   items(), port="train")
    for index in range(2):
        patches = data[index]
        assert len(patches) == 3
        for patch in patches:
            image, label = patch["image"].as_tensor(), patch["label"].as_tensor()
            assert image.shape == label.shape == (1, 6, 6, 4)
            torch.testing.assert_close(label, label_of(image))
            assert label[0, 3, 3, 2] > 0, "pos only: every patch is centred on a labelled voxel"


def test_class_crop_samples_the_classes_asked_for(registry: NodeRegistry) -> None:
    data = applied(registry, [("transforms.RandCropByLabelClasses",
                               {"spatial_size": [4, 4, 4], "ratios": "0, 0, 1", "num_samples": 4, "seed": 3})],
                   items(), port="train")
    for patch in data[0]:
        image, label = patch["image"].as_tensor(), patch["label"].as_tensor()
        torch.testing.assert_close(label, label_of(image))
        assert label[0, 2, 2, 2] == 2, "ratios 0, 0, 1: centred on class 2 only"
    equal = applied(registry, [("transforms.RandCropByLabelClasses",  # empty ratios: classes from each label
                                {"spatial_size": [4, 4, 4], "ratios": "", "num_samples": 12, "seed": 3})],
                    items(1), port="train")
    assert {int(p["label"][0, 2, 2, 2]) for p in equal[0]} == {0, 1, 2}, "every class of the label is sampled"


def test_augmentations_keep_shape_and_labels_whole(registry: NodeRegistry) -> None:
    steps = [("transforms.RandAffine", {"prob": 1.0, "seed": 1}), ("transforms.RandZoom", {"prob": 1.0, "seed": 1}),
             ("transforms.RandGaussianSmooth", {"prob": 1.0}), ("transforms.RandScaleIntensity", {"prob": 1.0}),
             ("transforms.RandAdjustContrast", {"prob": 1.0})]
    first, again = applied(registry, steps, items(1), "train")[0], applied(registry, steps, items(1), "train")[0]
    assert first["image"].shape == first["label"].shape == (1, 16, 14, 10)
    assert set(first["label"].unique().tolist()) <= {0.0, 1.0, 2.0}, "labels resampled nearest: classes only"
    assert not torch.equal(first["image"].as_tensor(), smooth_volume(0)), "the image was changed"
    torch.testing.assert_close(first["image"].as_tensor(), again["image"].as_tensor(), msg="seeded: reproducible")


def test_ct_clip_zscore_and_mr_non_zero_zscore_give_the_expected_values(registry: NodeRegistry) -> None:
    """CT: the new node clips then standardises with fixed values; MR: the existing Normalize Intensity with
    nonzero on is a per-image z-score over the non-zero voxels (checked here, not changed)."""
    image = torch.tensor([-2000.0, -1000.0, 100.0, 600.0, 3000.0]).reshape(1, 5, 1, 1)
    data = applied(registry, [("transforms.ClipZScore", {"clip_min": -1000, "clip_max": 1000, "mean": 100,
                                                         "std": 50})], [{"image": image}])
    expected = (np.clip([-2000.0, -1000.0, 100.0, 600.0, 3000.0], -1000, 1000) - 100) / 50
    np.testing.assert_allclose(data[0]["image"].numpy().ravel(), expected, rtol=1e-6)
    mr = torch.tensor([0.0, 0.0, 2.0, 4.0, 6.0, 0.0]).reshape(1, 6, 1, 1)
    data = applied(registry, [("transforms.NormalizeIntensity", {"nonzero": True})], [{"image": mr}])
    values = data[0]["image"].numpy().ravel()
    np.testing.assert_allclose(values, [0.0, 0.0, -1.2247449, 0.0, 1.2247449, 0.0], rtol=1e-5)


@pytest.mark.parametrize(("total", "folds"), [(7, 3), (5, 5), (10, 4)])
def test_kfold_splits_are_disjoint_and_cover_every_case(registry: NodeRegistry, total: int, folds: int) -> None:
    dataset = [{"name": f"case{i}"} for i in range(total)]
    held_out: list[str] = []
    for fold in range(folds):
        out = call(registry, "data.KFoldSplit", {"dataset": dataset}, folds=folds, fold=fold, seed=4)
        train = [item["name"] for item in out["train"]]
        val = [item["name"] for item in out["val"]]
        assert not set(train) & set(val) and len(train) + len(val) == total
        assert total // folds <= len(val) <= -(-total // folds), "fold sizes differ by one at most"
        held_out += val
    assert sorted(held_out) == sorted(item["name"] for item in dataset), "each case held out exactly once"
    first, again, other = (call(registry, "data.KFoldSplit", {"dataset": dataset}, folds=folds, fold=0, seed=seed)
                           ["val"].indices for seed in (4, 4, 5))
    assert first == again, "seeded: the same folds every run"
    assert total < 10 or first != other, "another seed, other folds"


@pytest.mark.parametrize("type_id", ["transforms.RandCropByPosNegLabel", "transforms.RandCropByLabelClasses"])
def test_label_crops_sample_every_voxel_after_a_ct_zscore(registry: NodeRegistry, type_id: str) -> None:
    """After the planned CT clip + z-score, air, fat and a hypodense lesion are below 0: a crop that only samples
    voxels whose intensity is above 0 (MONAI's image_threshold) never centres on them, and warns "Num
    backgrounds 0" or fails. Every labelled voxel and every background voxel must be a candidate centre."""
    image = torch.full((1, 12, 12, 8), -1.5)  # air, clipped and z-scored
    label = torch.zeros((1, 12, 12, 8))
    label[0, 4:8, 4:8, 3:5] = 1.0
    image[label > 0] = -0.3  # a structure darker than the foreground mean
    config: dict[str, Any] = {"spatial_size": [4, 4, 2], "num_samples": 6, "seed": 2}
    for wanted, extra in ((1.0, {"pos": 1.0, "neg": 0.0, "ratios": "0, 1"}),
                          (0.0, {"pos": 0.0, "neg": 1.0, "ratios": "1, 0"})):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            patches = applied(registry, [(type_id, {**config, **extra})],
                              [{"image": image, "label": label, "name": "c"}], port="train")[0]
        assert [float(p["label"][0, 2, 2, 1]) for p in patches] == [wanted] * 6, "centred on the class asked for"

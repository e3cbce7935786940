"""Saved predictions lie on their source image's grid: same shape, same affine, same voxels, whatever
deterministic spatial transforms (pad, resize, pad/crop) the data went through before the model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from PIL import Image

from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.nodes.inference.specs import Case
from medical_imaging_framework.nodes.io.prediction_saving import save_case
from medical_imaging_framework.run.control import CancelToken
from medical_imaging_framework.run.executor import NodeContext
from tests.support.medical_files import shear_affine

SHAPE = (24, 20, 16)  # even sizes: 2x2x2 blocks survive a 2x nearest down/up-sampling exactly


class Threshold(torch.nn.Module):
    """A 'trained model' that segments exactly the voxels brighter than 0.5, so the truth is known."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return (image - 0.5) * 20.0


def _call(registry: NodeRegistry, type_id: str, inputs: dict[str, Any], **config: Any) -> dict[str, Any]:
    spec = registry.get(type_id)
    settings = {p.name: p.parse(config.get(p.name, p.default)) for p in spec.params}
    return spec.run(NodeContext(node_id="n", emit=lambda e: None, cancel=CancelToken()), inputs, settings)


def _predict_and_save(registry: NodeRegistry, images: Path, out: Path, steps: list[tuple[str, dict]],
                      fmt: str = "nifti", cache_dir: str = "") -> Any:
    """ImageFolder -> transforms -> Apply(val) -> DataLoader(batch 2) -> Predictor -> SavePredictions.

    Returns the transformed dataset (holding it keeps its transform objects alive).
    """
    dataset = _call(registry, "io.ImageFolder", {}, images_dir=str(images), labels_dir="")["dataset"]
    chain: tuple[Any, ...] = ()
    for type_id, config in steps:
        chain = _call(registry, type_id, {"transform": chain}, **config)["transform"]
    data = _call(registry, "transforms.Apply", {"transform": chain, "val": dataset}, cache_dir=cache_dir)["val"]
    loader = _call(registry, "data.DataLoader", {"dataset": data}, batch_size=2, shuffle=False)["loader"]
    predictions = _call(registry, "inference.Predictor", {"model": Threshold(), "data": loader},
                        sliding_window="off", device="cpu")["predictions"]
    _call(registry, "io.SavePredictions", {"predictions": predictions}, output_dir=str(out), format=fmt)
    return data


def _block_masks(folder: Path, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """NIfTI 'scans' that are their own mask: boxes on even voxel bounds, a different sheared affine each."""
    folder.mkdir(parents=True)
    cases = []
    for index in range(count):
        mask = np.zeros(SHAPE, np.float32)
        mask[4 + 2 * index:12 + 2 * index, 6:14, 2:10] = 1.0
        mask[18:22, 2:4, 12:16] = 1.0  # a second, small box near the far corner
        affine = shear_affine(index + 1)
        nib.save(nib.Nifti1Image(mask, affine), folder / f"scan_{index}.nii.gz")
        cases.append((mask, affine))
    return cases


@pytest.mark.parametrize(("steps", "model_shape"), [
    ([("transforms.DivisiblePad", {"k": 16})], (32, 32, 16)),
    ([("transforms.Resize", {"spatial_size": [12, 10, 8]})], (12, 10, 8)),
    ([("transforms.Resize", {"spatial_size": [12, 10, 8]}), ("transforms.DivisiblePad", {"k": 16})], (16, 16, 16)),
], ids=["divisible_pad", "resize_half", "resize_then_pad"])
def test_prediction_is_written_on_the_source_grid(registry: NodeRegistry, tmp_path: Path, steps: list,
                                                  model_shape: tuple[int, ...]) -> None:
    cases = _block_masks(tmp_path / "images", count=3)
    dataset = _call(registry, "io.ImageFolder", {}, images_dir=str(tmp_path / "images"), labels_dir="")["dataset"]
    chain: tuple[Any, ...] = ()
    for type_id, config in steps:
        chain = _call(registry, type_id, {"transform": chain}, **config)["transform"]
    seen = _call(registry, "transforms.Apply", {"transform": chain, "val": dataset})["val"][0]
    assert tuple(seen["image"].shape[1:]) == model_shape, "the model works on the transformed grid"
    _predict_and_save(registry, tmp_path / "images", tmp_path / "out", steps)
    for index, (mask, affine) in enumerate(cases):
        saved = nib.load(tmp_path / "out" / f"scan_{index}.nii.gz")
        assert saved.shape == SHAPE
        np.testing.assert_allclose(saved.affine, affine, atol=1e-6)
        np.testing.assert_array_equal(np.asarray(saved.dataobj), mask.astype(np.uint8),
                                      err_msg="the known mask is recovered on the same voxels")


def test_resize_by_an_odd_factor_and_centre_crop_stay_aligned(registry: NodeRegistry, tmp_path: Path) -> None:
    cases = _block_masks(tmp_path / "images", count=2)
    _predict_and_save(registry, tmp_path / "images", tmp_path / "resized",
                      [("transforms.Resize", {"spatial_size": [16, 16, 16]})])
    _predict_and_save(registry, tmp_path / "images", tmp_path / "cropped",
                      [("transforms.PadOrCrop", {"spatial_size": [16, 16, 16]})])
    for index, (mask, affine) in enumerate(cases):
        resized = nib.load(tmp_path / "resized" / f"scan_{index}.nii.gz")
        cropped = nib.load(tmp_path / "cropped" / f"scan_{index}.nii.gz")
        for saved in (resized, cropped):
            assert saved.shape == SHAPE
            np.testing.assert_allclose(saved.affine, affine, atol=1e-6)
        # 24 -> 16 is not a whole factor: nearest neighbour moves edges by at most one voxel
        values = np.asarray(resized.dataobj).astype(bool)
        truth = mask.astype(bool)
        dice = 2 * (values & truth).sum() / (values.sum() + truth.sum())
        assert dice > 0.85
        # the centre crop keeps x 4..19, y 2..17 (z is 16 already): exact inside, background outside
        kept = np.zeros(SHAPE, bool)
        kept[4:20, 2:18, :] = True
        np.testing.assert_array_equal(np.asarray(cropped.dataobj), (mask.astype(bool) & kept).astype(np.uint8))


def test_history_read_back_from_a_disk_cache_is_inverted_too(registry: NodeRegistry, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A later run reads the on-disk cache written by an earlier one, whose transform objects are gone."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # the cache key: not the user's own
    cases = _block_masks(tmp_path / "images", count=2)
    steps = [("transforms.Resize", {"spatial_size": [12, 10, 8]}), ("transforms.DivisiblePad", {"k": 16})]
    kept = []  # the first run's objects stay alive, so the later run's get other ids, as in a new process
    written: dict[Path, tuple[int, int]] = {}
    for run in ("first", "later"):
        kept.append(_predict_and_save(registry, tmp_path / "images", tmp_path / run, steps,
                                      cache_dir=str(tmp_path / "cache")))
        files = {path: (path.stat().st_ino, path.stat().st_mtime_ns)
                 for path in (tmp_path / "cache").glob("chain-*/*.pt")}
        assert written in ({}, files), "the later run read the first run's files (none refused and rewritten)"
        written = files
    assert len(written) == 2
    for index, (mask, affine) in enumerate(cases):
        saved = nib.load(tmp_path / "later" / f"scan_{index}.nii.gz")
        assert saved.shape == SHAPE
        np.testing.assert_allclose(saved.affine, affine, atol=1e-6)
        np.testing.assert_array_equal(np.asarray(saved.dataobj), mask.astype(np.uint8))


@pytest.mark.parametrize("steps", [[], [("transforms.Resize", {"spatial_size": [10, 12]})]],
                         ids=["no_transform", "resized"])
def test_png_round_trip_keeps_orientation(registry: NodeRegistry, tmp_path: Path, steps: list) -> None:
    (tmp_path / "images").mkdir()
    pixels = np.zeros((6, 5), np.uint8)  # Pillow order: 6 rows, 5 columns
    pixels[0, 3:] = 1  # top right (class indices 0/1, so the Threshold model sees 0..1)
    pixels[2:6, 0:2] = 1  # lower left
    Image.fromarray(pixels).save(tmp_path / "images" / "slice.png")
    _predict_and_save(registry, tmp_path / "images", tmp_path / "out", steps, fmt="png")
    with Image.open(tmp_path / "out" / "slice.png") as saved:
        assert saved.size == (5, 6)
        np.testing.assert_array_equal(np.asarray(saved), pixels)


def test_save_resamples_a_prediction_whose_affine_differs_from_its_source(tmp_path: Path) -> None:
    """SaveImage's resampling (on): a map on a coarser grid than its file is written on the file's grid."""
    generator = torch.Generator().manual_seed(0)
    prediction = (torch.rand(1, 9, 7, 5, generator=generator) * 3).to(torch.uint8)  # classes 0..2
    model_affine = shear_affine(2) @ np.diag([2.0, 2.0, 3.0, 1.0])
    grid = MetaTensor(prediction, affine=torch.from_numpy(model_affine),
                      meta={"original_affine": shear_affine(2), "spatial_shape": (18, 14, 15)})
    save_case(Case("c", None, grid, model_affine), [], tmp_path, ".nii.gz")
    saved = nib.load(tmp_path / "c.nii.gz")
    whole = np.asarray(saved.dataobj)
    np.testing.assert_allclose(saved.affine, shear_affine(2), atol=1e-6)
    assert whole.shape == (18, 14, 15) and whole.dtype == np.uint8 and set(np.unique(whole)) == {0, 1, 2}
    np.testing.assert_array_equal(whole[::2, ::2, ::3], prediction[0].numpy(), err_msg="voxel centres coincide")

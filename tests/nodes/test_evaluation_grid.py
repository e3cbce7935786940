"""Evaluation scores each case on its source grid (as Save Predictions writes it) unless asked for the model's grid.

Issue 19 point 2: Dice and HD95 were computed on the resized grid the model saw, not on the source images.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import torch
from monai.metrics import compute_hausdorff_distance

from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.run.control import CancelToken
from medical_imaging_framework.run.events import Event, LogLine
from medical_imaging_framework.run.executor import NodeContext

SHAPE = (22, 18, 10)  # not a multiple of the model's grid: the resize loses voxels both ways


class Threshold(torch.nn.Module):
    """A 'trained model' that segments the voxels brighter than 0.5 (the images are their own masks)."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return (image - 0.5) * 20.0


def _affine(index: int) -> np.ndarray:
    """0.8 x 0.8 x 2.5 mm voxels, turned 12 degrees about z for odd cases (as in the tester's CT data)."""
    angle = np.deg2rad(12.0 * (index % 2))
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag([0.8, 0.8, 2.5])
    affine[:3, 3] = [-8.0, 5.0, 12.0 + index]
    return affine


def _write_cases(root: Path, count: int) -> None:
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    grid = np.indices(SHAPE).astype(np.float32)
    for index in range(count):
        centre = np.array([10 + index, 8, 5], np.float32)[:, None, None, None]
        radii = np.array([6, 4, 3], np.float32)[:, None, None, None]
        mask = (((grid - centre) / radii) ** 2).sum(0) <= 1.0
        mask[17:19, 2:4, 1:3] = True  # a small second structure, which the resize shrinks or loses
        nib.save(nib.Nifti1Image(mask.astype(np.float32), _affine(index)), root / "images" / f"ct_{index}.nii.gz")
        nib.save(nib.Nifti1Image(mask.astype(np.int16), _affine(index)), root / "labels" / f"ct_{index}.nii.gz")


def _call(registry: NodeRegistry, type_id: str, inputs: dict[str, Any], events: list[Event] | None = None,
          **config: Any) -> dict[str, Any]:
    spec = registry.get(type_id)
    settings = {p.name: p.parse(config.get(p.name, p.default)) for p in spec.params}
    sink = events.append if events is not None else (lambda event: None)
    return spec.run(NodeContext(node_id=type_id, emit=sink, cancel=CancelToken()), inputs, settings)


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_dice_and_hd95_are_scored_on_the_source_grid_by_default(registry: NodeRegistry, tmp_path: Path) -> None:
    _write_cases(tmp_path, count=2)
    dataset = _call(registry, "io.ImageFolder", {}, images_dir=str(tmp_path / "images"),
                    labels_dir=str(tmp_path / "labels"))["dataset"]
    chain = _call(registry, "transforms.Resize", {"transform": ()}, spatial_size=[8, 8, 8])["transform"]
    data = _call(registry, "transforms.Apply", {"transform": chain, "val": dataset})["val"]
    loader = _call(registry, "data.DataLoader", {"dataset": data}, batch_size=2, shuffle=False)["loader"]
    predictions = _call(registry, "inference.Predictor", {"model": Threshold(), "data": loader},
                        sliding_window="off", device="cpu")["predictions"]
    _call(registry, "io.SavePredictions", {"predictions": predictions}, output_dir=str(tmp_path / "saved"))
    events: list[Event] = []
    _call(registry, "evaluation.EvaluateSegmentation", {"predictions": predictions}, events,
          output_dir=str(tmp_path / "original"))
    _call(registry, "evaluation.EvaluateSegmentation", {"predictions": predictions}, grid="model",
          output_dir=str(tmp_path / "model"))
    original = _rows(tmp_path / "original" / "evaluation.csv")
    model = _rows(tmp_path / "model" / "evaluation.csv")
    assert [row["grid"] for row in original] == ["original"] * 3
    assert [row["grid"] for row in model] == ["model"] * 3
    assert any("original grid" in event.text and "HD95 in mm" in event.text
               for event in events if isinstance(event, LogLine)), "the printed table names its grid and unit"
    for index in range(2):
        saved = nib.load(tmp_path / "saved" / f"ct_{index}.nii.gz")
        truth = nib.load(tmp_path / "labels" / f"ct_{index}.nii.gz")
        prediction, label = np.asarray(saved.dataobj) > 0, np.asarray(truth.dataobj) > 0
        dice = 2 * (prediction & label).sum() / (prediction.sum() + label.sum())
        hd95 = float(compute_hausdorff_distance(
            torch.from_numpy(prediction)[None, None], torch.from_numpy(label)[None, None], percentile=95,
            spacing=[float(z) for z in truth.header.get_zooms()[:3]])[0, 0])
        assert abs(float(original[index]["dice"]) - dice) < 1e-6, "the Dice of the saved prediction vs the label file"
        assert abs(float(original[index]["hd95"]) - hd95) < 1e-4, "HD95 in mm on the label file's voxels"
        assert abs(float(model[index]["dice"]) - dice) > 1e-3, "the resized grid scores differently"

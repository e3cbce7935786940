"""Tiny anisotropic 3D datasets for the fingerprint and plan tests: a few cases of about 24x20x8 voxels at
0.8 x 0.8 x 2.5 mm, three classes (background and two blobs), written as NIfTI in the Decathlon layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SPACING = (0.8, 0.8, 2.5)


def case_arrays(index: int, shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A CT-like image (air -1000, tissue 40, two brighter blobs) and its 3-class label."""
    rng = np.random.default_rng(index)
    grid = np.indices(shape).astype(np.float32)
    centre = np.array(shape, dtype=np.float32)[:, None, None, None] / 2
    radius = np.sqrt((((grid - centre) / centre) ** 2).sum(axis=0))
    label = np.zeros(shape, dtype=np.uint8)
    label[radius < 0.7] = 1
    label[radius < 0.35] = 2
    image = np.where(radius < 0.9, 40.0, -1000.0) + 60.0 * label + rng.normal(0, 5, shape)
    return image.astype(np.float32), label


def write_dataset(root: Path, shapes: list[tuple[int, int, int]], spacing: tuple[float, ...] = SPACING,
                  modality: str = "CT", label_spacing: dict[int, tuple[float, ...]] | None = None,
                  test_cases: int = 1) -> Path:
    """Write ``imagesTr``/``labelsTr`` (and ``imagesTs``) and ``dataset.json``; returns the JSON path.

    Args:
        root: the dataset folder (created).
        shapes: one shape per training case.
        spacing: the voxel size of every case (an LPS grid, as DICOM-derived NIfTI files often are).
        modality: written in dataset.json.
        label_spacing: case index -> another voxel size for that case's label (a geometry mismatch).
        test_cases: unlabelled cases under ``test``.
    """
    import nibabel as nib

    for folder in ("imagesTr", "labelsTr", "imagesTs"):
        (root / folder).mkdir(parents=True, exist_ok=True)

    def affine(voxel: tuple[float, ...]) -> np.ndarray:
        return np.diag([-voxel[0], -voxel[1], voxel[2], 1.0])  # LPS-stored axes

    training = []
    for index, shape in enumerate(shapes):
        image, label = case_arrays(index, shape)
        name = f"case_{index:02d}.nii.gz"
        nib.save(nib.Nifti1Image(image, affine(spacing)), root / "imagesTr" / name)
        voxel = (label_spacing or {}).get(index, spacing)
        nib.save(nib.Nifti1Image(label, affine(voxel)), root / "labelsTr" / name)
        training.append({"image": f"./imagesTr/{name}", "label": f"./labelsTr/{name}"})
    test = []
    for index in range(test_cases):
        image, _ = case_arrays(100 + index, shapes[0])
        name = f"test_{index:02d}.nii.gz"
        nib.save(nib.Nifti1Image(image, affine(spacing)), root / "imagesTs" / name)
        test.append(f"./imagesTs/{name}")
    path = root / "dataset.json"
    path.write_text(json.dumps({
        "name": "tiny", "modality": {"0": modality}, "labels": {"0": "background", "1": "organ", "2": "lesion"},
        "numTraining": len(training), "training": training, "test": test,
    }, indent=2))
    return path

"""A small, real-looking 3D CT dataset for end-to-end checks of `mif fingerprint` / `mif plan` / the planned
pipelines: CT-like Hounsfield units, three foreground classes of different sizes (one small lesion),
0.8 x 0.8 x 2.5 mm voxels, LPS-stored grids (and one RAS case), a different shape per case, one case whose label
has another affine than its image. Written in the Decathlon layout, as a CSV datalist, as a plain
imagesTr/labelsTr pair, and (some cases) as NRRD."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

SPACING = (0.8, 0.8, 2.5)
SHAPES = [(40, 36, 12), (44, 40, 14), (36, 40, 12), (42, 38, 13), (38, 44, 12), (46, 36, 14), (40, 42, 11),
          (44, 44, 12)]
RAS_CASE = 3       # stored with a RAS affine (every other case LPS)
SHIFTED_LABEL = 5  # its label's affine is translated by 4 mm: a geometry mismatch


def case_arrays(index: int, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """A CT-like body (air -1000 HU, fat -100, soft tissue 40) holding an organ (class 1, 60 HU), a vessel
    (class 2, contrast 200 HU) and a small lesion (class 3, 10 HU), with noise; and its label."""
    rng = np.random.default_rng(1000 + index)
    grid = np.indices(shape).astype(np.float32)
    size = np.array(shape, dtype=np.float32)[:, None, None, None]
    centre = size / 2 + rng.uniform(-1.5, 1.5, (3, 1, 1, 1)).astype(np.float32)
    body = np.sqrt((((grid[:2] - centre[:2]) / (size[:2] * 0.45)) ** 2).sum(axis=0)) < 1
    image = np.full(shape, -1000.0, dtype=np.float32)
    image[body] = -100.0
    inner = np.sqrt((((grid[:2] - centre[:2]) / (size[:2] * 0.38)) ** 2).sum(axis=0)) < 1
    image[inner] = 40.0
    label = np.zeros(shape, dtype=np.uint8)
    organ_centre = centre + np.array([[-4], [3], [0]], dtype=np.float32)[:, :, None, None]
    organ = (((grid - organ_centre) / np.array([9, 7, 4], dtype=np.float32)[:, None, None, None]) ** 2).sum(0) < 1
    label[organ] = 1
    vessel = ((grid[0] - centre[0] - 6) ** 2 + (grid[1] - centre[1] + 4) ** 2) < 4
    label[vessel & inner] = 2
    lesion_centre = organ_centre + np.array([[2], [-1], [0]], dtype=np.float32)[:, :, None, None]
    lesion = (((grid - lesion_centre) / np.array([2, 2, 1.2], dtype=np.float32)[:, None, None, None]) ** 2).sum(0) < 1
    label[lesion] = 3
    image[label == 1] = 60.0
    image[label == 2] = 200.0
    image[label == 3] = 10.0
    image += rng.normal(0, 12, shape).astype(np.float32)
    return image.astype(np.int16).astype(np.float32), label


def affine(index: int, spacing: tuple[float, ...] = SPACING) -> np.ndarray:
    """LPS-stored axes (as DICOM-derived NIfTI files often are), RAS for ``RAS_CASE``; a per-case origin."""
    signs = (1.0, 1.0, 1.0) if index == RAS_CASE else (-1.0, -1.0, 1.0)
    out = np.diag([signs[0] * spacing[0], signs[1] * spacing[1], signs[2] * spacing[2], 1.0])
    out[:3, 3] = (10.0 * index, -5.0 * index, 2.5 * index)
    return out


def write_all(root: Path, shapes: list[tuple[int, int, int]] | None = None, test_cases: int = 2) -> dict[str, Path]:
    """Write the dataset under ``root`` in every layout; returns ``{"decathlon", "csv", "pair", "nrrd"}`` paths.

    Args:
        root: the folder (created).
        shapes: one shape per training case (default ``SHAPES``).
        test_cases: unlabelled cases in ``imagesTs`` and the ``test`` list (one LPS, one RAS).
    """
    import nibabel as nib

    shapes = shapes or SHAPES
    deca = root / "Task01_Tiny"
    for folder in ("imagesTr", "labelsTr", "imagesTs"):
        (deca / folder).mkdir(parents=True, exist_ok=True)
    training = []
    for index, shape in enumerate(shapes):
        image, label = case_arrays(index, shape)
        name = f"ct_{index:03d}.nii.gz"
        nib.save(nib.Nifti1Image(image.astype(np.int16), affine(index)), deca / "imagesTr" / name)
        label_affine = affine(index)
        if index == SHIFTED_LABEL:
            label_affine[:3, 3] += (4.0, 0.0, 0.0)
        nib.save(nib.Nifti1Image(label, label_affine), deca / "labelsTr" / name)
        training.append({"image": f"./imagesTr/{name}", "label": f"./labelsTr/{name}"})
    test = []
    for index in range(test_cases):
        image, _ = case_arrays(200 + index, shapes[index % len(shapes)])
        name = f"ct_{100 + index:03d}.nii.gz"
        nib.save(nib.Nifti1Image(image.astype(np.int16), affine(RAS_CASE if index % 2 else 0)),
                 deca / "imagesTs" / name)
        test.append(f"./imagesTs/{name}")
    (deca / "dataset.json").write_text(json.dumps({
        "name": "TinyCT", "modality": {"0": "CT"},
        "labels": {"0": "background", "1": "organ", "2": "vessel", "3": "lesion"},
        "numTraining": len(training), "training": training, "test": test}, indent=2))
    with (root / "datalist.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "label"])
        for item in training:
            writer.writerow([f"Task01_Tiny/{item['image'][2:]}", f"Task01_Tiny/{item['label'][2:]}"])
    nrrd = root / "nrrd"
    for folder in ("imagesTr", "labelsTr"):
        (nrrd / folder).mkdir(parents=True, exist_ok=True)
    _write_nrrd(shapes, nrrd)
    return {"decathlon": deca / "dataset.json", "csv": root / "datalist.csv", "pair": deca, "nrrd": nrrd}


def _write_nrrd(shapes: list[tuple[int, int, int]], folder: Path) -> None:
    """The first four cases (with the RAS one) as NRRD with LPS space directions, via ITK."""
    import itk

    for index, shape in enumerate(shapes[:4]):
        image, label = case_arrays(index, shape)
        direction = np.diag([1.0, 1.0, 1.0])  # ITK is LPS: identity = LPS-stored axes
        if index == RAS_CASE:
            direction = np.diag([-1.0, -1.0, 1.0])
        for array, sub in ((image.astype(np.int16), "imagesTr"), (label, "labelsTr")):
            item = itk.image_from_array(np.ascontiguousarray(array.transpose(2, 1, 0)))
            item.SetSpacing([float(v) for v in SPACING])
            item.SetDirection(itk.matrix_from_array(direction))
            itk.imwrite(item, str(folder / sub / f"ct_{index:03d}.nrrd"))

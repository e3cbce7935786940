"""`mif make-demo-data DIR`: synthetic phantoms as NIfTI in the Medical Segmentation Decathlon layout.

``DIR/imagesTr/*.nii.gz``, ``DIR/labelsTr/*.nii.gz`` (same names), ``DIR/imagesTs/*.nii.gz`` and
``DIR/dataset.json`` with ``training``, ``validation`` and ``test`` lists of paths relative to it, so a
user sees the real format end to end (``io.Datalist`` reads it with MONAI's ``load_decathlon_datalist``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from medical_imaging_framework.nodes.data.phantoms import make_phantom


def write_demo_data(
    folder: str | Path, count: int = 24, size: int = 64, spatial_dims: int = 2, test_count: int = 4,
    val_fraction: float = 0.25, seed: int = 0, noise: float = 0.2,
) -> Path:
    """Write phantoms in the Decathlon layout; returns the ``dataset.json`` path.

    Args:
        folder: the dataset folder (created; existing files of the same names are replaced).
        count: labelled cases (split into ``training`` and ``validation``).
        size: edge length in voxels.
        spatial_dims: 2 or 3.
        test_count: unlabelled cases under ``test`` (``imagesTs``).
        val_fraction: share of the labelled cases listed under ``validation``.
        seed: the same seed writes the same data.
        noise: Gaussian noise of the images.
    """
    import nibabel as nib

    root = Path(folder).expanduser()
    for sub in ("imagesTr", "labelsTr", "imagesTs"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    affine = np.diag([1.0] * 3 + [1.0])
    labelled: list[dict[str, str]] = []
    test: list[str] = []
    for index in range(count + test_count):
        image, mask = make_phantom(size, spatial_dims, noise, np.random.default_rng([seed, index]))
        name = f"phantom_{index:03d}.nii.gz"
        if index < count:
            nib.save(nib.Nifti1Image(image, affine), root / "imagesTr" / name)
            nib.save(nib.Nifti1Image(mask.astype(np.uint8), affine), root / "labelsTr" / name)
            labelled.append({"image": f"./imagesTr/{name}", "label": f"./labelsTr/{name}"})
        else:
            nib.save(nib.Nifti1Image(image, affine), root / "imagesTs" / name)
            test.append(f"./imagesTs/{name}")
    val_count = max(1, round(count * val_fraction)) if count > 1 else 0
    description = {
        "name": "mif phantoms",
        "description": "Synthetic ellipses/ellipsoids over noise, written by `mif make-demo-data`.",
        "tensorImageSize": f"{spatial_dims}D",
        "modality": {"0": "synthetic"},
        "labels": {"0": "background", "1": "phantom"},
        "numTraining": count,
        "numTest": test_count,
        "training": labelled[: count - val_count],
        "validation": labelled[count - val_count:],
        "test": test,
    }
    path = root / "dataset.json"
    path.write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
    return path

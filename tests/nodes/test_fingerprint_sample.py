"""The fingerprint's foreground intensity sample is uniform over every class (issue 22, bench finding 1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medical_imaging_framework.nodes.io.fingerprint import fingerprint_dataset
from medical_imaging_framework.nodes.io.fingerprint_case import SAMPLE_SIZE, foreground_sample


def _write(root: Path, cases: int) -> tuple[Path, np.ndarray]:
    """A Decathlon dataset whose small bright class (200 HU, 8% of the foreground) lies last in array order."""
    import json

    import nibabel as nib

    for folder in ("imagesTr", "labelsTr"):
        (root / folder).mkdir(parents=True)
    shape, everything, training = (24, 24, 8), [], []
    for index in range(cases):
        rng = np.random.default_rng(index)
        label = np.ones(shape, dtype=np.uint8)
        label[22:] = 2  # the "lesion": the last slabs of the first (slowest) axis
        image = np.where(label == 2, 200.0, 90.0) + rng.normal(0, 10, shape)
        name = f"case_{index}.nii.gz"
        nib.save(nib.Nifti1Image(image.astype(np.float32), np.diag([0.8, 0.8, 2.5, 1.0])), root / "imagesTr" / name)
        nib.save(nib.Nifti1Image(label, np.diag([0.8, 0.8, 2.5, 1.0])), root / "labelsTr" / name)
        training.append({"image": f"./imagesTr/{name}", "label": f"./labelsTr/{name}"})
        everything.append(image.astype(np.float32).astype(np.float64).ravel())
    (root / "dataset.json").write_text(json.dumps({"name": "bright", "modality": {"0": "CT"},
                                                   "labels": {"0": "background", "1": "organ", "2": "lesion"},
                                                   "training": training}))
    return root / "dataset.json", np.concatenate(everything)


def test_a_small_bright_class_sets_the_pooled_99_5th_percentile(tmp_path: Path) -> None:
    dataset, voxels = _write(tmp_path / "ds", 2)
    stats = fingerprint_dataset(dataset, cache_dir=tmp_path / "cache")["intensity"]
    low, high = np.percentile(voxels, [0.5, 99.5])

    assert high > 180  # the lesion's voxels, not the organ's (~115 at most)
    assert abs(stats["p99_5"] - high) < 1.0
    assert abs(stats["p00_5"] - low) < 1.0
    assert abs(stats["mean"] - voxels.mean()) < 0.5


def test_the_sample_is_seeded_uniform_and_without_repeats() -> None:
    values = np.concatenate([np.full(95_000, 90.0), np.arange(5_000, dtype=np.float64) + 1000])  # 5% bright, last
    first, second = foreground_sample(values), foreground_sample(values)

    assert first.size == SAMPLE_SIZE and np.array_equal(first, second)
    assert 0.03 < (first >= 1000).mean() < 0.07
    assert np.unique(first[first >= 1000]).size == (first >= 1000).sum()
    assert np.array_equal(np.sort(foreground_sample(values[:50])), np.sort(values[:50]))

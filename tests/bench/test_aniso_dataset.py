"""bench/make_aniso_dataset.py writes what bench/plan_vs_nnunet.py promises (anisotropic, LPS, CT, shapes per
case, both classes, a fixed split), and bench/nnunet_layout.py turns it into nnU-Net v2's raw layout; no
nnunetv2 needed."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from bench.make_aniso_dataset import SPACING, write_dataset
from bench.nnunet_layout import convert, nnunet_splits, read_splits


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("aniso"), cases=4, test=1, seed=0).parent


def _cases(root: Path) -> list[tuple[nib.Nifti1Image, nib.Nifti1Image]]:
    description = json.loads((root / "dataset.json").read_text(encoding="utf-8"))
    pairs = [(root / item["image"], root / item["label"]) for item in description["training"]]
    pairs += [(root / path, root / path.replace("imagesTs", "labelsTs")) for path in description["test"]]
    return [(nib.load(image), nib.load(label)) for image, label in pairs]


def test_the_cases_are_anisotropic_lps_ct_with_both_classes_and_shapes_differ(dataset: Path) -> None:
    cases = _cases(dataset)
    assert len(cases) == 4
    shapes = set()
    for image, label in cases:
        assert image.shape == label.shape
        np.testing.assert_allclose(image.header.get_zooms(), SPACING, rtol=1e-6)
        np.testing.assert_allclose(image.affine, label.affine)
        assert nib.aff2axcodes(image.affine) == ("L", "P", "S")
        np.testing.assert_allclose(np.abs(np.diag(image.affine)[:3]), SPACING, rtol=1e-6)
        values = np.asarray(label.dataobj)
        assert set(np.unique(values).tolist()) == {0, 1, 2}
        assert (values == 2).sum() < (values == 1).sum() / 5  # the lesion is the small structure
        hu = np.asarray(image.dataobj)
        assert hu.min() <= -900 and hu.max() >= 500  # air and bone: a CT range, not [0, 1]
        shapes.add(image.shape)
    assert len(shapes) == 4


def test_the_dataset_json_and_the_fixed_split(dataset: Path) -> None:
    description = json.loads((dataset / "dataset.json").read_text(encoding="utf-8"))
    assert description["modality"] == {"0": "CT"}
    assert description["labels"] == {"0": "background", "1": "organ", "2": "lesion"}
    assert description["numTraining"] == 3 and len(description["training"]) == 3
    assert description["test"] == ["./imagesTs/case_003.nii.gz"]
    splits = read_splits(dataset)
    assert splits == {"train": ["case_000", "case_001", "case_002"], "test": ["case_003"]}


def test_the_same_seed_writes_the_same_cases(dataset: Path, tmp_path: Path) -> None:
    again = write_dataset(tmp_path, cases=4, test=1, seed=0).parent
    for (first, _), (second, _) in zip(_cases(dataset), _cases(again), strict=True):
        np.testing.assert_array_equal(np.asarray(first.dataobj), np.asarray(second.dataobj))


def test_the_nnunet_raw_layout(dataset: Path, tmp_path: Path) -> None:
    target = convert(dataset, tmp_path / "nnUNet_raw", 501, "AnisoCT")
    assert target == tmp_path / "nnUNet_raw" / "Dataset501_AnisoCT"
    assert sorted(p.name for p in (target / "imagesTr").iterdir()) == [
        "case_000_0000.nii.gz", "case_001_0000.nii.gz", "case_002_0000.nii.gz"]
    assert sorted(p.name for p in (target / "labelsTr").iterdir()) == [
        "case_000.nii.gz", "case_001.nii.gz", "case_002.nii.gz"]
    assert [p.name for p in (target / "imagesTs").iterdir()] == ["case_003_0000.nii.gz"]
    description = json.loads((target / "dataset.json").read_text(encoding="utf-8"))
    assert description["channel_names"] == {"0": "CT"}
    assert description["labels"] == {"background": 0, "organ": 1, "lesion": 2}
    assert description["numTraining"] == 3
    assert description["file_ending"] == ".nii.gz"
    copied = nib.load(target / "labelsTr" / "case_001.nii.gz")
    source = nib.load(dataset / "labelsTr" / "case_001.nii.gz")
    np.testing.assert_array_equal(np.asarray(copied.dataobj), np.asarray(source.dataobj))
    np.testing.assert_allclose(copied.affine, source.affine)


def test_nnunets_fold_trains_on_every_training_case_and_never_sees_the_test_cases(dataset: Path) -> None:
    splits = read_splits(dataset)
    fold = nnunet_splits(splits["train"], validation_count=1)
    assert fold == [{"train": ["case_000", "case_001", "case_002"], "val": ["case_002"]}]
    assert not set(fold[0]["train"] + fold[0]["val"]) & set(splits["test"])


def test_the_bench_scores_predictions_on_the_source_grid_only(dataset: Path, tmp_path: Path) -> None:
    from bench.seg_dice import dice_per_class

    labels = dataset / "labelsTr"
    exact = tmp_path / "exact"
    exact.mkdir()
    source = nib.load(labels / "case_000.nii.gz")
    values = np.asarray(source.dataobj).copy()
    nib.save(nib.Nifti1Image(values, source.affine), exact / "case_000.nii.gz")
    missed = values.copy()
    missed[missed == 2] = 0  # the lesion missed: class 2's Dice is 0, class 1's still 1
    nib.save(nib.Nifti1Image(missed, source.affine), exact / "case_001_seg.nii.gz")
    (tmp_path / "ref").mkdir()
    for case in ("case_000", "case_001"):
        (tmp_path / "ref" / f"{case}.nii.gz").write_bytes((labels / "case_000.nii.gz").read_bytes())
    np.testing.assert_allclose(dice_per_class(exact, tmp_path / "ref", ["case_000", "case_001"], 3), [[1, 1], [1, 0]])
    shifted = tmp_path / "shifted"
    shifted.mkdir()
    nib.save(nib.Nifti1Image(values, source.affine @ np.diag([1, 1, 2, 1])), shifted / "case_000.nii.gz")
    with pytest.raises(SystemExit, match="source image's grid"):
        dice_per_class(shifted, tmp_path / "ref", ["case_000"], 3)

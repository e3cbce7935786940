"""`mif fingerprint`: per-case geometry and intensities, dataset medians, problems naming their files, the cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medical_imaging_framework.cli.main import main
from tests.support.plan_data import write_dataset

SHAPES = [(24, 20, 8), (20, 24, 8), (24, 24, 6), (28, 20, 8)]


def test_a_label_on_another_grid_is_named_and_the_medians_are_in_ras_order(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dataset = write_dataset(tmp_path / "ds", SHAPES, label_spacing={1: (0.8, 0.8, 3.0)})
    output = tmp_path / "out" / "fingerprint.json"

    assert main(["fingerprint", str(dataset), "-o", str(output)]) == 0

    fingerprint = json.loads(output.read_text())
    mismatched = str(tmp_path / "ds" / "labelsTr" / "case_01.nii.gz")
    assert [(p["kind"], p["file"], p["case"]) for p in fingerprint["problems"]] == [
        ("geometry", mismatched, "case_01")]
    assert mismatched in capsys.readouterr().err
    assert fingerprint["median_spacing"] == pytest.approx([0.8, 0.8, 2.5])
    assert fingerprint["median_shape"] == [24.0, 22.0, 8.0]
    assert fingerprint["spacing_anisotropy"] == pytest.approx(2.5 / 0.8)
    assert fingerprint["modality"] == "CT" and fingerprint["classes"] == [0, 1, 2]
    case = fingerprint["cases"][0]
    assert case["axcodes"] == "LPS" and case["shape"] == [24, 20, 8]
    assert case["class_voxels"]["2"] > 0 and sum(case["class_voxels"].values()) == 24 * 20 * 8
    # foreground intensities: tissue (40) + 60 per class step, never the -1000 of air
    assert 60 < case["intensity"]["p00_5"] < case["intensity"]["mean"] < case["intensity"]["p99_5"] < 200


def test_a_label_of_another_shape_stray_values_and_a_case_far_from_the_median_are_problems(tmp_path: Path) -> None:
    import nibabel as nib
    import numpy as np

    dataset = write_dataset(tmp_path / "ds", [*SHAPES[:3], (24, 20, 30)])  # 30 slices: over 3x the median 8
    label = tmp_path / "ds" / "labelsTr" / "case_02.nii.gz"
    nib.save(nib.Nifti1Image(np.full((10, 10, 4), 7, dtype=np.uint8), np.diag([-0.8, -0.8, 2.5, 1])), label)

    assert main(["fingerprint", str(dataset), "-o", str(tmp_path / "fp.json")]) == 0

    kinds = {p["kind"]: p for p in json.loads((tmp_path / "fp.json").read_text())["problems"]}
    assert kinds["geometry"]["file"] == str(label) and "[10, 10, 4]" in kinds["geometry"]["message"]
    assert kinds["label values"]["file"] == str(label) and "7" in kinds["label values"]["message"]
    far = kinds["far from the median shape"]
    assert far["file"] == str(tmp_path / "ds" / "imagesTr" / "case_03.nii.gz") and "axis 2" in far["message"]


def test_a_second_fingerprint_reads_only_changed_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from medical_imaging_framework.nodes.io import fingerprint as module

    dataset = write_dataset(tmp_path / "ds", SHAPES[:2], test_cases=0)
    assert main(["fingerprint", str(dataset), "-o", str(tmp_path / "fp.json")]) == 0
    read: list[str] = []
    original = module.read_case
    monkeypatch.setattr(module, "read_case", lambda name, *rest: read.append(name) or original(name, *rest))
    (tmp_path / "ds" / "imagesTr" / "case_01.nii.gz").touch()  # a new mtime: that case only is read again

    assert main(["fingerprint", str(dataset), "-o", str(tmp_path / "fp.json")]) == 0
    assert read == ["case_01"]


def test_a_missing_dataset_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fingerprint", str(tmp_path / "nothere")]) == 2
    assert capsys.readouterr().err.strip() == f"error: dataset '{tmp_path / 'nothere'}' does not exist"


@pytest.mark.parametrize("command", ["fingerprint", "plan"])
def test_a_dataset_json_listing_a_missing_file_is_one_line_naming_it_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    """The planned pipelines read every listed file: a missing one is refused before anything is measured."""
    dataset = write_dataset(tmp_path / "ds", SHAPES[:2], test_cases=0)
    missing = dataset.parent / "labelsTr" / "case_01.nii.gz"
    missing.unlink()
    assert main([command, str(dataset), "-o" if command == "fingerprint" else "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: dataset '{dataset}': case 'case_01' lists label '{missing}', which does not exist "
                   "(every listed image and label must exist)"]

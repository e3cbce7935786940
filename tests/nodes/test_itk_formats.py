"""NRRD and MetaImage through MONAI's ITKReader: files written here with ITK, with a non-identity spacing,
origin and direction, read through ImageFolder (array and affine), and predictions on them written back on
their grid."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medical_imaging_framework.core import NodeRegistry
from tests.nodes.test_image_folder import _run
from tests.nodes.test_prediction_grid import _predict_and_save
from tests.support.medical_files import write_dicom_slice

itk = pytest.importorskip("itk", reason="ITK (itk-io) is a dependency; it is missing from this environment")
# ITK's SWIG bindings warn about themselves on import under Python 3.11+; nothing here to act on
pytestmark = pytest.mark.filterwarnings("ignore:builtin type .* has no __module__ attribute:DeprecationWarning")

SPACING = (0.7, 1.3, 2.5)
ORIGIN = (10.0, -20.0, 5.0)
ANGLE = np.deg2rad(30.0)
DIRECTION = np.array([[np.cos(ANGLE), -np.sin(ANGLE), 0.0], [np.sin(ANGLE), np.cos(ANGLE), 0.0], [0.0, 0.0, 1.0]])


def expected_affine() -> np.ndarray:
    """ITK's geometry is LPS (direction times spacing, then origin); MONAI's affines are RAS like NIfTI's."""
    lps = np.eye(4)
    lps[:3, :3] = DIRECTION @ np.diag(SPACING)
    lps[:3, 3] = ORIGIN
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps


def write_itk(path: Path, volume: np.ndarray) -> None:
    """``volume`` indexed (x, y, z) like NIfTI voxels; ITK's numpy view is (z, y, x)."""
    image = itk.image_from_array(np.ascontiguousarray(volume.T))
    image.SetSpacing(SPACING)
    image.SetOrigin(ORIGIN)
    image.SetDirection(itk.matrix_from_array(DIRECTION))
    itk.imwrite(image, str(path))


@pytest.mark.parametrize("suffix", [".nrrd", ".mha", ".mhd"])
def test_nrrd_and_metaimage_read_with_their_geometry(tmp_path: Path, suffix: str) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    volume = np.arange(6 * 5 * 4, dtype=np.float32).reshape(6, 5, 4)
    mask = (volume > 60).astype(np.uint8)
    write_itk(tmp_path / "images" / f"scan{suffix}", volume)
    write_itk(tmp_path / "labels" / f"scan{suffix}", mask)
    if suffix == ".mhd":
        assert (tmp_path / "images" / "scan.raw").exists(), "MetaImage header + raw data: the .raw is not listed"
    dataset, _ = _run(tmp_path / "images", tmp_path / "labels")
    assert len(dataset) == 1
    item = dataset[0]
    assert item["name"] == "scan" and item["image"].shape == (1, 6, 5, 4)
    np.testing.assert_array_equal(item["image"][0].numpy(), volume, err_msg="x, y, z like NIfTI voxels")
    np.testing.assert_array_equal(item["label"][0].numpy(), mask)
    np.testing.assert_allclose(item["image"].affine.numpy(), expected_affine(), atol=1e-5)
    np.testing.assert_allclose(item["affine"].numpy(), expected_affine(), atol=1e-5)


def test_prediction_on_an_nrrd_scan_is_written_on_its_grid(registry: NodeRegistry, tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    mask = np.zeros((12, 10, 8), np.float32)  # the scan is its own mask (the test model thresholds at 0.5)
    mask[2:8, 4:10, 2:6] = 1.0
    write_itk(tmp_path / "images" / "scan.nrrd", mask)
    _predict_and_save(registry, tmp_path / "images", tmp_path / "out",
                      [("transforms.Resize", {"spatial_size": [6, 5, 4]}), ("transforms.DivisiblePad", {"k": 8})])
    saved = nib.load(tmp_path / "out" / "scan.nii.gz")
    assert saved.shape == mask.shape
    np.testing.assert_allclose(saved.affine, expected_affine(), atol=1e-5)
    np.testing.assert_array_equal(np.asarray(saved.dataobj), mask.astype(np.uint8))
    _predict_and_save(registry, tmp_path / "images", tmp_path / "as_nrrd",
                      [("transforms.Resize", {"spatial_size": [6, 5, 4]})], fmt="nrrd")
    again = itk.imread(str(tmp_path / "as_nrrd" / "scan.nrrd"))  # in the source's own format and geometry
    np.testing.assert_allclose(np.asarray(again.GetSpacing()), SPACING, atol=1e-5)
    np.testing.assert_allclose(np.asarray(again.GetOrigin()), ORIGIN, atol=1e-5)
    np.testing.assert_allclose(itk.array_from_matrix(again.GetDirection()), DIRECTION, atol=1e-5)
    np.testing.assert_array_equal(itk.array_from_image(again).T, mask.astype(np.uint8))


def test_multi_frame_dicom_is_read_column_row_frame(tmp_path: Path) -> None:
    """A multi-frame DICOM file (frames, rows, columns on disk) is read (x = column, y = row, z = frame)."""
    import pydicom

    from medical_imaging_framework.nodes.io.image_loading import load_image

    frames = np.arange(3 * 4 * 5, dtype=np.uint16).reshape(3, 4, 5)
    path = tmp_path / "multi.dcm"
    write_dicom_slice(path, frames[0], position_z=0.0, instance=1, slope=2.0, intercept=-10.0)
    dataset = pydicom.dcmread(path)
    dataset.NumberOfFrames = 3
    dataset.PixelData = frames.tobytes()
    dataset.save_as(path)
    image = load_image(path)
    assert image.shape == (1, 5, 4, 3)
    np.testing.assert_allclose(image[0].numpy(), frames.transpose(2, 1, 0) * 2.0 - 10.0)
    np.testing.assert_allclose(np.abs(np.diag(image.affine.numpy()))[:2], [0.75, 0.5])

"""Readers: nibabel's and pydicom's bundled test files, DICOM series written here, PNG/TIFF."""

from __future__ import annotations

import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import torch
from PIL import Image
from pydicom.data import get_testdata_file

from medical_imaging_framework.nodes.io.image_loading import load_image
from medical_imaging_framework.nodes.io.readers import ReadError, stem
from tests.support.medical_files import write_dicom_slice

NIBABEL_DATA = Path(nib.__file__).parent / "tests" / "data"
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def read_image(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(array (C, *spatial), affine)`` of the MetaTensor the reader returns."""
    image = load_image(path)
    assert image.dtype == torch.float32
    return image.numpy(), image.affine.numpy()


def test_nifti_3d_keeps_data_and_affine() -> None:
    path = NIBABEL_DATA / "anatomical.nii"
    array, affine = read_image(path)
    reference = nib.load(path)
    assert array.shape == (1, *reference.shape) and array.dtype == np.float32
    np.testing.assert_allclose(array[0], reference.get_fdata())
    np.testing.assert_allclose(affine, reference.affine)


def test_nifti_4d_puts_the_last_axis_first_as_channels() -> None:
    path = NIBABEL_DATA / "example4d.nii.gz"
    array, affine = read_image(path)
    reference = nib.load(path)
    assert array.shape == (2, 128, 96, 24)
    np.testing.assert_allclose(array[1], reference.get_fdata()[..., 1])
    np.testing.assert_allclose(affine, reference.affine)


def _nibabel_dicom_geometry(path: str) -> tuple[np.ndarray, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nibabel calls its DICOM readers experimental
        from nibabel.nicom import dicomwrappers

        wrapper = dicomwrappers.wrapper_from_file(path)
        return wrapper.get_data(), wrapper.affine


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm"])
def test_dicom_file_matches_nibabel_geometry_and_applies_rescale(name: str) -> None:
    path = get_testdata_file(name)
    array, affine = read_image(Path(path))
    data, lps_row_major = _nibabel_dicom_geometry(path)
    # nibabel indexes (row, column) in LPS; we index (column, row) in RAS like NIfTI.
    swap = np.eye(4)[[1, 0, 2, 3]]
    expected_affine = LPS_TO_RAS @ lps_row_major @ swap
    # in-plane axes and origin must agree; a lone 2D slice has no third voxel axis, so the third column is a
    # convention: MONAI's PydicomReader writes the unit slice normal (nibabel scales it by the thickness)
    np.testing.assert_allclose(affine[:, [0, 1, 3]], expected_affine[:, [0, 1, 3]], atol=1e-6)
    normal = expected_affine[:3, 2] / np.linalg.norm(expected_affine[:3, 2])
    np.testing.assert_allclose(np.abs(affine[:3, 2]), np.abs(normal), atol=1e-6)
    np.testing.assert_allclose(array[0], np.asarray(data, dtype=np.float32).T, atol=1e-4)
    ds = pydicom.dcmread(path)
    expected = ds.pixel_array.T * float(getattr(ds, "RescaleSlope", 1)) + float(getattr(ds, "RescaleIntercept", 0))
    np.testing.assert_allclose(array[0], expected)


def test_dicom_series_geometry_follows_the_positions_and_is_rescaled(tmp_path: Path) -> None:
    folder = tmp_path / "series"
    folder.mkdir()
    slices = [np.full((4, 3), value, dtype=np.uint16) for value in (10, 20, 30)]
    slices[0][0, 0] = 99
    # written out of order, with InstanceNumber running against the position (as in a feet-first scan):
    # MONAI stacks by InstanceNumber and takes the slice step from the first and last positions, so every
    # voxel's world position is its slice's ImagePositionPatient whichever way the slices are stored
    for file_name, index in (("b.dcm", 2), ("a.dcm", 0), ("c.dcm", 1)):
        write_dicom_slice(folder / file_name, slices[index], position_z=5.0 + 2.0 * index, instance=3 - index,
                          slope=2.0, intercept=-100.0)
    array, affine = read_image(folder)
    assert array.shape == (1, 3, 4, 3)  # (columns, rows, slices)
    by_height = {float((affine @ [1, 1, k, 1])[2]): float(array[0, 1, 1, k]) for k in range(3)}
    assert by_height == {5.0: -80.0, 7.0: -60.0, 9.0: -40.0}, "slice at z = 5 + 2i holds value 10(i+1), rescaled"
    first = int(np.argmin([float((affine @ [0, 0, k, 1])[2]) for k in range(3)]))
    assert array[0, 0, 0, first] == 99 * 2 - 100
    np.testing.assert_allclose(np.abs(np.diag(affine)[:3]), [0.75, 0.5, 2.0])
    np.testing.assert_allclose((affine @ [0, 0, first, 1])[:3], [20.0, -10.0, 5.0])


def test_dicom_series_without_positions_is_sorted_by_instance_number(tmp_path: Path) -> None:
    folder = tmp_path / "series"
    folder.mkdir()
    for file_name, instance in (("x.dcm", 3), ("y.dcm", 1), ("z.dcm", 2)):
        write_dicom_slice(folder / file_name, np.full((2, 2), instance, np.uint16), 0.0, instance,
                          with_position=False)
    array, _ = read_image(folder)
    assert [float(array[0, 0, 0, k]) for k in range(3)] == [1.0, 2.0, 3.0]


def test_dicom_without_pixel_data_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "report.dcm"
    write_dicom_slice(path, np.zeros((2, 2)), 0.0, 1, with_pixels=False)
    with pytest.raises(ReadError, match=r"report\.dcm.*no pixel data"):
        read_image(path)


def test_png_and_tiff_are_indexed_column_row_like_nifti(tmp_path: Path) -> None:
    grey = (np.arange(12, dtype=np.uint8).reshape(3, 4) * 10)  # Pillow/numpy order: 3 rows, 4 columns
    Image.fromarray(grey).save(tmp_path / "a.png")
    Image.fromarray(grey.astype(np.float32)).save(tmp_path / "b.tif")
    rgb_pixels = np.stack([grey, grey + 1, grey + 2], axis=-1)
    Image.fromarray(rgb_pixels).save(tmp_path / "c.png")
    for name in ("a.png", "b.tif"):
        array, affine = read_image(tmp_path / name)
        assert array.shape == (1, 4, 3), "(x = column, y = row)"
        np.testing.assert_array_equal(array[0], grey.T)
        assert array[0, 3, 0] == grey[0, 3], "x walks along a row"
        np.testing.assert_array_equal(affine, np.eye(4))
    rgb, _ = read_image(tmp_path / "c.png")
    assert rgb.shape == (3, 4, 3)
    for channel in range(3):
        np.testing.assert_array_equal(rgb[channel], rgb_pixels[..., channel].T)


@pytest.mark.parametrize("name", ["broken.nii.gz", "broken.dcm", "broken.png"])
def test_corrupt_files_raise_a_read_error_naming_the_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"this is not an image" * 10)
    with pytest.raises(ReadError, match=name.replace(".", r"\.")):
        read_image(path)


def test_truncated_nifti_is_refused(tmp_path: Path) -> None:
    good = tmp_path / "good.nii"
    nib.save(nib.Nifti1Image(np.zeros((8, 8, 8), np.float32), np.eye(4)), good)
    cut = tmp_path / "cut.nii"
    cut.write_bytes(good.read_bytes()[:600])
    with pytest.raises(ReadError, match=r"cut\.nii"):
        read_image(cut)


def test_stem_strips_double_suffixes() -> None:
    assert stem(Path("case1.nii.gz")) == "case1"
    assert stem(Path("scan.DCM")) == "scan"
    assert stem(Path("series_folder")) == "series_folder"


def test_a_library_deprecation_during_a_read_is_not_a_note_on_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ITK's SWIG bindings warn "builtin type SwigPyPacked has no __module__ attribute" the first time an NRRD
    is read: that is about the library, not the file, so it must not be shown as a warning naming the file."""
    from medical_imaging_framework.nodes.io import image_loading

    path = tmp_path / "case.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 3), np.float32), np.eye(4)), path)
    real = image_loading._loader("image")

    def warning_loader(data: dict, reader: object) -> dict:
        warnings.warn("builtin type SwigPyPacked has no __module__ attribute", DeprecationWarning, stacklevel=1)
        warnings.warn("header has no orientation", UserWarning, stacklevel=1)
        return real(data, reader)

    monkeypatch.setattr(image_loading, "_loader", lambda key: warning_loader)
    notes: list[str] = []
    load_image(path, notes=notes)
    assert notes == [f"'{path}': header has no orientation"]

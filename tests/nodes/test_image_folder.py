"""ImageFolder: pairing by stem, affine in every item, caching, and a clear error for each bad input."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from medical_imaging_framework.nodes.io.image_dataset import ImageFolderDataset
from medical_imaging_framework.nodes.io.image_folder_specs import list_entries, pair_entries, run_image_folder
from medical_imaging_framework.nodes.io.image_loading import load_image
from medical_imaging_framework.run.control import CancelToken, NodeError
from medical_imaging_framework.run.events import Event, LogLine
from medical_imaging_framework.run.executor import NodeContext
from tests.support.medical_files import write_dicom_slice, write_nifti_phantoms


def _run(images: Path, labels: Path | str, cache: bool = True, label_mapping: str = "none") -> tuple[Any, list[Event]]:
    events: list[Event] = []
    ctx = NodeContext(node_id="image_folder", emit=events.append, cancel=CancelToken())
    config = {"images_dir": str(images), "labels_dir": str(labels), "cache": cache, "label_mapping": label_mapping}
    out = run_image_folder(ctx, {}, config)
    return out["dataset"], events


def _save(path: Path, shape: tuple[int, ...], affine: np.ndarray | None = None) -> None:
    nib.save(nib.Nifti1Image(np.zeros(shape, np.float32), np.eye(4) if affine is None else affine), path)


def test_items_hold_image_label_name_and_affine(tmp_path: Path) -> None:
    affines = write_nifti_phantoms(tmp_path, count=3, size=8)
    dataset, events = _run(tmp_path / "images", tmp_path / "labels")
    assert len(dataset) == 3
    for index in range(3):
        item = dataset[index]
        assert item["name"] == f"case_{index}"
        assert item["image"].shape == (1, 8, 8, 8) and item["label"].shape == (1, 8, 8, 8)
        np.testing.assert_allclose(item["affine"].numpy(), affines[index])
        assert set(np.unique(item["label"].numpy())) <= {0.0, 1.0}
    assert any(isinstance(e, LogLine) and "3 labelled 3D images" in e.text for e in events)


def test_unlabelled_folder_gives_images_only(tmp_path: Path) -> None:
    write_nifti_phantoms(tmp_path, count=2, size=8)
    dataset, _ = _run(tmp_path / "images", "")
    assert "label" not in dataset[0] and dataset[0]["image"].shape == (1, 8, 8, 8)


def test_dicom_series_folder_and_png_pair_by_name(tmp_path: Path) -> None:
    images, labels = tmp_path / "images", tmp_path / "labels"
    (images / "ct1").mkdir(parents=True)
    labels.mkdir()
    for k in range(2):
        write_dicom_slice(images / "ct1" / f"s{k}.dcm", np.full((4, 3), k, np.uint16), 2.0 * k, k + 1)
    _save(labels / "ct1.nii.gz", (3, 4, 2))
    Image.fromarray(np.zeros((5, 6), np.uint8)).save(images / "photo.png")
    Image.fromarray(np.ones((5, 6), np.uint8)).save(labels / "photo.png")
    with pytest.raises(NodeError, match=r"photo\.png' is 2D but earlier images are 3D"):
        _run(images, labels)
    (images / "photo.png").unlink()
    (labels / "photo.png").unlink()
    dataset, _ = _run(images, labels)
    assert dataset[0]["name"] == "ct1" and dataset[0]["image"].shape == (1, 3, 4, 2)


def test_missing_and_empty_folders_are_named(tmp_path: Path) -> None:
    with pytest.raises(NodeError, match=r"images folder '.*nowhere' does not exist"):
        _run(tmp_path / "nowhere", "")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not an image")
    with pytest.raises(NodeError, match=r"images folder '.*empty' holds no images"):
        _run(tmp_path / "empty", "")
    write_nifti_phantoms(tmp_path / "data", count=1, size=8)
    with pytest.raises(NodeError, match=r"labels folder '.*missing_labels' does not exist"):
        _run(tmp_path / "data" / "images", tmp_path / "missing_labels")


def test_unpaired_image_and_unpaired_label_are_named(tmp_path: Path) -> None:
    write_nifti_phantoms(tmp_path, count=2, size=8)
    _save(tmp_path / "images" / "lonely.nii.gz", (8, 8, 8))
    with pytest.raises(NodeError, match=r"image '.*lonely\.nii\.gz' has no label"):
        _run(tmp_path / "images", tmp_path / "labels")
    (tmp_path / "images" / "lonely.nii.gz").unlink()
    _save(tmp_path / "labels" / "orphan.nii.gz", (8, 8, 8))
    with pytest.raises(NodeError, match=r"label '.*orphan\.nii\.gz' has no image"):
        _run(tmp_path / "images", tmp_path / "labels")


def test_same_stem_twice_is_refused(tmp_path: Path) -> None:
    write_nifti_phantoms(tmp_path, count=1, size=8)
    _save(tmp_path / "images" / "case_0.nii", (8, 8, 8))
    with pytest.raises(NodeError, match=r"'case_0\.nii' and 'case_0\.nii\.gz' have the same name"):
        list_entries(tmp_path / "images", "images")


def test_corrupt_file_is_named(tmp_path: Path) -> None:
    write_nifti_phantoms(tmp_path, count=2, size=8)
    (tmp_path / "labels" / "case_1.nii.gz").write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(NodeError, match=r"cannot read '.*labels/case_1\.nii\.gz'"):
        _run(tmp_path / "images", tmp_path / "labels")


def test_dicom_without_pixel_data_is_named(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    write_dicom_slice(tmp_path / "images" / "sr.dcm", np.zeros((2, 2)), 0.0, 1, with_pixels=False)
    with pytest.raises(NodeError, match=r"sr\.dcm': DICOM file has no pixel data"):
        _run(tmp_path / "images", "")


def test_shape_mismatch_names_label_and_image(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    _save(tmp_path / "images" / "a.nii.gz", (8, 8, 8))
    _save(tmp_path / "labels" / "a.nii.gz", (8, 8, 6))
    with pytest.raises(NodeError, match=r"label '.*a\.nii\.gz' has shape \(8, 8, 6\) but its image .* \(8, 8, 8\)"):
        _run(tmp_path / "images", tmp_path / "labels")


def test_mixed_dimensionality_is_named(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    _save(tmp_path / "images" / "a.nii.gz", (8, 8, 8))
    _save(tmp_path / "images" / "b.nii.gz", (8, 8))
    with pytest.raises(NodeError, match=r"image '.*b\.nii\.gz' is 2D but earlier images are 3D"):
        _run(tmp_path / "images", "")


def test_cache_reads_each_file_once(tmp_path: Path) -> None:
    write_nifti_phantoms(tmp_path, count=3, size=8)
    pairs = pair_entries(list_entries(tmp_path / "images", "images"), list_entries(tmp_path / "labels", "labels"))
    calls: list[Path] = []

    def counting_reader(path: Path) -> Any:
        calls.append(path)
        return load_image(path)

    cached = ImageFolderDataset(pairs, cache=True, reader=counting_reader)
    for _epoch in range(3):
        _ = [cached[i] for i in range(len(cached))]
    assert len(calls) == 6, "3 images + 3 labels, read once"
    calls.clear()
    uncached = ImageFolderDataset(pairs, cache=False, reader=counting_reader)
    for _epoch in range(3):
        _ = [uncached[i] for i in range(len(uncached))]
    assert len(calls) == 6 + 3 * 6, "checked once, then read on every access"


def test_dicom_slice_and_png_mask_of_it_line_up(tmp_path: Path) -> None:
    """A PNG mask drawn on a DICOM slice (6 rows, 5 columns, not square) is read on the slice's voxels."""
    images, labels = tmp_path / "images", tmp_path / "labels"
    images.mkdir()
    labels.mkdir()
    pixels = np.arange(30, dtype=np.uint16).reshape(6, 5) * 10  # (rows, columns), as DICOM stores them
    mask = (pixels >= 150).astype(np.uint8)  # the bottom rows
    mask[0, 4] = 1  # and the top-right pixel
    write_dicom_slice(images / "slice.dcm", pixels, position_z=0.0, instance=1)
    Image.fromarray(mask * 255).save(labels / "slice.png")
    dataset, _ = _run(images, labels, label_mapping="binarize")  # a 0/255 mask, as drawing tools save it
    item = dataset[0]
    assert item["image"].shape == item["label"].shape == (1, 5, 6)
    image, label = item["image"][0].numpy(), item["label"][0].numpy()
    np.testing.assert_array_equal(image, pixels.T)
    np.testing.assert_array_equal(label > 0, mask.T > 0, err_msg="the mask sits on the same voxels as the slice")
    assert ((label > 0) == (image >= 150)).sum() == 29, "bright voxels are masked, plus the one marked pixel"
    assert label[4, 0] > 0 and image[4, 0] == pixels[0, 4], "top-right pixel: column 4, row 0"


def test_reader_warnings_reach_the_log_naming_the_file(tmp_path: Path) -> None:
    """MONAI reads a DICOM slice without orientation/position tags with a default (identity-based) affine and
    warns: the warning is a log line naming the file, not a Python warning on the console."""
    (tmp_path / "images").mkdir()
    write_dicom_slice(tmp_path / "images" / "bare.dcm", np.ones((3, 2), np.uint16), 0.0, 1, with_position=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dataset, events = _run(tmp_path / "images", "")
    assert dataset[0]["image"].shape == (1, 2, 3)
    lines = [e.text for e in events if isinstance(e, LogLine) and e.text.startswith("warning: ")]
    assert len(lines) == 1 and "bare.dcm': PydicomReader: ImageOrientationPatient" in lines[0], lines


def test_unreadable_file_with_terminal_escapes_in_its_name_is_shown_escaped(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    name = "case\x1b]0;owned\x07\x1b[2J.nii.gz"  # would retitle the terminal and clear the screen
    (tmp_path / "images" / name).write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(NodeError) as refused:
        _run(tmp_path / "images", "")
    message = str(refused.value)
    assert "cannot read '" in message and "case\\x1b]0;owned\\x07\\x1b[2J.nii.gz'" in message, message
    assert "\x1b" not in message and "\x07" not in message


def test_nan_voxels_stop_the_read_naming_the_file(tmp_path: Path) -> None:
    write_nifti_phantoms(tmp_path, count=2, size=8)
    data = np.zeros((8, 8, 8), np.float32)
    data[0, 0, :3], data[1, 1, 1] = np.nan, np.inf
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "images" / "case_1.nii.gz")
    with pytest.raises(NodeError, match=r"image '.*images/case_1\.nii\.gz' holds 3 NaN and 1 infinite voxels \(of 512\)"
                                        r": a model turns them into NaN losses"):
        _run(tmp_path / "images", tmp_path / "labels")


def test_max_image_gb_refuses_a_larger_image_before_reading_it(tmp_path: Path) -> None:
    write_nifti_phantoms(tmp_path, count=1, size=8)
    events: list[Event] = []
    ctx = NodeContext(node_id="image_folder", emit=events.append, cancel=CancelToken())
    config = {"images_dir": str(tmp_path / "images"), "labels_dir": "", "cache": True, "label_mapping": "none"}
    with pytest.raises(NodeError, match=r"case_0\.nii\.gz' declares 8 × 8 × 8 voxels of float32 \(2.05 KB\): read as "
                                        r"float32 it would take 2.05 KB of memory, more than the 1.00 KB allowed for "
                                        r"one image \(max_image_gb 1e-06\)"):
        run_image_folder(ctx, {}, {**config, "max_image_gb": 1e-6})
    assert len(run_image_folder(ctx, {}, {**config, "max_image_gb": 1e-5})["dataset"]) == 1

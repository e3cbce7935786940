"""Helpers that write small medical image files for the tests (NIfTI phantoms, DICOM series)."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from medical_imaging_framework.nodes.data.phantoms import make_phantom


def shear_affine(index: int) -> np.ndarray:
    """A non-identity affine (spacing, rotation-free shear and offset) that differs per case."""
    affine = np.diag([0.8 + 0.1 * index, 1.2, 2.5, 1.0])
    affine[0, 1] = 0.05 * index
    affine[:3, 3] = [-10.0 * index, 4.0, 7.5]
    return affine


def write_nifti_phantoms(root: Path, count: int, size: int, spatial_dims: int = 3,
                         shape: tuple[int, ...] | None = None) -> list[np.ndarray]:
    """``root/images/case_i.nii.gz`` and ``root/labels/case_i.nii.gz``; returns each case's affine.

    Args:
        root: the folder to fill.
        count: number of cases.
        size: edge length of the phantom.
        spatial_dims: 2 or 3.
        shape: crop each phantom to this (non-cubic) shape, each size at most ``size``.
    """
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(parents=True, exist_ok=True)
    affines = []
    for index in range(count):
        image, mask = make_phantom(size, spatial_dims, 0.1, np.random.default_rng([7, index]))
        if shape is not None:
            region = tuple(slice(0, edge) for edge in shape)
            image, mask = image[region], mask[region]
        affine = shear_affine(index)
        nib.save(nib.Nifti1Image(image, affine), root / "images" / f"case_{index}.nii.gz")
        nib.save(nib.Nifti1Image(mask.astype(np.uint8), affine), root / "labels" / f"case_{index}.nii.gz")
        affines.append(affine)
    return affines


def write_dicom_slice(path: Path, pixels: np.ndarray, position_z: float, instance: int,
                      slope: float = 1.0, intercept: float = 0.0, with_pixels: bool = True,
                      with_position: bool = True) -> None:
    """One CT slice written with pydicom's Dataset API (no network, no bundled file needed)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "CT"
    ds.InstanceNumber = instance
    if with_position:
        ds.ImagePositionPatient = [-20.0, 10.0, position_z]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [0.5, 0.75]
    ds.SliceThickness = 2.0
    ds.RescaleSlope = slope
    ds.RescaleIntercept = intercept
    if with_pixels:
        ds.Rows, ds.Columns = pixels.shape
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        ds.PixelData = pixels.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)

"""Reading medical image files into ``(array (C, *spatial) float32, affine 4x4 float64)``.

NIfTI through nibabel, DICOM (single files, multi-frame files and series folders) through pydicom,
PNG/TIFF through Pillow. Every format is indexed like NIfTI voxels, (x = column, y = row[, z = slice]):
the affine maps ``(i, j, k)`` to RAS+ millimetres (identity for PNG/TIFF, which are transposed from
Pillow's (row, column) order as MONAI's ``PILReader(reverse_indexing=True)`` does), so a DICOM or NIfTI
image and a PNG/TIFF label of the same slice line up. Every failure raises `ReadError` naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

NIFTI_SUFFIXES = (".nii.gz", ".nii")
DICOM_SUFFIXES = (".dcm", ".dicom")
PIL_SUFFIXES = (".png", ".tif", ".tiff")
SUPPORTED_SUFFIXES = NIFTI_SUFFIXES + DICOM_SUFFIXES + PIL_SUFFIXES
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


class ReadError(ValueError):
    """A file that cannot be read as an image; the message names the file and the reason."""


def file_format(path: Path) -> str | None:
    """``nifti``, ``dicom``, ``pil``, ``dicom-series`` (a folder) or None for an unsupported entry."""
    if path.is_dir():
        return "dicom-series"
    name = path.name.lower()
    if name.endswith(NIFTI_SUFFIXES):
        return "nifti"
    if name.endswith(DICOM_SUFFIXES):
        return "dicom"
    if name.endswith(PIL_SUFFIXES):
        return "pil"
    return None


def stem(path: Path) -> str:
    """The file name without its image suffix (``case1.nii.gz`` -> ``case1``)."""
    name = path.name
    for suffix in SUPPORTED_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def read_image(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read any supported file or DICOM series folder.

    Args:
        path: the file (or series folder).

    Returns:
        ``(array, affine)``: float32 array of shape (C, *spatial) and a 4x4 float64 affine.

    Raises:
        ReadError: unsupported, unreadable or corrupt file, or DICOM without pixel data.
    """
    kind = file_format(path)
    readers = {"nifti": read_nifti, "dicom": read_dicom_file, "dicom-series": read_dicom_series, "pil": read_pil}
    if kind is None:
        raise ReadError(f"'{path}': unsupported file type (use {', '.join(SUPPORTED_SUFFIXES)} or a DICOM folder)")
    try:
        return readers[kind](path)
    except ReadError:
        raise
    except Exception as error:  # nibabel/pydicom/Pillow raise many types for damaged files
        raise ReadError(f"cannot read '{path}': {type(error).__name__}: {error}") from None


def read_nifti(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A NIfTI file: 2D/3D arrays get one channel; a 4th (or 5th) axis holds the channels.

    Args:
        path: ``.nii`` or ``.nii.gz`` file.
    """
    import nibabel as nib

    image = nib.load(str(path))
    data = np.asarray(image.dataobj, dtype=np.float32)  # applies scl_slope/scl_inter
    if data.ndim == 5:
        data = data[:, :, :, 0, :]
    if data.ndim in (2, 3):
        data = data[None]
    elif data.ndim == 4:
        data = np.moveaxis(data, -1, 0)
    else:
        raise ReadError(f"'{path}': a NIfTI image needs 2 to 5 axes, this one has {data.ndim}")
    return np.ascontiguousarray(data), np.asarray(image.affine, dtype=np.float64)


def _pixels(dataset: object, path: Path) -> np.ndarray:
    from pydicom.pixels import apply_rescale

    if not any(key in dataset for key in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise ReadError(f"'{path}': DICOM file has no pixel data (e.g. a DICOMDIR, report or presentation state)")
    pixels = dataset.pixel_array
    return np.asarray(apply_rescale(pixels, dataset), dtype=np.float32)


def _dicom_affine(dataset: object, slice_step: np.ndarray | None) -> np.ndarray:
    """Voxel (column, row, slice) -> RAS+ mm, from ImageOrientation/Position and PixelSpacing."""
    orientation = np.asarray(getattr(dataset, "ImageOrientationPatient", [1, 0, 0, 0, 1, 0]), dtype=np.float64)
    position = np.asarray(getattr(dataset, "ImagePositionPatient", [0, 0, 0]), dtype=np.float64)
    row_spacing, column_spacing = (float(v) for v in getattr(dataset, "PixelSpacing", [1.0, 1.0]))
    along_row, along_column = orientation[:3], orientation[3:]
    if slice_step is None:
        thickness = float(getattr(dataset, "SpacingBetweenSlices", 0) or getattr(dataset, "SliceThickness", 1) or 1)
        slice_step = np.cross(along_row, along_column) * thickness
    affine = np.eye(4)
    affine[:3, 0] = along_row * column_spacing
    affine[:3, 1] = along_column * row_spacing
    affine[:3, 2] = slice_step
    affine[:3, 3] = position
    return LPS_TO_RAS @ affine


def read_dicom_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One DICOM file: a 2D slice, or a volume when it holds several frames (rescale applied).

    Args:
        path: the ``.dcm`` file.
    """
    import pydicom

    dataset = pydicom.dcmread(str(path))
    pixels = _pixels(dataset, path)
    if int(getattr(dataset, "SamplesPerPixel", 1)) > 1:
        raise ReadError(f"'{path}': colour DICOM images are not supported (SamplesPerPixel > 1)")
    frames = int(getattr(dataset, "NumberOfFrames", 1) or 1)
    affine = _dicom_affine(dataset, None)
    if frames > 1:  # (frames, rows, columns) -> (columns, rows, frames)
        return np.ascontiguousarray(pixels.transpose(2, 1, 0)[None]), affine
    return np.ascontiguousarray(pixels.T[None]), affine


def read_dicom_series(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """A folder of single-slice DICOM files forming one volume.

    Slices are sorted by ImagePositionPatient along the slice normal, else by InstanceNumber;
    rescale slope/intercept is applied per slice.

    Args:
        folder: the series folder (hidden files are ignored; every other file must be DICOM).
    """
    import pydicom

    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise ReadError(f"'{folder}': DICOM series folder is empty")
    slices = []
    for file in files:
        try:
            slices.append((file, pydicom.dcmread(str(file))))
        except Exception as error:
            raise ReadError(f"cannot read '{file}' (in DICOM series '{folder}'): {error}") from None
    slices = _sort_slices(slices)
    arrays = [_pixels(dataset, file) for file, dataset in slices]
    shapes = {array.shape for array in arrays}
    if len(shapes) != 1:
        raise ReadError(f"'{folder}': DICOM slices differ in size ({', '.join(str(s) for s in sorted(shapes))})")
    if arrays[0].ndim != 2:
        raise ReadError(f"'{folder}': a DICOM series must hold single-frame greyscale slices")
    volume = np.stack([array.T for array in arrays], axis=-1)
    first, last = slices[0][1], slices[-1][1]
    step = None
    if len(slices) > 1 and hasattr(first, "ImagePositionPatient") and hasattr(last, "ImagePositionPatient"):
        delta = np.asarray(last.ImagePositionPatient, float) - np.asarray(first.ImagePositionPatient, float)
        step = delta / (len(slices) - 1)
    return np.ascontiguousarray(volume[None]), _dicom_affine(first, step)


def _sort_slices(slices: list[tuple[Path, object]]) -> list[tuple[Path, object]]:
    def has_geometry(dataset: object) -> bool:
        return hasattr(dataset, "ImagePositionPatient") and hasattr(dataset, "ImageOrientationPatient")

    if all(has_geometry(dataset) for _, dataset in slices):
        orientation = np.asarray(slices[0][1].ImageOrientationPatient, dtype=np.float64)
        normal = np.cross(orientation[:3], orientation[3:])
        return sorted(slices, key=lambda item: float(np.dot(normal, np.asarray(item[1].ImagePositionPatient, float))))
    return sorted(slices, key=lambda item: int(getattr(item[1], "InstanceNumber", 0) or 0))


def read_pil(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A PNG or TIFF image (greyscale, or RGB as three channels) indexed (column, row), identity affine.

    Args:
        path: the ``.png``/``.tif``/``.tiff`` file.
    """
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        if image.mode in ("RGB", "RGBA", "P", "LA", "CMYK"):
            rows_columns = np.asarray(image.convert("RGB"), dtype=np.float32)  # (rows, columns, 3)
            array = rows_columns.transpose(2, 1, 0)
        else:
            array = np.asarray(image, dtype=np.float32).T[None]
    return np.ascontiguousarray(array), np.eye(4)

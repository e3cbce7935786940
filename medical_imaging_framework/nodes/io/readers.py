"""Which image files `mif` reads, by suffix: NIfTI, DICOM (files and series folders), PNG/TIFF, NRRD, MetaImage.

The reading itself is MONAI's ``LoadImaged`` with its readers (`image_loading.load_image`); this module stays
light (no torch, no MONAI) so that the node specs that list files can import it.
"""

from __future__ import annotations

from pathlib import Path

from medical_imaging_framework.core.text import printable

NIFTI_SUFFIXES = (".nii.gz", ".nii")
DICOM_SUFFIXES = (".dcm", ".dicom")
PIL_SUFFIXES = (".png", ".tif", ".tiff")
ITK_SUFFIXES = (".nrrd", ".mha", ".mhd")
SUPPORTED_SUFFIXES = NIFTI_SUFFIXES + DICOM_SUFFIXES + PIL_SUFFIXES + ITK_SUFFIXES


class ReadError(ValueError):
    """A file that cannot be read as an image; the message names the file and the reason.

    The message is shown through `text.printable`: a file name or a library's reason may hold terminal escapes.
    """

    def __init__(self, message: str) -> None:
        super().__init__(printable(message))


def file_format(path: Path) -> str | None:
    """``nifti``, ``dicom``, ``pil``, ``itk``, ``dicom-series`` (a folder) or None for an unsupported entry."""
    if path.is_dir():
        return "dicom-series"
    name = path.name.lower()
    if name.endswith(NIFTI_SUFFIXES):
        return "nifti"
    if name.endswith(DICOM_SUFFIXES):
        return "dicom"
    if name.endswith(PIL_SUFFIXES):
        return "pil"
    if name.endswith(ITK_SUFFIXES):
        return "itk"
    return None


def stem(path: Path) -> str:
    """The file name without its image suffix (``case1.nii.gz`` -> ``case1``)."""
    name = path.name
    for suffix in SUPPORTED_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name

"""Image files read into MONAI ``MetaTensor`` s with ``LoadImaged`` and MONAI's own readers.

NIfTI: ``NibabelReader``. DICOM files and series folders: ``PydicomReader`` (rescale slope/intercept
applied, affine from ImageOrientation/ImagePosition/PixelSpacing, slices stacked by InstanceNumber);
multi-frame DICOM files: ``ITKReader`` (GDCM).
PNG/TIFF: ``PILReader(reverse_indexing=True)``, so arrays are (x = column, y = row) like NIfTI voxels.
NRRD and MetaImage: ``ITKReader``. Every affine is in RAS+ millimetres, and every image gets its channel
axis first, so a DICOM slice and a PNG mask of it line up.

Kept here because MONAI does not do it:
- one reader per file, chosen by its suffix (MONAI's ITK and pydicom readers claim any file, and
  ``LoadImage`` would fall through to the next reader on a failure, mixing their errors); multi-frame
  DICOM files go to ``ITKReader``, as MONAI's own warning advises (``PydicomReader`` puts the frame axis
  between rows and columns);
- a `ReadError` naming the file for every failure (libraries' reasons cut to one line, ITK's build paths
  removed), and a plain reason for DICOM files without pixels;
- the header's declared size checked before any voxel is read (`image_headers`, `image_limits`): a file that
  cannot hold what it declares, or an image larger than the limit for one image, is refused at once;
- the metadata is cut down to the geometry (`KEPT_META`): format-specific header fields differ from file to
  file and would make items of one folder impossible to collate into a batch.
"""

from __future__ import annotations

import logging
import re
import warnings
from contextlib import nullcontext
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from monai.data import ITKReader, MetaTensor, NibabelReader, PILReader, PydicomReader
from monai.transforms import LoadImaged
from monai.utils import ImageMetaKey, MetaKeys

from medical_imaging_framework.core.params import path_unreachable
from medical_imaging_framework.core.text import printable
from medical_imaging_framework.nodes.io.image_headers import COLOUR_MODES, declared_image, pil_pixel_limit_lifted
from medical_imaging_framework.nodes.io.image_limits import ImageLimit, check_declared, image_limit
from medical_imaging_framework.nodes.io.readers import SUPPORTED_SUFFIXES, ReadError, file_format

KEPT_META = (
    MetaKeys.AFFINE, MetaKeys.ORIGINAL_AFFINE, MetaKeys.SPATIAL_SHAPE, MetaKeys.SPACE,
    MetaKeys.ORIGINAL_CHANNEL_DIM, ImageMetaKey.FILENAME_OR_OBJ,
)
# ITK's messages start with the source file that raised them (`/…/ITK/Modules/IO/NRRD/src/itkNrrdImageIO.cxx:935:`)
# and the object's address (`ITK ERROR: NrrdImageIO(0x55a4ea828810): `); neither means anything to a user.
ITK_SOURCE = re.compile(r"\S*/\S*\.(?:cxx|hxx|txx|h):\d+:?")
ITK_OBJECT = re.compile(r"^(?:ITK ERROR|itk::ERROR|itk::ExceptionObject):\s*\w+\(0x[0-9a-fA-F]+\):\s*")
TEEM_TRAIL = re.compile(r"^\[\w+\]\s*")


def _grey_or_rgb(image: Any) -> Any:
    """Palette, alpha and CMYK pictures become RGB (three channels); greyscale stays one channel."""
    return image.convert("RGB") if image.mode in COLOUR_MODES else image


@cache
def reader_for(kind: str) -> Any:
    """The MONAI reader of a `readers.file_format` kind (one instance per kind).

    Args:
        kind: ``nifti``, ``dicom``, ``dicom-series``, ``pil`` or ``itk``.
    """
    if kind == "nifti":
        return NibabelReader(squeeze_non_spatial_dims=True)
    if kind in ("dicom", "dicom-series"):
        return PydicomReader()
    if kind == "pil":
        return PILReader(reverse_indexing=True, converter=_grey_or_rgb)
    return ITKReader()


@cache
def _loader(key: str) -> LoadImaged:
    # LoadImage builds every MONAI reader once; the GPU DICOM decoder's reader then announces on the console
    # that nvImageCodec is missing (a CUDA extra `mif` does not use): that notice alone is silenced
    gpu_dicom_log = logging.getLogger("monai.data.nvimgcodec_pydicom_plugin")
    level = gpu_dicom_log.level
    gpu_dicom_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="NvImgCodecPydicomReader")
            return LoadImaged(key, image_only=True, ensure_channel_first=True, dtype=np.float32)
    finally:
        gpu_dicom_log.setLevel(level)


def load_image(path: Path, key: str = "image", notes: list[str] | None = None,
               limit: ImageLimit | None = None) -> MetaTensor:
    """Read one supported file (or DICOM series folder) as a float32 ``MetaTensor`` (C, *spatial).

    The tensor's ``affine`` maps voxel indices to RAS+ mm; its meta keeps ``original_affine``,
    ``spatial_shape`` and ``filename_or_obj``. The header's declared size is checked first (`image_limits`).

    Args:
        path: the file or series folder.
        key: the item key it is loaded under (``image`` or ``label``).
        notes: when given, the readers' warnings (e.g. a DICOM file without orientation tags, which MONAI
            reads with an identity affine) are added to it as lines naming the file instead of being shown.
        limit: the most bytes the image may take once read; by default a quarter of the memory available now.

    Raises:
        ReadError: unsupported, unreachable, unreadable or corrupt file, DICOM without pixel data, or a header
            declaring more voxel data than the file holds or than ``limit`` allows.
    """
    kind = file_format(path)
    if kind is None:
        raise ReadError(f"'{path}': unsupported file type (use {', '.join(SUPPORTED_SUFFIXES)} or a DICOM folder)")
    problem = path_unreachable(path)
    if problem:
        raise ReadError(f"'{path}' {problem}")
    if kind == "dicom-series" and not any(p.is_file() and not p.name.startswith(".") for p in path.iterdir()):
        raise ReadError(f"'{path}': DICOM series folder is empty")
    declared = declared_image(path, kind)
    if declared is not None:
        check_declared(path, declared, limit or image_limit())
    if kind == "dicom" and _frames(path) > 1:
        kind = "itk"  # MONAI's PydicomReader stacks frames as (rows, frames, columns); ITK (GDCM) reads them right
    try:
        with warnings.catch_warnings(record=notes is not None) as caught:
            if notes is not None:
                warnings.simplefilter("always")
            with pil_pixel_limit_lifted() if kind == "pil" else nullcontext():
                image = _loader(key)({key: str(path)}, reader_for(kind))[key]  # the reader's own errors reach us
    except Exception as error:  # nibabel/pydicom/Pillow/ITK raise many types for damaged files
        if kind == "dicom" and not _has_pixel_data(path):
            raise ReadError(
                f"'{path}': DICOM file has no pixel data (e.g. a DICOMDIR, report or presentation state)"
            ) from None
        raise ReadError(f"cannot read '{path}': {type(error).__name__}: {library_reason(error)}") from None
    image.meta = {name: image.meta[name] for name in KEPT_META if name in image.meta}
    if notes is not None:
        for warning in caught or ():
            if issubclass(warning.category, DeprecationWarning):
                continue  # about a library's code (e.g. ITK's SWIG types on first import), not about the file
            note = printable(f"'{path}': {' '.join(str(warning.message).split())}")
            if note not in notes:
                notes.append(note)
    return image


def library_reason(error: BaseException) -> str:
    """The first line of a reader's error; for ITK without its source path and object address, and with the last
    line of a teem (NRRD) trail, which says what went wrong.

    Args:
        error: what the reader raised.
    """
    lines = [ITK_OBJECT.sub("", ITK_SOURCE.sub("", line)).strip() for line in str(error).strip().splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return ""
    if lines[0].endswith(":") and len(lines) > 1 and TEEM_TRAIL.match(lines[-1]):
        return f"{lines[0]} {TEEM_TRAIL.sub('', lines[-1])}"
    return lines[0]


def _frames(path: Path) -> int:
    import pydicom

    try:
        return int(getattr(pydicom.dcmread(str(path), stop_before_pixels=True), "NumberOfFrames", 1) or 1)
    except Exception:
        return 1  # unreadable: the reader's own error names the file


def _has_pixel_data(path: Path) -> bool:
    import pydicom

    try:
        dataset = pydicom.dcmread(str(path))
    except Exception:
        return True  # not a readable DICOM file at all: the reader's own error says more
    return any(key in dataset for key in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"))

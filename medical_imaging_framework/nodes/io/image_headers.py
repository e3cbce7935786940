"""What an image file declares about its voxels, read from its header alone: how many, of what type, stored how.

Each format's own library reads the header without touching the voxel data: nibabel (``nib.load`` is lazy, also
for ``.nii.gz``), pydicom (``dcmread(stop_before_pixels=True)``), Pillow (``Image.open`` reads the header only)
and ITK's ``ImageIO`` (``ReadImageInformation``) for NRRD and MetaImage. `image_limits` checks the result before
MONAI's reader allocates anything. A header that cannot be read gives None: the reader then reports the file
with its own error, as before.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# The most a deflate stream (gzip, zlib: .nii.gz, PNG, gzip-encoded NRRD, compressed MetaImage, deflated DICOM)
# can expand: a 258-byte match coded in 2 bits is 1032:1.
DEFLATE_EXPANSION = 1032
COLOUR_MODES = ("RGB", "RGBA", "P", "LA", "CMYK")  # read as RGB (see `image_loading`)
TEXT_HEADER_BYTES = 1 << 16
_PIL_LOCK = threading.Lock()


@dataclass(frozen=True)
class Declared:
    """The voxels a header declares.

    Args:
        shape: the sizes as the header gives them (for the message).
        values: how many stored values (voxels x components).
        bits: bits per stored value.
        type_name: the value type in words (``float32``, ``uint16``, ``16-bit``).
        stored: bytes on disk that hold the voxels, or None when unknown.
        expansion: how many times ``stored`` can grow when decoded (1 raw, `DEFLATE_EXPANSION`), or None when the
            encoding can grow further (bzip2, JPEG, LZW) or is unknown.
        storage: the encoding in words (``raw``, ``gzip``).
    """

    shape: tuple[int, ...]
    values: int
    bits: int
    type_name: str
    stored: int | None = None
    expansion: int | None = None
    storage: str = "raw"

    @property
    def nbytes(self) -> int:
        """Bytes of the voxels as stored, decoded."""
        return (self.values * self.bits + 7) // 8

    @property
    def loaded_bytes(self) -> int:
        """Bytes of the voxels once read: MONAI's loader makes them float32 (wider types stay as wide)."""
        return self.values * max(4, (self.bits + 7) // 8)


@contextmanager
def pil_pixel_limit_lifted() -> Iterator[None]:
    """Pillow's own decompression-bomb guard (``Image.MAX_IMAGE_PIXELS``, a pixel count that warns above 89 M
    pixels and refuses above 179 M) is lifted while one file is opened: our byte limit, checked on the header,
    decides instead, and a limit raised with ``max_image_gb`` must not be refused by Pillow. Pillow has no
    per-call setting, so the module value is swapped under a lock and restored."""
    from PIL import Image

    with _PIL_LOCK:
        previous = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = previous


def declared_image(path: Path, kind: str) -> Declared | None:
    """What ``path``'s header declares, or None when the header cannot be read (the reader then says why).

    Args:
        path: an image file, or a DICOM series folder.
        kind: its `readers.file_format` kind (``nifti``, ``dicom``, ``dicom-series``, ``pil``, ``itk``).
    """
    read = {"nifti": _nifti, "dicom": _dicom, "dicom-series": _dicom_series, "pil": _pil, "itk": _itk}[kind]
    try:
        return read(path)
    except Exception:  # the libraries raise many types for damaged headers; the full read reports them
        return None


def _nifti(path: Path) -> Declared:
    import nibabel as nib

    header = nib.load(str(path)).header
    shape = tuple(int(size) for size in header.get_data_shape())
    dtype = header.get_data_dtype()
    size = path.stat().st_size
    if path.name.lower().endswith(".gz"):
        return Declared(shape, math.prod(shape), dtype.itemsize * 8, str(dtype), size, DEFLATE_EXPANSION, "gzip")
    offset = int(header.get_data_offset())
    return Declared(shape, math.prod(shape), dtype.itemsize * 8, str(dtype), max(0, size - offset), 1)


def _dicom(path: Path) -> Declared | None:
    import pydicom

    dataset = pydicom.dcmread(str(path), stop_before_pixels=True)
    if "Rows" not in dataset or "Columns" not in dataset:
        return None  # no image: the reader's error (no pixel data) names the file
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    samples = int(dataset.get("SamplesPerPixel", 1) or 1)
    bits = int(dataset.get("BitsAllocated", 8) or 8)
    shape = (int(dataset.Columns), int(dataset.Rows), *((frames,) if frames > 1 else ()),
             *((samples,) if samples > 1 else ()))
    syntax = getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", None)
    if syntax is None or not (syntax.is_compressed or syntax.is_deflated):
        expansion, storage = 1, "raw"
    elif syntax.is_deflated:
        expansion, storage = DEFLATE_EXPANSION, "deflated"
    else:
        expansion, storage = None, syntax.name
    return Declared(shape, math.prod(shape), bits, f"{bits}-bit", path.stat().st_size, expansion, storage)


def _dicom_series(folder: Path) -> Declared | None:
    files = [p for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")]
    read = [_dicom(p) for p in files]
    slices = [one for one in read if one is not None]
    if not slices or len(slices) < len(read):
        return None
    first = slices[0]
    expansions = [one.expansion for one in slices]
    expansion = None if None in expansions else max(e for e in expansions if e is not None)
    return Declared((*first.shape, len(slices)), sum(one.values for one in slices), first.bits, first.type_name,
                    sum(one.stored or 0 for one in slices), expansion, first.storage)


def _pil(path: Path) -> Declared:
    import numpy as np
    from PIL import Image, ImageMode

    with pil_pixel_limit_lifted(), Image.open(path) as image:
        width, height = image.size
        mode, file_format, compression = image.mode, image.format, image.info.get("compression")
    descriptor = ImageMode.getmode(mode)
    bits = np.dtype(descriptor.typestr).itemsize * 8
    shape = (width, height, *((len(descriptor.bands),) if len(descriptor.bands) > 1 else ()))
    if file_format == "PNG":
        expansion, storage = DEFLATE_EXPANSION, "zlib"
    elif file_format == "TIFF" and compression == "raw":
        expansion, storage = 1, "raw"
    elif file_format == "TIFF" and compression in ("tiff_deflate", "tiff_adobe_deflate"):
        expansion, storage = DEFLATE_EXPANSION, "deflate"
    else:
        expansion, storage = None, str(compression or file_format)
    return Declared(shape, math.prod(shape), bits, str(np.dtype(descriptor.typestr)), path.stat().st_size,
                    expansion, storage)


def _itk(path: Path) -> Declared | None:
    import itk

    image_io = itk.ImageIOFactory.CreateImageIO(str(path), itk.CommonEnums.IOFileMode_ReadMode)
    if image_io is None:
        return None
    image_io.SetFileName(str(path))
    image_io.ReadImageInformation()
    shape = tuple(int(image_io.GetDimensions(axis)) for axis in range(image_io.GetNumberOfDimensions()))
    components = int(image_io.GetNumberOfComponents())
    shape += (components,) if components > 1 else ()
    type_name = image_io.GetComponentTypeAsString(image_io.GetComponentType())
    stored, expansion, storage = _itk_storage(path)
    return Declared(shape, math.prod(shape), int(image_io.GetComponentSize()) * 8, type_name, stored, expansion,
                    storage)


def _itk_storage(path: Path) -> tuple[int | None, int | None, str]:
    """``(stored bytes, expansion, encoding)`` from the NRRD or MetaImage text header. Read here because ITK's
    ImageIO reports sizes and types but not how (or where) the voxels are stored."""
    size = path.stat().st_size
    if path.name.lower().endswith(".nrrd"):
        fields = _text_fields(path, ":")
        if "data file" in fields or "datafile" in fields:
            return None, None, "detached"
        encoding = fields.get("encoding", "")
        known: dict[str, tuple[int | None, str]] = {"raw": (1, "raw"), "gzip": (DEFLATE_EXPANSION, "gzip"),
                                                    "gz": (DEFLATE_EXPANSION, "gzip")}
        expansion, storage = known.get(encoding, (None, encoding))
        return size, expansion, storage
    fields = _text_fields(path, "=", stop_key="ElementDataFile")
    compressed = fields.get("CompressedData", "False").lower() == "true"
    expansion, storage = (DEFLATE_EXPANSION, "zlib") if compressed else (1, "raw")
    data_file = fields.get("ElementDataFile", "LOCAL")
    if data_file == "LOCAL":
        return size, expansion, storage
    data_path = path.parent / data_file
    if data_file.startswith("LIST") or " " in data_file or not data_path.is_file():
        return None, None, "listed files"  # a slice list or a file pattern: left to ITK
    return data_path.stat().st_size, expansion, storage


def _text_fields(path: Path, separator: str, stop_key: str = "") -> dict[str, str]:
    """``key<separator>value`` lines of a text header, up to a blank line or the line of ``stop_key``."""
    with open(path, "rb") as handle:
        lines = handle.read(TEXT_HEADER_BYTES).decode("latin-1").splitlines()
    fields: dict[str, str] = {}
    for line in lines[1:] if separator == ":" else lines:  # a NRRD file starts with its magic line
        if not line.strip():
            break
        key, found, value = line.partition(separator)
        if found and not line.startswith("#"):
            fields[key.strip()] = value.strip()
            if key.strip() == stop_key:
                break
    return fields

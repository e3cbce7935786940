"""Builders of small image files whose headers declare huge images (the hostile-input tests and figures).

Each file is a few bytes to about a megabyte on disk. The truncated ones declare far more voxels than they hold;
the bombs are complete, valid deflate streams of zeros, built by repeating one fully flushed deflate block of a MiB
of zeros, so that a GB of voxels costs a fraction of a second to write.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np

MIB = 1 << 20


def _zero_blocks(count: int) -> tuple[bytes, int]:
    """A raw deflate stream of ``count`` zero bytes (unfinished), and the bytes it encodes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(MIB)) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    rest = count % MIB
    last = tail.compress(bytes(rest)) + tail.flush(zlib.Z_FULL_FLUSH) if rest else b""
    return block * (count // MIB) + last, count


def _crc32_of_zeros(count: int, crc: int) -> int:
    chunk = bytes(MIB)
    for _ in range(count // MIB):
        crc = zlib.crc32(chunk, crc)
    return zlib.crc32(bytes(count % MIB), crc)


def gzip_of_zeros(prefix: bytes, count: int) -> bytes:
    """A valid gzip file holding ``prefix`` then ``count`` zero bytes.

    Args:
        prefix: the bytes before the zeros (e.g. a NIfTI header).
        count: how many zero bytes follow.
    """
    head = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = head.compress(prefix) + head.flush(zlib.Z_FULL_FLUSH)
    zeros, _ = _zero_blocks(count)
    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)  # an empty final block
    crc = _crc32_of_zeros(count, zlib.crc32(prefix))
    size = (len(prefix) + count) & 0xFFFFFFFF
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + stream + zeros + final + struct.pack("<II", crc, size)


def nifti_header(shape: tuple[int, ...], dtype: type = np.float32) -> bytes:
    """The 352 bytes before a single-file NIfTI-1 image's voxels (header, extension flag), for ``shape``."""
    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(dtype)
    header.set_qform(np.eye(4), code=1)
    header["vox_offset"] = 352
    return header.binaryblock + b"\0" * 4


def write_nifti(path: Path, shape: tuple[int, ...], voxel_bytes: int = 4000) -> Path:
    """A NIfTI file (``.nii`` or gzipped ``.nii.gz``) declaring ``shape`` float32 and holding ``voxel_bytes``."""
    data = nifti_header(shape) + bytes(voxel_bytes)
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def write_nifti_bomb(path: Path, shape: tuple[int, ...]) -> Path:
    """A complete ``.nii.gz`` of ``shape`` float32 zeros: small on disk, every voxel really there."""
    path.write_bytes(gzip_of_zeros(nifti_header(shape), math.prod(shape) * 4))
    return path


def write_nrrd(path: Path, sizes: tuple[int, ...], encoding: str = "raw", voxel_bytes: int = 4000) -> Path:
    """A NRRD file declaring ``sizes`` float voxels, its data ``voxel_bytes`` zeros (gzipped when asked)."""
    header = (f"NRRD0004\ntype: float\ndimension: {len(sizes)}\nsizes: {' '.join(map(str, sizes))}\n"
              f"encoding: {encoding}\nendian: little\n\n").encode()
    data = bytes(voxel_bytes)
    path.write_bytes(header + (gzip.compress(data) if encoding == "gzip" else data))
    return path


def write_metaimage(path: Path, sizes: tuple[int, ...], voxel_bytes: int = 4000) -> Path:
    """A MetaImage ``.mha`` declaring ``sizes`` float voxels and holding ``voxel_bytes``."""
    header = (f"ObjectType = Image\nNDims = {len(sizes)}\nDimSize = {' '.join(map(str, sizes))}\n"
              "ElementType = MET_FLOAT\nElementDataFile = LOCAL\n").encode()
    path.write_bytes(header + bytes(voxel_bytes))
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png(path: Path, width: int, height: int, rows: int | None = None) -> Path:
    """A greyscale 8-bit PNG of ``width`` x ``height``; only ``rows`` rows of zeros are stored when given (a
    crafted, truncated file), else every row (a complete zlib stream of zeros: a bomb)."""
    stored_rows = height if rows is None else rows
    count = stored_rows * (width + 1)  # a filter byte (0) before each row
    if rows is None:
        zeros, _ = _zero_blocks(count)
        final = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
        stream = b"\x78\xda" + zeros + final + struct.pack(">I", _adler32_of_zeros(count))
    else:
        stream = zlib.compress(bytes(count), 9)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", stream)
                     + _png_chunk(b"IEND", b""))
    return path


def _adler32_of_zeros(count: int) -> int:
    return ((count % 65521) << 16) | 1  # a stays 1; b adds a (= 1) once per byte


def write_tiff(path: Path, width: int, height: int, voxel_bytes: int = 100) -> Path:
    """An uncompressed 8-bit greyscale TIFF declaring ``width`` x ``height`` in one strip of ``voxel_bytes``."""
    entries = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 0),
               (277, 3, 1), (278, 4, height), (279, 4, voxel_bytes)]
    ifd_size = 2 + 12 * len(entries) + 4
    data_offset = 8 + ifd_size
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        value = data_offset if tag == 273 else value
        packed = struct.pack("<HI", value, 0)[:4] if kind == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, 1) + packed
    path.write_bytes(b"II*\0" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + bytes(voxel_bytes))
    return path


def write_dicom(path: Path, rows: int, columns: int, frames: int = 1, voxel_bytes: int = 200) -> Path:
    """An uncompressed 16-bit CT DICOM file declaring ``frames`` frames of ``rows`` x ``columns``, holding
    ``voxel_bytes`` of pixel data."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID, dataset.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    dataset.Modality = "CT"
    dataset.Rows, dataset.Columns = rows, columns
    if frames > 1:
        dataset.NumberOfFrames = frames
    dataset.SamplesPerPixel, dataset.PhotometricInterpretation = 1, "MONOCHROME2"
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit, dataset.PixelRepresentation = 16, 16, 15, 1
    dataset.PixelData = bytes(voxel_bytes)
    dataset.save_as(path, enforce_file_format=True)
    return path

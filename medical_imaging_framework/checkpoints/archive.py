"""The zip archive inside a checkpoint: declared sizes checked before anything is inflated, then CRCs.

``torch.save`` writes every record uncompressed (stored), so a record's declared size equals the bytes it
takes in the file. A hostile file can instead hold a deflated record that inflates a thousandfold (a
decompression bomb: 2 MB on disk, 2 GB in memory once ``torch.load`` reads it). `check_declared_sizes`
reads only the archive's central directory and refuses such a file before a single record is inflated,
so the memory a load needs stays near the file's size.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from medical_imaging_framework.checkpoints.errors import CheckpointError
from medical_imaging_framework.core.text import printable

# A compressed record may inflate to at most this many times its stored size (torch never compresses;
# ordinary data deflates far less than this). Zeros deflate about 1000x: that is the bomb's ratio.
MAX_RECORD_RATIO = 10
# All records together may declare at most this many times the file's size, plus a little for tiny files.
MAX_TOTAL_RATIO = 10
TOTAL_SLACK_BYTES = 1 << 20


def check_declared_sizes(path: str | os.PathLike[str]) -> list[zipfile.ZipInfo]:
    """Refuse an archive whose records declare more data than the file can honestly hold.

    Only the central directory is read; nothing is inflated. Returns the records.

    Args:
        path: the checkpoint file (a zip archive).

    Raises:
        CheckpointError: not a complete zip archive, or a record (or all of them) too large for the file.
    """
    file = Path(path)
    try:
        size = file.stat().st_size
        with zipfile.ZipFile(file) as archive:
            records = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise CheckpointError(
            f"{path}: truncated or damaged (not a complete zip archive: {printable(error)})"
        ) from None
    total = 0
    for record in records:
        name = printable(record.filename)
        if record.header_offset + record.compress_size > size:
            raise CheckpointError(f"{path}: truncated or damaged: record '{name}' ends beyond the end of the file")
        if record.compress_type == zipfile.ZIP_STORED and record.file_size != record.compress_size:
            raise CheckpointError(
                f"{path}: damaged: record '{name}' is stored uncompressed but declares {record.file_size:,} "
                f"bytes while holding {record.compress_size:,}"
            )
        if record.file_size > max(record.compress_size, 1) * MAX_RECORD_RATIO:
            raise CheckpointError(
                f"{path}: refused: record '{name}' would inflate from {record.compress_size:,} to "
                f"{record.file_size:,} bytes (more than {MAX_RECORD_RATIO}x; a decompression bomb?). "
                "torch.save never compresses records, so this file was not written by it"
            )
        total += record.file_size
    limit = size * MAX_TOTAL_RATIO + TOTAL_SLACK_BYTES
    if total > limit:
        raise CheckpointError(
            f"{path}: refused: its records declare {total:,} bytes in all, more than {limit:,} for a file of "
            f"{size:,} bytes (a decompression bomb?)"
        )
    return records


def verify_archive(path: str | os.PathLike[str]) -> int:
    """Check declared sizes, then every record's CRC in the checkpoint's zip archive; returns the record count.

    Args:
        path: the checkpoint file.

    Raises:
        CheckpointError: the file is not a zip archive, is truncated, would inflate beyond its size,
            or a record fails its CRC.
    """
    records = check_declared_sizes(path)
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()  # reads each record in 1 MiB chunks: memory stays small
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as error:
        raise CheckpointError(
            f"{path}: truncated or damaged (not a complete zip archive: {printable(error)})"
        ) from None
    if bad is not None:
        raise CheckpointError(f"{path}: damaged: record '{printable(bad)}' fails its checksum (CRC)")
    return len(records)

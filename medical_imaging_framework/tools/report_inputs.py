"""The files `mif report` reads besides checkpoints, read within bounds: ``metrics.csv``, ``evaluation.csv``,
``evaluation_samples.npz``.

They sit in a folder anyone may have written to, so each is checked before it is drawn: a cell that is not a
number, a sample plane that is not a small 2D map of class indices, a zip record that would inflate beyond
what a report can show. A file that breaks a rule raises `ReportInputError` naming the file and the rule; the
report then leaves that section out and says why (`tools/report.py`).
"""

from __future__ import annotations

import csv
import math
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from medical_imaging_framework.core.text import printable
from medical_imaging_framework.training.metrics_log import read_metrics

MAX_SAMPLES = 8  # the evaluation writes at most 8 cases (nodes/evaluation/files.py); more are not shown
MAX_SAMPLES_BYTES = 256 << 20  # all arrays together, inflated; 8 cases of three 512 x 512 float32 planes: 25 MB
MAX_RECORDS = 4 * MAX_SAMPLES  # name, prediction, label, image
MAX_PLANE_EDGE = 4096
MAX_CLASS_INDEX = 65_535  # a prediction or label plane holds class indices (uint16 covers every label map)
MAX_CLASSES_SHOWN = 255  # different class indices in one plane: each is one contour level
MAX_NAME_CHARACTERS = 1_000
_MEMBER = re.compile(r"^(name|prediction|label|image)_(\d{1,6})\.npy$")


class ReportInputError(Exception):
    """A file the report reads breaks a rule; the message names the file and the rule."""


def read_metrics_rows(path: Path) -> list[dict[str, float | None]]:
    """``metrics.csv`` as numbers, each row with a whole ``epoch`` and a ``train_loss`` column.

    Args:
        path: the file.

    Raises:
        ReportInputError: unreadable, not UTF-8, a cell that is not a number, or a required column missing.
    """
    try:
        rows = read_metrics(path)
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as error:
        raise ReportInputError(_reason(path, error)) from None
    for line, row in enumerate(rows, start=2):
        missing = [column for column in ("epoch", "train_loss") if column not in row]
        if missing:
            raise ReportInputError(f"{printable(path)}: no '{missing[0]}' column")
        epoch = row["epoch"]
        if epoch is not None and not (math.isfinite(epoch) and epoch == int(epoch) and 0 <= epoch < 2**31):
            raise ReportInputError(f"{printable(path)}, line {line}: column 'epoch' holds {epoch}, not an epoch "
                                   "number (a whole number from 0)")
    return rows


# evaluation.csv's columns after ``name``, in this order, before the metrics: the grid scored and the weights'
# checkpoint (absolute path), run id and epoch (nodes/evaluation/files.py writes them)
PROVENANCE_COLUMNS = ("grid", "checkpoint", "run_id", "epoch")
TEXT_COLUMNS = PROVENANCE_COLUMNS  # columns that hold words (or may be empty), not metrics


def read_evaluation(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The columns and rows of an ``evaluation.csv`` (``name``, `TEXT_COLUMNS`, then numbers; the last row is
    named ``mean``).

    Args:
        path: the file.

    Raises:
        ReportInputError: unreadable, not UTF-8, no ``name`` column first, or a metric cell that is not a number.
    """
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = list(reader.fieldnames or [])
            if not columns or columns[0] != "name":
                raise ReportInputError(f"{printable(path)}: the first column must be 'name'")
            rows = []
            for row in reader:
                if None in row:
                    raise ReportInputError(f"{printable(path)}, line {reader.line_num}: more cells than columns")
                for column in columns[1:]:
                    if column not in TEXT_COLUMNS:
                        _metric(row[column], path, reader.line_num, column)
                rows.append(row)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ReportInputError(_reason(path, error)) from None
    return columns, rows


def _metric(text: str | None, path: Path, line: int, column: str) -> None:
    if text in ("", None):
        return
    try:
        float(text)
    except ValueError:
        raise ReportInputError(f"{printable(path)}, line {line}: column '{printable(column)}' holds "
                               f"{printable(repr(text[:40]))}, not a number") from None


def read_samples(path: Path) -> list[dict[str, Any]]:
    """The first `MAX_SAMPLES` sample planes of ``evaluation_samples.npz`` (``name``, ``image``, ``label``,
    ``prediction``), each array checked from its zip record and ``.npy`` header before it is read.

    Args:
        path: the file.

    Raises:
        ReportInputError: not an npz of sample planes, too large once inflated, or a plane that breaks a rule.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            shapes = _declared_arrays(path, archive)
        with np.load(path, allow_pickle=False) as data:
            count = len([key for key in data.files if key.startswith("prediction_")])
            samples = [_sample(path, data, index, shapes) for index in range(min(count, MAX_SAMPLES))]
    except ReportInputError:
        raise
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, KeyError, MemoryError) as error:
        raise ReportInputError(_reason(path, error)) from None
    return samples


def _declared_arrays(path: Path, archive: zipfile.ZipFile) -> dict[str, tuple[tuple[int, ...], np.dtype[Any]]]:
    """Every record's array shape and type from its ``.npy`` header; nothing beyond the headers is inflated."""
    records = archive.infolist()
    if len(records) > MAX_RECORDS:
        raise ReportInputError(f"{printable(path)}: holds {len(records):,} records; sample planes take at most "
                               f"{MAX_RECORDS} (4 for each of {MAX_SAMPLES} cases)")
    inflated = sum(record.file_size for record in records)
    if inflated > MAX_SAMPLES_BYTES:
        raise ReportInputError(
            f"{printable(path)}: its {len(records)} records would inflate to {inflated:,} bytes; sample planes "
            f"for a report take at most {MAX_SAMPLES_BYTES:,}: a decompression bomb?"
        )
    shapes = {}
    for record in records:
        match = _MEMBER.match(record.filename)
        if match is None:
            raise ReportInputError(f"{printable(path)}: unexpected record '{printable(record.filename)}' (sample "
                                   "planes are name_N, prediction_N, label_N and image_N)")
        if record.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ReportInputError(f"{printable(path)}: record '{printable(record.filename)}' is compressed with "
                                   "a method numpy never writes")
        with archive.open(record) as member:
            version = np.lib.format.read_magic(member)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f"unsupported .npy format version {version}")
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(member)
            header_bytes = member.tell()
        declared = math.prod(shape) * dtype.itemsize
        if declared + header_bytes > record.file_size:
            raise ReportInputError(f"{printable(path)}: '{match[1]}_{match[2]}' declares {declared:,} bytes of "
                                   f"data in a record of {record.file_size:,}")
        shapes[f"{match[1]}_{match[2]}"] = (shape, dtype)
    return shapes


def _sample(path: Path, data: Any, index: int, shapes: dict[str, Any]) -> dict[str, Any]:
    name_key = f"name_{index}"
    shape, dtype = shapes.get(name_key, ((1,), np.dtype("f4")))
    if shape != () or dtype.kind != "U" or dtype.itemsize > 4 * MAX_NAME_CHARACTERS:
        raise ReportInputError(f"{printable(path)}: '{name_key}' must be one case name of at most "
                               f"{MAX_NAME_CHARACTERS} characters")
    planes: dict[str, Any] = {"name": str(data[name_key])}
    expected = shapes.get(f"prediction_{index}", ((), None))[0]
    for kind in ("prediction", "label", "image"):
        key = f"{kind}_{index}"
        if key not in shapes:
            planes[kind] = None
            continue
        shape, dtype = shapes[key]
        if len(shape) != 2 or not 0 < min(shape) <= max(shape) <= MAX_PLANE_EDGE or dtype.kind not in "biuf":
            raise ReportInputError(f"{printable(path)}: '{key}' must be a 2D plane of numbers, each side 1 to "
                                   f"{MAX_PLANE_EDGE} (got {dtype} {list(shape)})")
        if shape != expected:
            raise ReportInputError(f"{printable(path)}: '{key}' is {list(shape)} but 'prediction_{index}' is "
                                   f"{list(expected)}")
        planes[kind] = data[key]
        if kind != "image":
            _class_map(path, key, planes[kind])
    return planes


def _class_map(path: Path, key: str, plane: np.ndarray) -> None:
    values = np.unique(plane)
    bad = values[~((values >= 0) & (values <= MAX_CLASS_INDEX) & (values == np.round(values)))]
    if bad.size:
        raise ReportInputError(f"{printable(path)}: '{key}' holds {float(bad[0]):.6g}: a class index is a whole number "
                               f"from 0 to {MAX_CLASS_INDEX:,}")
    if values.size > MAX_CLASSES_SHOWN:
        raise ReportInputError(f"{printable(path)}: '{key}' holds {values.size:,} different classes; a report "
                               f"outlines at most {MAX_CLASSES_SHOWN}")


def _reason(path: Path, error: BaseException) -> str:
    if isinstance(error, UnicodeDecodeError):
        return f"{printable(path)}: not UTF-8 text (byte {error.start})"
    if isinstance(error, MemoryError):
        return f"{printable(path)}: reading it needs more memory than there is"
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if isinstance(error, OSError) and error.strerror:
        text = error.strerror
    if text.startswith(str(path)):  # read_metrics names the file and the line itself
        return printable(text[:200 + len(str(path))])
    return f"{printable(path)}: {printable(text[:200])}"

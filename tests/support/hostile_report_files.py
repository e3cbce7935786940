"""Hostile inputs of `mif report`: run folders whose metrics.csv, evaluation.csv or evaluation_samples.npz is bad.

Each folder also holds intact copies of the other two files, so a test can check that only the bad file's
section is left out. The npz bomb is written by hand (`hostile_files.zip_bytes`): one record of 2 GiB of zeros
deflated to 2 MB with a correct CRC, as ``np.savez_compressed`` would write it, but built in milliseconds.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tests.support.hostile_files import MIB, deflated_zeros, zip_bytes

METRICS = "epoch,train_loss,val_loss,lr,seconds\n1,0.9,0.8,0.001,1.5\n2,0.7,0.6,0.001,1.4\n"
EVALUATION = "name,dice,hd95\ncase_0,0.9,2.0\nmean,0.9,2.0\n"


def _planes(prediction_value: float = 1.0) -> dict[str, np.ndarray]:
    label = np.zeros((16, 16), dtype=np.float32)
    label[4:12, 4:12] = 1
    prediction = label.copy()
    prediction[8, 8] = prediction_value
    image = np.linspace(0, 1, 256, dtype=np.float32).reshape(16, 16)
    return {"name_0": np.asarray("case_0"), "prediction_0": prediction, "label_0": label, "image_0": image}


def _npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def _stored(name: str, data: bytes) -> tuple[str, int, bytes, int, int]:
    return name, zipfile.ZIP_STORED, data, zlib.crc32(data), len(data)


def _name_record() -> tuple[str, int, bytes, int, int]:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray("case_0"))
    return _stored("name_0.npy", buffer.getvalue())


def write_npz_bomb(path: Path, zero_mib: int = 2048) -> None:
    """``prediction_0`` a float32 plane of ``zero_mib`` MiB of zeros, deflated (about 2 MB on disk for 2 GiB)."""
    values = zero_mib * MIB // 4
    header = _npy_header((values // 8192, 8192))
    stream, crc, size = deflated_zeros(header, zero_mib)
    path.write_bytes(zip_bytes([_name_record(), ("prediction_0.npy", zipfile.ZIP_DEFLATED, stream, crc, size)]))


def write_lying_header(path: Path) -> None:
    """``prediction_0``'s ``.npy`` header declares 100,000 x 100,000 float32 (40 GB) in a record of 100 bytes."""
    data = _npy_header((100_000, 100_000)) + bytes(100)
    path.write_bytes(zip_bytes([_name_record(), _stored("prediction_0.npy", data)]))


def write_huge_class(path: Path) -> None:
    """A 1 KB npz whose prediction holds one pixel of class 2e8 (contour levels 0.5 .. 2e8 before the fix)."""
    np.savez_compressed(path, **_planes(prediction_value=2e8))


def _bad_metrics(folder: Path) -> None:
    (folder / "metrics.csv").write_text(METRICS.replace("0.7,", "abc,"), encoding="utf-8")


def _bad_evaluation(folder: Path) -> None:
    (folder / "evaluation.csv").write_text(EVALUATION.replace("0.9,2.0\nmean", "abc,2.0\nmean"), encoding="utf-8")


# kind -> (what writes the bad file into a folder, the bad file's name, the section left out, what the line says)
HOSTILE_REPORT_INPUTS: dict[str, tuple[Callable[[Path], None], str, str, str]] = {
    "metrics_abc": (_bad_metrics, "metrics.csv", "the loss curves",
                    "line 3: column 'train_loss' holds 'abc', not a number"),
    "evaluation_abc": (_bad_evaluation, "evaluation.csv", "the evaluation table",
                       "line 2: column 'dice' holds 'abc', not a number"),
    "samples_huge_class": (lambda folder: write_huge_class(folder / "evaluation_samples.npz"),
                           "evaluation_samples.npz", "the sample overlays",
                           "'prediction_0' holds 2e+08: a class index is a whole number from 0 to 65,535"),
    "samples_bomb": (lambda folder: write_npz_bomb(folder / "evaluation_samples.npz"),
                     "evaluation_samples.npz", "the sample overlays",
                     "its 2 records would inflate to 2,147,483,"),
    "samples_lying_header": (lambda folder: write_lying_header(folder / "evaluation_samples.npz"),
                             "evaluation_samples.npz", "the sample overlays",
                             "'prediction_0' declares 40,000,000,000 bytes of data in a record of "),
}


def write_report_folder(folder: Path, kind: str) -> None:
    """An intact metrics.csv, evaluation.csv and evaluation_samples.npz in ``folder``, then ``kind``'s bad file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.csv").write_text(METRICS, encoding="utf-8")
    (folder / "evaluation.csv").write_text(EVALUATION, encoding="utf-8")
    np.savez_compressed(folder / "evaluation_samples.npz", **_planes())
    HOSTILE_REPORT_INPUTS[kind][0](folder)


__all__ = ["HOSTILE_REPORT_INPUTS", "write_huge_class", "write_lying_header", "write_npz_bomb", "write_report_folder"]

"""Builders of hostile checkpoint files: truncated, foreign, code-running, decompression bombs, wrong types.

The decompression bomb is written by hand (local headers, central directory, end record) so that one
record can be deflated while the others stay stored, as in a file torch wrote. Its deflate stream repeats
one fully flushed block of a MiB of zeros, and its CRC is computed with zlib's crc32_combine algorithm,
so a 2 GiB record costs milliseconds to build instead of compressing and checksumming 2 GiB.
"""

from __future__ import annotations

import copy
import pickle
import random
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from medical_imaging_framework.checkpoints.atomic import write_checkpoint
from medical_imaging_framework.checkpoints.state import build_checkpoint
from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.run.executor import Executor
from medical_imaging_framework.training.loop import TrainingState
from tests.support.pipelines import make_tiny_graph

MIB = 1 << 20
CRC_POLYNOMIAL = 0xEDB88320


class CodePayload:
    """Pickled code: unpickling it (with ``weights_only=False``) would create the file ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[Path]]:
        # Path.touch(marker): a call that really runs when unpickled unsafely (tests/checkpoints/test_load.py
        # proves it), so "the marker does not exist" means no code ran, not that the payload was broken.
        return (Path.touch, (Path(self.marker),))


def _gf2_times(matrix: list[int], vector: int) -> int:
    total, index = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[index]
        vector >>= 1
        index += 1
    return total


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, row) for row in matrix]


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """The CRC-32 of ``A + B`` from ``crc32(A)``, ``crc32(B)`` and ``len(B)`` (zlib's algorithm)."""
    if length2 == 0:
        return crc1
    odd = [CRC_POLYNOMIAL] + [1 << bit for bit in range(31)]  # one zero bit
    even = _gf2_square(odd)  # two zero bits
    odd = _gf2_square(even)  # four zero bits
    while True:
        even = _gf2_square(odd)
        if length2 & 1:
            crc1 = _gf2_times(even, crc1)
        length2 >>= 1
        if not length2:
            break
        odd = _gf2_square(even)
        if length2 & 1:
            crc1 = _gf2_times(odd, crc1)
        length2 >>= 1
        if not length2:
            break
    return crc1 ^ crc2


def zip_bytes(records: list[tuple[str, int, bytes, int, int]]) -> bytes:
    """A zip archive of ``(name, method, stored bytes, crc, uncompressed size)`` records."""
    out, central = bytearray(), bytearray()
    for name, method, data, crc, size in records:
        encoded = name.encode()
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(data), size,
                           len(encoded), 0) + encoded + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc, len(data),
                               size, len(encoded), 0, 0, 0, 0, 0, offset) + encoded
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(records), len(records), len(central), len(out), 0)
    return bytes(out + central + end)


def deflated_zeros(head: bytes, zero_mib: int) -> tuple[bytes, int, int]:
    """A raw deflate stream of ``head`` then ``zero_mib`` MiB of zeros, built in milliseconds.

    Returns ``(stream, crc, size)``: the stream, the CRC-32 and the length of the inflated data.
    ``zero_mib`` must be a power of two.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(bytes(MIB)) + compressor.flush(zlib.Z_FULL_FLUSH)
    stream = start + block * zero_mib + compressor.flush(zlib.Z_FINISH)
    zeros_crc = zlib.crc32(bytes(MIB))
    for doubling in range(zero_mib.bit_length() - 1):
        zeros_crc = crc32_combine(zeros_crc, zeros_crc, MIB << doubling)
    return stream, crc32_combine(zlib.crc32(head), zeros_crc, zero_mib * MIB), len(head) + zero_mib * MIB


def write_bomb(path: Path, good: Path, zero_mib: int = 2048) -> int:
    """Copy checkpoint ``good`` to ``path`` with its ``data.pkl`` deflated and padded by ``zero_mib`` MiB of zeros.

    The pickle ends at its STOP opcode, so the padding changes nothing for ``torch.load`` but the memory it
    needs: the whole record is inflated at once. Returns the declared (inflated) size of that record.
    """
    records = []
    with zipfile.ZipFile(good) as archive:
        for info in archive.infolist():
            data = archive.read(info)
            if not info.filename.endswith("data.pkl"):
                records.append((info.filename, zipfile.ZIP_STORED, data, zlib.crc32(data), len(data)))
                continue
            stream, crc, size = deflated_zeros(data, zero_mib)
            records.append((info.filename, zipfile.ZIP_DEFLATED, stream, crc, size))
    path.write_bytes(zip_bytes(records))
    return size


def _saved(content: Any) -> Callable[[Path], None]:
    return lambda path: torch.save(content, path)


def _changed(good: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        data = copy.deepcopy(good)
        change(data)
        torch.save(data, path)

    return write


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def laughs(levels: int = 30) -> list[Any]:
    """``L = [L, L]`` ``levels`` times: pickle stores each list once, so it is a few hundred bytes on disk,
    but whatever walks it reaches 2^(levels+1) - 1 lists (a "billion laughs")."""
    value: list[Any] = []
    for _ in range(levels):
        value = [value, value]
    return value


def _save_deep(good: dict[str, Any]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        data = dict(good, config={"seed": _nested(3000)})
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(20_000)  # only the pickler needs it; the loader must not
        try:
            torch.save(data, path)
        finally:
            sys.setrecursionlimit(limit)

    return write


def _nan_weights(data: dict[str, Any]) -> None:
    for value in data["model_state_dict"].values():
        if value.is_floating_point():
            value.fill_(float("nan"))


def write_good_checkpoint(registry: NodeRegistry, path: Path) -> None:
    """A checkpoint as the Trainer writes it after epoch 1 of the tiny pipeline, without training."""
    graph = make_tiny_graph(registry, "")
    for node_id in [node_id for node_id in graph.nodes if node_id != "unet"]:
        graph.remove_node(node_id)
    model = Executor(graph).run().outputs["unet"]["model"]
    state = TrainingState(model=model, optimizer=torch.optim.Adam(model.parameters()), epoch=1,
                          epoch_losses=[0.5], val_losses=[0.4])
    config = make_tiny_graph(registry, "").nodes["trainer"].parsed_config()
    write_checkpoint(build_checkpoint(state, 0.4, 0.4, config, {"nodes": []}), path)


def hostile_writers(good_path: Path, marker: Path) -> dict[str, Callable[[Path], None]]:
    """One writer per hostile kind; each writes its file to the path it is given.

    Args:
        good_path: an intact checkpoint the hostile variants start from.
        marker: the file the code-running pickle would create if its code ran.
    """
    good_bytes = good_path.read_bytes()
    good = torch.load(good_path)
    noise = random.Random(9).randbytes(4096)
    return {
        "truncated": lambda path: path.write_bytes(good_bytes[: len(good_bytes) * 2 // 3]),
        "empty": lambda path: path.write_bytes(b""),
        "random_bytes": lambda path: path.write_bytes(noise),
        "wrong_payload": _saved(torch.zeros(3)),
        "legacy_pickle": lambda path: path.write_bytes(pickle.dumps({"epoch": 1, "loss": 0.5}, protocol=4)),
        "code_pickle": _saved({**good, "hook": CodePayload(marker)}),
        "bomb": lambda path: write_bomb(path, good_path),
        "epoch_seven": _changed(good, lambda data: data.update(epoch="seven")),
        "negative_epoch": _changed(good, lambda data: data.update(epoch=-3)),
        "no_tensors": _changed(good, lambda data: data.update(model_state_dict=dict.fromkeys(data["model_state_dict"],
                                                                                              "x"))),
        "loss_text": _changed(good, lambda data: data.update(loss="a")),
        "rng_wrong_size": _changed(good, lambda data: data["rng_state"]["python"].update(state=[1, 2, 3])),
        "deep_nesting": _save_deep(good),
        "billion_laughs": _changed(good, lambda data: data["config"].update(laugh=laughs())),
        "nan_weights": _changed(good, _nan_weights),
    }


__all__ = [
    "CodePayload",
    "crc32_combine",
    "deflated_zeros",
    "hostile_writers",
    "laughs",
    "write_bomb",
    "write_good_checkpoint",
    "zip_bytes",
]

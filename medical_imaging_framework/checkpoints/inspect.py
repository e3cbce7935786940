"""``mif inspect``: a readable summary of a checkpoint file and an integrity check.

The file is read by the one loader every other path uses (`checkpoints.read_checkpoint`: sizes before
inflating, CRCs, ``weights_only``, the schema), so "Intact: yes" means exactly "loads for training and
inference"; given a ``check``, as ``mif inspect`` gives it, the optimizer state is also loaded into the optimizer
the file's stored pipeline builds, as ``resume_from`` does (`tools.resume_check`). Every string taken from the
file is printed through `text.printable`: an ESC or OSC sequence in a config value is shown escaped, so it can
neither drive the terminal nor forge a line of this output.
"""

from __future__ import annotations

import math
import os
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from medical_imaging_framework.checkpoints.files import FORMAT_VERSION, CheckpointError, read_checkpoint
from medical_imaging_framework.checkpoints.schema import validate_checkpoint
from medical_imaging_framework.core.text import printable

SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], width: int = 40) -> str:
    """A one-line bar chart of ``values`` (resampled to at most ``width`` bars).

    Args:
        values: the curve.
        width: most characters.
    """
    finite = [value for value in values if math.isfinite(value)]
    if not finite:
        return ""
    if len(values) > width:
        step = len(values) / width
        values = [values[int(index * step)] for index in range(width)]
    low, high = min(finite), max(finite)
    span = high - low or 1.0
    return "".join(
        SPARK[min(len(SPARK) - 1, int((value - low) / span * len(SPARK)))] if math.isfinite(value) else " "
        for value in values
    )


def curve_summary(name: str, values: Sequence[float]) -> list[str]:
    """Two lines: first/last/min of a loss curve, and its sparkline.

    Args:
        name: shown label.
        values: one loss per epoch.
    """
    if not values:
        return [f"{name}: none"]
    best = min(range(len(values)), key=lambda index: values[index])
    return [
        f"{name} ({len(values)} epochs): first {values[0]:.4f}, last {values[-1]:.4f}, "
        f"min {values[best]:.4f} at epoch {best + 1}",
        f"  {sparkline(values)}",
    ]


def _tensor_count(state: Mapping[str, Any]) -> tuple[int, int]:
    tensors = [value for value in state.values() if isinstance(value, torch.Tensor)]
    return len(tensors), sum(tensor.numel() for tensor in tensors)


def _optimizer_line(state: Any) -> str:
    if not isinstance(state, Mapping):
        return "Optimizer: (not a state dict)"
    groups = state.get("param_groups") or []
    # the schema checked that every lr is a number or a one-element tensor
    rates = sorted({float(group["lr"]) for group in groups if isinstance(group, Mapping) and "lr" in group})
    lr = ", ".join(f"{rate:g}" for rate in rates)
    return f"Optimizer: {len(groups)} parameter group(s)" + (f", lr {lr}" if lr else "")


class NotIntact(CheckpointError):
    """The file reads, but must not be used: ``summary`` is the description, ending ``Intact: no (...)``."""

    def __init__(self, message: str, summary: str) -> None:
        super().__init__(message)
        self.summary = summary


def describe_checkpoint(
    path: str | os.PathLike[str], check: Callable[[Mapping[str, Any], str], object] | None = None
) -> str:
    """The text ``mif inspect`` prints: epoch, losses, the loss curve in brief, versions, integrity.

    Every string from the file is escaped (`text.printable`).

    Args:
        path: the checkpoint file.
        check: ``check(checkpoint, source)`` raises a `CheckpointError` for a file that reads but would not
            resume (``mif inspect`` passes `tools.resume_check.check_optimizer_resumes`, which knows node
            types this package may not import).

    Raises:
        CheckpointError: missing, damaged, truncated, untrusted, a bomb, or a field of the wrong type or range.
        NotIntact: the file is well formed but holds NaN or infinite weights or losses, or ``check`` refuses
            it; its ``summary`` describes it and ends with ``Intact: no (...)``.
    """
    file = Path(path)
    # A diverged run (NaN weights or losses) is worth describing: read it allowing non-finite values, then
    # apply the full schema, which refuses them.
    checkpoint = read_checkpoint(file, map_location="cpu", allow_non_finite=True)
    try:
        validate_checkpoint(checkpoint, file)
        if check is not None:
            check(checkpoint, str(file))
    except CheckpointError as refused:
        reason = str(refused).removeprefix(f"{file}: ")
        summary = "\n".join([*_summary_lines(file, checkpoint), f"Intact: no ({printable(reason)})"])
        raise NotIntact(str(refused), summary) from None
    # read_checkpoint already checked every record's CRC; only count them here (legacy non-zip files have none)
    records = _record_count(file) if zipfile.is_zipfile(file) else None
    lines = _summary_lines(file, checkpoint)
    if records is None:
        lines.append("Intact: yes (legacy non-zip format, no checksums to verify; loads with weights_only=True)")
    else:
        lines.append(f"Intact: yes (all {records} records pass their checksums; loads with weights_only=True)")
    return "\n".join(lines)


def _summary_lines(file: Path, checkpoint: Mapping[str, Any]) -> list[str]:
    lines = [f"Checkpoint: {printable(file)} ({file.stat().st_size / 1_000_000:.2f} MB)"]
    version = checkpoint.get("format_version")
    note = "" if version == FORMAT_VERSION else f" (this program writes {FORMAT_VERSION})"
    lines.append(f"Format version: {version if version is not None else 'unknown'}{note}")
    monitored = "validation" if checkpoint.get("val_losses") else "training"
    lines.append(f"Run id: {checkpoint.get('run_id') or 'not recorded'}")
    lines.append(f"Epoch: {checkpoint['epoch']}")
    lines.append(f"Loss: {float(checkpoint['loss']):.4f} ({monitored} loss)")
    if checkpoint.get("best_loss") is not None:
        lines.append(f"Best loss so far: {float(checkpoint['best_loss']):.4f}")
    lines.extend(curve_summary("Training loss", [float(value) for value in checkpoint["epoch_losses"]]))
    if checkpoint.get("val_losses"):
        lines.extend(curve_summary("Validation loss", [float(value) for value in checkpoint["val_losses"]]))
    count, numbers = _tensor_count(checkpoint["model_state_dict"])
    lines.append(f"Model: {count} tensors, {numbers:,} values")
    lines.append(_optimizer_line(checkpoint["optimizer_state_dict"]))
    extras = [name for key, name in (("scheduler_state_dict", "scheduler"), ("scaler_state_dict", "AMP scaler"))
              if key in checkpoint]
    rng = checkpoint.get("rng_state") or {}
    rng_parts = [name for name in ("python", "numpy", "torch") if rng.get(name) is not None]
    if rng.get("cuda"):
        rng_parts.append(f"cuda x{len(rng['cuda'])}")
    lines.append("Also holds: " + ", ".join([*extras, f"RNG state ({', '.join(rng_parts) or 'none'})"]))
    versions = checkpoint.get("versions") or {}
    if versions:
        lines.append("Saved with: " + printable(", ".join(f"{name} {value}" for name, value in versions.items())))
    config = checkpoint.get("config") or {}
    if config:
        lines.append("Trainer settings: " + printable(", ".join(f"{key}={value}" for key, value in config.items())))
    return lines


def _record_count(path: Path) -> int:
    with zipfile.ZipFile(path) as archive:
        return len(archive.infolist())

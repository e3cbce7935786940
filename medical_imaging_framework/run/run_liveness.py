"""A record that says ``running`` while the process writing it is gone (``kill -9``, a power cut, an OOM kill)
reads ``killed``: nothing was left to write its end. Its epochs and best validation loss are then taken from
its ``metrics.csv``, which the Trainer appends to at every epoch (the record itself is written only at the start
and the end of a run).

Only what is read changes: the file stays as the killed process left it (a listing never writes into the
folders it lists); a resume of the run continues the record (`run.recorder`). Torch- and Qt-free.
"""

from __future__ import annotations

import math
from pathlib import Path

from medical_imaging_framework.run.process_identity import process_gone
from medical_imaging_framework.run.records import RecordError, RunRecord, read_loss_curve

KILLED = "killed"


def metrics_files(record: RunRecord) -> list[Path]:
    """The run's ``metrics.csv`` files: where the record says, or beside the record when its folder has moved.

    Args:
        record: a run read from disk.
    """
    files = []
    for text in record.metrics_csv:
        path = Path(text)
        if not path.is_file() and record.folder is not None and (record.folder / path.name).is_file():
            path = record.folder / path.name
        files.append(path)
    return files


def last_metrics_epoch(record: RunRecord) -> tuple[int | None, float | None]:
    """The last epoch in the run's ``metrics.csv`` files and their lowest validation loss (None when there are
    none, or they cannot be read).

    Args:
        record: a run read from disk.
    """
    last: int | None = None
    best: float | None = None
    for path in metrics_files(record):
        try:
            curve = read_loss_curve(path)
        except RecordError:
            continue
        if curve:
            last = max(curve) if last is None else max(last, max(curve))
        losses = [val for _, val in curve.values() if val is not None and math.isfinite(val)]
        if losses:
            best = min(losses) if best is None else min(best, min(losses))
    return last, best


def _asked_epochs(record: RunRecord) -> int:
    """The ``num_epochs`` of the run's pipeline (its first node that has one), 0 without."""
    for node in record.pipeline.get("nodes", []):
        value = (node.get("params") or {}).get("num_epochs") if isinstance(node, dict) else None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return 0


def mark_killed(record: RunRecord) -> RunRecord:
    """``record`` itself, its status ``killed`` when it says ``running`` and its process is gone (see the module
    docstring). A record without a process (an older mif), or written on another machine, stays ``running``.

    Args:
        record: a run read from disk (changed in place).
    """
    if record.status != "running" or record.process is None or process_gone(record.process) is not True:
        return record
    record.status = KILLED
    last, best = last_metrics_epoch(record)
    if last is not None and last > record.epochs:
        record.epochs = last
        if record.segments:
            record.segments[-1].epoch_to = max(record.segments[-1].epoch_to, last)
    if best is not None:
        record.best_val_loss = best if record.best_val_loss is None else min(record.best_val_loss, best)
    record.num_epochs = record.num_epochs or _asked_epochs(record)
    if record.segments and record.segments[-1].status == "running":
        record.segments[-1].status = KILLED
    return record


__all__ = ["KILLED", "last_metrics_epoch", "mark_killed", "metrics_files"]

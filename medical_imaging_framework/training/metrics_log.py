"""``metrics.csv``: one row per finished epoch, written beside the checkpoints by a training callback.

Columns: ``epoch, train_loss, val_loss, lr, seconds`` then any further metric the run computes (an
``EpochResult.metrics`` entry). A row is appended and fsynced after every epoch, so a stopped run keeps its
rows; a resumed run continues it, dropping rows of epochs it is about to train again. Whenever the file is
written anew (the start of a run, a new column) it is replaced atomically (`write_atomically`).
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medical_imaging_framework.core.atomic_file import write_atomically
from medical_imaging_framework.training.loop import Callback, EpochResult, TrainingState

METRICS_NAME = "metrics.csv"
BASE_COLUMNS = ("epoch", "train_loss", "val_loss", "lr", "seconds")


def current_lr(state: TrainingState) -> float:
    """The learning rate of the optimizer's first parameter group (after this epoch's scheduler step)."""
    groups = state.optimizer.param_groups
    return float(groups[0]["lr"]) if groups else float("nan")


def epoch_row(state: TrainingState, result: EpochResult) -> dict[str, float | int | None]:
    """The values of one epoch, by column name.

    Args:
        state: the training state after the epoch.
        result: the epoch's result.
    """
    row: dict[str, float | int | None] = {
        "epoch": result.epoch,
        "train_loss": result.train_loss,
        "val_loss": result.val_loss,
        "lr": current_lr(state),
        "seconds": result.seconds,
    }
    row.update({name: float(value) for name, value in (getattr(result, "metrics", None) or {}).items()})
    return row


def read_metrics(path: str | os.PathLike[str]) -> list[dict[str, float | None]]:
    """The rows of a ``metrics.csv`` as numbers (empty cells are None).

    Args:
        path: the file.

    Raises:
        ValueError: a cell that is not a number, or a row with more cells than the header has columns; the
            message names the file, the line and the column.
        csv.Error: a line the CSV reader cannot split (e.g. a cell over its field size limit).
    """
    rows = []
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            if None in row:
                raise ValueError(f"{path}, line {reader.line_num}: {len(row[None])} more cells than the header's "
                                 f"{len(reader.fieldnames or [])} columns")
            rows.append({key: _number(value, path, reader.line_num, key) for key, value in row.items()})
    return rows


def _number(text: str | None, path: str | os.PathLike[str], line: int, column: str) -> float | None:
    if text in ("", None):
        return None
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{path}, line {line}: column '{column}' holds {text[:40]!r}, not a number") from None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return repr(value) if isinstance(value, float) else str(value)


@dataclass
class MetricsLog(Callback):
    """Appends each epoch's row to ``directory/metrics.csv``.

    A file that cannot be written (full disk, no permission) never stops training: ``warn`` is told once
    and the log is off for the rest of the run, as a failed checkpoint save is.

    Args:
        directory: the checkpoint folder (created when missing).
        warn: called with one sentence when the file cannot be written.
    """

    directory: str | os.PathLike[str]
    warn: Callable[[str], None] | None = None
    columns: list[str] = field(default_factory=list, init=False)
    failed: bool = field(default=False, init=False)

    @property
    def path(self) -> Path:
        """The CSV file."""
        return Path(os.path.expanduser(str(self.directory))) / METRICS_NAME

    def on_train_start(self, state: TrainingState) -> None:
        """Keep the rows of epochs up to ``state.epoch`` (a resume point), drop any later ones."""
        self.columns, self.failed = [], False
        self._guard(self._start, state)

    def on_epoch_end(self, state: TrainingState, result: EpochResult) -> None:
        """Append this epoch's row (adding columns for new metrics rewrites the header)."""
        if not self.failed:
            self._guard(self._append, state, result)

    def _guard(self, action: Callable[..., None], *args: object) -> None:
        try:
            action(*args)
        except (OSError, csv.Error, UnicodeDecodeError) as error:
            self.failed = True
            if self.warn is not None:
                reason = getattr(error, "strerror", None) or str(error)
                self.warn(f"could not write {self.path}: {reason}; training goes on without it")

    def _start(self, state: TrainingState) -> None:
        if not self.path.is_file():
            return
        with open(self.path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            self.columns = list(reader.fieldnames or [])
            kept = [row for row in reader if _epoch(row) is not None and _epoch(row) <= state.epoch]
        if state.epoch == 0:
            kept = []  # a fresh run starts a fresh file
        self._rewrite(kept)

    def _append(self, state: TrainingState, result: EpochResult) -> None:
        row = epoch_row(state, result)
        new = [name for name in row if name not in self.columns]
        if new or not self.path.is_file():
            old = self._existing_rows()
            self.columns = self.columns + new if self.columns else list(row)
            self._rewrite(old)
        with open(self.path, "a", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.columns)
            writer.writerow({name: _cell(row.get(name)) for name in self.columns})
            handle.flush()
            os.fsync(handle.fileno())

    def _existing_rows(self) -> list[Mapping[str, str]]:
        if not self.path.is_file():
            return []
        with open(self.path, newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    def _rewrite(self, rows: list[Mapping[str, str]]) -> None:
        """Replace the file with the header and ``rows``, atomically (`write_atomically`)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        columns = self.columns or list(BASE_COLUMNS)
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        write_atomically(self.path, text.getvalue())
        self.columns = columns


def _epoch(row: Mapping[str, str]) -> int | None:
    try:
        return int(float(row.get("epoch") or ""))
    except ValueError:
        return None

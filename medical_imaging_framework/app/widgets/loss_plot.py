"""The live loss plot: training and validation loss per epoch of the whole run, read from its ``metrics.csv``."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from medical_imaging_framework.run.events import CheckpointsConfigured, EpochEnded
from medical_imaging_framework.run.records import RecordError, read_loss_curve


class EpochAxis(pg.AxisItem):
    """An axis of epoch numbers: ticks only at whole epochs (pyqtgraph would put them at 1.5, 2.5)."""

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, list[float]]]:
        """pyqtgraph's ticks, whole numbers only, at least one epoch apart."""
        levels = []
        for spacing, values in super().tickValues(minVal, maxVal, size):
            if spacing >= 1:
                levels.append((spacing, [value for value in values if float(value).is_integer()]))
        if not levels:  # zoomed in to less than one epoch: tick each epoch in view
            levels = [(1.0, [float(value) for value in range(math.ceil(minVal), math.floor(maxVal) + 1)])]
        return levels


class LossPlot(pg.PlotWidget):
    """Training and validation loss per epoch of the whole run, drawn as epochs end.

    A Trainer that writes checkpoints writes ``metrics.csv`` beside them, one row per epoch of the run (a
    resumed run keeps the rows of the epochs before it): the plot draws that file, so after a resume it shows
    epochs 1-4, not only the 3-4 this window saw. Without the file (checkpoints off, or it cannot be read) it
    draws the epochs of the run's events.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="w", axisItems={"bottom": EpochAxis("bottom")})
        self.setObjectName("loss_plot")
        self.setLabel("bottom", "epoch")
        self.setLabel("left", "loss")
        self.getAxis("left").enableAutoSIPrefix(False)
        self.showGrid(x=True, y=True, alpha=0.3)
        self.addLegend(offset=(-10, 10))
        self.train_curve = self.plot([], [], pen=pg.mkPen("#1565c0", width=2), symbol="o", symbolSize=6,
                                     symbolBrush="#1565c0", name="training loss")
        self.val_curve = self.plot([], [], pen=pg.mkPen("#e65100", width=2), symbol="s", symbolSize=6,
                                   symbolBrush="#e65100", name="validation loss")
        self.metrics_path: Path | None = None  # the run's metrics.csv, once its Trainer announced the folder
        self._seen: dict[int, tuple[float, float | None]] = {}  # epoch -> losses, from this run's events
        self._from_file: dict[int, tuple[float, float | None]] | None = None  # metrics.csv, read once per run
        self.epochs: list[int] = []
        self.losses: list[float] = []
        self.val_epochs: list[int] = []
        self.val_losses: list[float] = []
        self.overlay: list[pg.PlotDataItem] = []  # other runs' curves (`overlay_runs`): training, validation, ...

    def reset(self) -> None:
        """Forget the curves and the run's folder, and let the axes fit the next data (a new run or document)."""
        self.metrics_path, self._seen, self._from_file = None, {}, None
        self.clear_overlay()
        self._draw({})
        self.enableAutoRange()

    def clear_overlay(self) -> None:
        """Remove the curves `overlay_runs` drew (and their legend entries)."""
        if not self.overlay and self.train_curve.isVisible():
            return
        for item in self.overlay:
            self.removeItem(item)
        self.overlay = []
        legend = self.plotItem.legend
        for curve, name in ((self.train_curve, "training loss"), (self.val_curve, "validation loss")):
            curve.show()
            legend.addItem(curve, name)

    def overlay_runs(self, runs: list[tuple[str, Path]]) -> list[str]:
        """Draw several runs' training (solid) and validation (dashed) loss from their ``metrics.csv``, one colour
        per run, named by run id in the legend; the live curves are hidden meanwhile. Returns the runs whose file
        could not be read (left out).

        Args:
            runs: (run id, its ``metrics.csv``) pairs.
        """
        self.reset()
        for curve in (self.train_curve, self.val_curve):  # the live curves leave the plot and its legend
            curve.hide()
            self.plotItem.legend.removeItem(curve)
        left_out = []
        for index, (run_id, path) in enumerate(runs):
            try:
                rows = read_loss_curve(path)  # torch-free: the dock may be used before torch has loaded
            except RecordError:
                rows = {}
            if not rows:
                left_out.append(run_id)
                continue
            colour = pg.intColor(index, hues=max(len(runs), 3), values=1, maxValue=200)
            epochs = sorted(rows)
            val_epochs = [epoch for epoch in epochs if rows[epoch][1] is not None]
            self.overlay.append(self.plot(epochs, [rows[epoch][0] for epoch in epochs], symbol="o", symbolSize=5,
                                          pen=pg.mkPen(colour, width=2), symbolBrush=colour, name=f"{run_id} training"))
            self.overlay.append(self.plot(val_epochs, [rows[epoch][1] for epoch in val_epochs], symbol="s",
                                          symbolSize=5, symbolBrush=colour, name=f"{run_id} validation",
                                          pen=pg.mkPen(colour, width=2, style=Qt.PenStyle.DashLine)))
        self.enableAutoRange()
        return left_out

    def follow(self, event: CheckpointsConfigured) -> None:
        """The run's Trainer writes checkpoints, and ``metrics.csv``, into ``event.directory``: plot that file.

        Args:
            event: the Trainer's announcement (the folder as typed: relative to the working folder, ``~`` allowed).
        """
        from medical_imaging_framework.training.metrics_log import METRICS_NAME  # imports torch: a run has loaded it

        if event.directory:
            self.metrics_path = Path(os.path.abspath(os.path.expanduser(event.directory))) / METRICS_NAME
            self._from_file = None

    def add_epoch(self, event: EpochEnded) -> None:
        """An epoch ended: draw the run's epochs so far (its ``metrics.csv`` and this window's events)."""
        self._seen[event.epoch] = (event.loss, event.val_loss)
        if self._from_file is None:  # the file once, at the run's first epoch (a resumed run's earlier epochs);
            self._from_file = self._read_rows()  # later epochs come as events: no re-read on the GUI thread
        # rows past this epoch are another run's (a folder whose metrics.csv this run could not write)
        rows = {epoch: losses for epoch, losses in self._from_file.items() if epoch <= event.epoch}
        rows.update(self._seen)  # the event of an epoch whose row is not written yet
        self._draw(rows)

    def run_ended(self) -> None:
        """A run ended well without an epoch here (a resume with no epoch left): draw its folder's ``metrics.csv``."""
        if not self._seen and self.metrics_path is not None and not self.overlay and self.metrics_path.is_file():
            self.show_metrics(self.metrics_path)

    def show_metrics(self, path: Path) -> bool:
        """Draw the epochs of the ``metrics.csv`` at ``path`` (e.g. a finished run's); False when it cannot be read.

        Args:
            path: the file.
        """
        self.metrics_path, self._seen = path, {}
        rows = self._from_file = self._read_rows()
        self._draw(rows)
        self.enableAutoRange()
        return bool(rows)

    def _read_rows(self) -> dict[int, tuple[float, float | None]]:
        if self.metrics_path is None or not self.metrics_path.is_file():
            return {}
        # the project's reader (bounds, clear errors) imports torch: only read once a run has loaded it
        from medical_imaging_framework.tools.report_inputs import ReportInputError, read_metrics_rows

        try:
            rows = read_metrics_rows(self.metrics_path)
        except ReportInputError:  # half-written or damaged: the events still draw this run's epochs
            return {}
        return {int(row["epoch"]): (row["train_loss"], row.get("val_loss"))  # type: ignore[misc]
                for row in rows if row["epoch"] is not None and row["train_loss"] is not None}

    def _draw(self, rows: dict[int, tuple[Any, Any]]) -> None:
        epochs = sorted(rows)
        self.epochs = epochs
        self.losses = [float(rows[epoch][0]) for epoch in epochs]
        self.val_epochs = [epoch for epoch in epochs if rows[epoch][1] is not None]
        self.val_losses = [float(rows[epoch][1]) for epoch in self.val_epochs]
        self.train_curve.setData(self.epochs, self.losses)
        self.val_curve.setData(self.val_epochs, self.val_losses)

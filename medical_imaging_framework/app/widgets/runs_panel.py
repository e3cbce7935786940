"""The Runs dock's panel: the recorded runs of a working folder (`run.run_index`) in a sortable table, and the
buttons that act on the selected ones (what they do is `app.window.runs_actions`)."""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medical_imaging_framework.core.text import printable
from medical_imaging_framework.run.records import RunRecord
from medical_imaging_framework.run.run_index import list_runs

COLUMNS = ("started", "run", "status", "epochs", "best val loss", "mean Dice", "pipeline")
STATUS_COLOURS = {"done": "#2e7d32", "failed": "#c62828", "stopped": "#ef6c00", "running": "#1565c0",
                  "killed": "#6a1b9a"}
BUTTONS = (("overlay", "Overlay curves", "Draw the selected runs' training and validation loss in the Loss dock"),
           ("diff", "Diff", "The parameters and links that differ between two selected runs"),
           ("open", "Open pipeline", "Open the run's pipeline as a new, unsaved document"),
           ("resume", "Resume", "Open the run's pipeline set to resume from its last checkpoint"),
           ("report", "Open report", "Write and open the HTML report of the run's checkpoint folder"),
           ("remove", "Remove", "Move the run's folder to .mif/trash of the working folder"))


class SortItem(QTableWidgetItem):
    """A cell sorted by a number (or a text) it holds apart from what it shows; a missing number sorts last."""

    def __init__(self, text: str, key: float | str) -> None:
        super().__init__(text)
        self.key = key

    def __lt__(self, other: QTableWidgetItem) -> bool:
        """Compare the keys (numbers before texts)."""
        mine, theirs = self.key, getattr(other, "key", other.text())
        if isinstance(mine, float) and isinstance(theirs, float):
            return mine < theirs
        return str(mine) < str(theirs)


def _number(value: float | None) -> tuple[str, float]:
    if value is None or math.isnan(value):
        return "-", math.inf
    return f"{value:.4f}", value


class RunsPanel(QWidget):
    """The runs of ``folder``: sortable by any column (date, best loss, Dice), the status in colour.

    Signals:
        requested(str, list): a button was pressed: its name (``overlay``, ``diff``, ...) and the selected runs.
    """

    requested = Signal(str, list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder: Path = Path.cwd()
        self.records: list[RunRecord] = []
        self.where = QLabel()
        self.where.setObjectName("runs_folder")
        self.where.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("runs_table")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setSortingEnabled(True)
        self.table.itemSelectionChanged.connect(self._sync_buttons)
        self.buttons: dict[str, QPushButton] = {}
        for name, text, tip in BUTTONS:
            button = QPushButton(text)
            button.setObjectName(f"runs_{name}")
            button.setToolTip(tip)
            button.clicked.connect(lambda _=False, name=name: self.requested.emit(name, self.selected()))
            self.buttons[name] = button
        refresh = QPushButton("Refresh")
        refresh.setObjectName("runs_refresh")
        refresh.clicked.connect(self.refresh)
        self._row_of_buttons = [*self.buttons.values(), refresh]
        for button in self._row_of_buttons:  # the columns follow the width (resizeEvent), not the other way round
            button.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self._button_grid = QGridLayout()
        self._columns = 0
        self._lay_out_buttons(2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.where)
        layout.addWidget(self.table)
        layout.addLayout(self._button_grid)
        self._sync_buttons()

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Lay the buttons out in as many columns as the width takes: one row in a wide dock, and a narrow
        dock (tabbed on the window's right) does not force the window wider than a small screen."""
        widest = max(button.sizeHint().width() for button in self._row_of_buttons) + 6
        self._lay_out_buttons(max(2, event.size().width() // widest))
        super().resizeEvent(event)

    def _lay_out_buttons(self, columns: int) -> None:
        columns = min(columns, len(self._row_of_buttons))
        if columns == self._columns:
            return
        self._columns = columns
        for index, button in enumerate(self._row_of_buttons):
            self._button_grid.addWidget(button, index // columns, index % columns)

    def set_folder(self, folder: Path) -> None:
        """Show the runs of ``folder`` (the open pipeline's folder, or the current directory)."""
        self.folder = folder
        self.refresh()

    def refresh(self) -> None:
        """Read the folder's runs again (its index, rebuilt from the records when needed)."""
        try:
            self.records = list_runs(self.folder)
        except OSError as error:  # an unreadable folder: say so in the panel, show no run
            self.records = []
            self.where.setText(printable(f"Runs of {self.folder}: cannot be read ({error.strerror or error})"))
        else:
            self.where.setText(printable(f"Runs of {self.folder}: {len(self.records)}"))
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(self.records))
        for row, record in enumerate(self.records):
            loss, loss_key = _number(record.best_val_loss)
            dice, dice_key = _number(record.mean_dice)
            cells = [SortItem(record.started, record.started), SortItem(record.run_id, record.run_id),
                     SortItem(record.status, record.status),
                     SortItem(record.epochs_text, float(record.epochs or sum(r.epoch for r in record.reused))),
                     SortItem(loss, loss_key), SortItem(dice, -math.inf if dice == "-" else dice_key),
                     SortItem(printable(record.pipeline_name), record.pipeline_name)]
            cells[2].setForeground(QColor(STATUS_COLOURS.get(record.status, "#000000")))
            if record.status == "killed" and record.process is not None:
                cells[2].setToolTip(f"Its process ({record.process.describe()}) is gone and never wrote the "
                                    "run's end (kill -9, power cut); epochs and loss are read from metrics.csv")
            cells[1].setData(Qt.ItemDataRole.UserRole, record.run_id)
            cells[1].setToolTip(str(record.path))
            if record.reused:  # trained nothing: name whose training it used
                cells[3].setToolTip("\n".join(f"{r.node_id} reused run {r.run_id}, epoch {r.epoch} ({r.folder})"
                                               for r in record.reused))
            for column, cell in enumerate(cells):
                self.table.setItem(row, column, cell)
        self.table.setSortingEnabled(True)
        self._sync_buttons()

    def selected(self) -> list[RunRecord]:
        """The selected runs, in the table's order."""
        by_id = {record.run_id: record for record in self.records}
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        ids = [self.table.item(row, 1).data(Qt.ItemDataRole.UserRole) for row in rows]
        return [by_id[run_id] for run_id in ids if run_id in by_id]

    def select_ids(self, run_ids: list[str]) -> None:
        """Select the rows of ``run_ids`` (tests, and after a refresh)."""
        self.table.clearSelection()
        mode = self.table.selectionMode()
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        for row in range(self.table.rowCount()):
            if self.table.item(row, 1).data(Qt.ItemDataRole.UserRole) in run_ids:
                self.table.selectRow(row)
        self.table.setSelectionMode(mode)

    def _sync_buttons(self) -> None:
        count = len(self.table.selectionModel().selectedRows())
        for name, button in self.buttons.items():
            button.setEnabled(count == 2 if name == "diff" else count >= 1 if name == "overlay" else count == 1)


__all__ = ["COLUMNS", "RunsPanel"]

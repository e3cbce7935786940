"""The per-case table of an evaluation: one row per case (Dice per class, mean Dice, HD95 per class and mean,
missed structures), sortable by any column; the mean over the cases is written under it.

Values are the rows `EvaluateSegmentation` reported (`MetricsReported`), the same numbers as its
``evaluation.csv``; each cell keeps its number under `VALUE_ROLE` (``inf`` and ``nan`` included) and sorts by
it, n/a last.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

VALUE_ROLE = Qt.ItemDataRole.UserRole + 1

EMPTY_TEXT = "Run a pipeline with an Evaluate Segmentation node, then select a case in the table."


def column_title(key: str) -> str:
    """The header of a metric column: ``dice_liver`` -> ``Dice liver``, ``dice`` -> ``mean Dice``, ...

    Args:
        key: the metric's name in the evaluation's rows.
    """
    for prefix, title in (("dice_", "Dice "), ("hd95_", "HD95 ")):
        if key.startswith(prefix):
            return title + key[len(prefix):].replace("_", " ")
    return {"dice": "mean Dice", "hd95": "HD95 (mm)", "missed": "missed"}.get(key, key)


def ordered_columns(row: dict[str, Any]) -> list[str]:
    """The metric columns in reading order: Dice per class, mean Dice, HD95 per class, HD95, missed.

    Args:
        row: one per-case row (its keys).
    """
    keys = [key for key in row if key != "name"]
    per_class_dice = [key for key in keys if key.startswith("dice_")]
    per_class_hd = [key for key in keys if key.startswith("hd95_")]
    rest = [key for key in keys if key not in (*per_class_dice, *per_class_hd, "dice", "hd95", "missed")]
    return [*per_class_dice, *(["dice"] if "dice" in keys else []), *per_class_hd,
            *(["hd95"] if "hd95" in keys else []), *(["missed"] if "missed" in keys else []), *rest]


def cell_text(key: str, value: Any) -> str:
    """A metric as shown: 4 decimals, ``inf``, ``n/a`` for nan, whole numbers for ``missed``."""
    if not isinstance(value, (int, float)):
        return str(value)
    if key == "missed":
        return str(int(value))
    if math.isnan(value):
        return "n/a"
    return "inf" if math.isinf(value) else f"{value:.4f}"


class MetricItem(QTableWidgetItem):
    """A cell that sorts by its number (`VALUE_ROLE`); n/a sorts after every number in ascending order."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        mine, theirs = self.data(VALUE_ROLE), other.data(VALUE_ROLE)
        if isinstance(mine, str) or isinstance(theirs, str):
            return str(mine) < str(theirs)
        mine_nan, theirs_nan = math.isnan(mine), math.isnan(theirs)
        if mine_nan or theirs_nan:
            return theirs_nan and not mine_nan  # n/a sorts after every number (ascending)
        return mine < theirs


class CaseTable(QWidget):
    """The table of one evaluation node's cases (`show_rows`), with its mean underneath.

    Args:
        parent: owning widget.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, 0)
        self.table.setObjectName("case_table")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setAlternatingRowColors(True)
        self.mean = QLabel("")
        self.mean.setObjectName("case_table_mean")
        self.mean.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        self.footer = QHBoxLayout()  # the mean, and room for buttons before it (next/previous case)
        self.footer.addWidget(self.mean, 1)
        layout.addLayout(self.footer)
        self.columns: list[str] = []

    def show_rows(self, rows: list[dict[str, Any]], mean: dict[str, Any], title: str = "") -> None:
        """Fill the table with ``rows`` (one per case, in the evaluation's order) and say the mean below.

        Args:
            rows: the per-case rows (``name`` and the metrics).
            mean: each metric's mean (the evaluation's ``mean`` row).
            title: who evaluated (e.g. the node id), before the mean.
        """
        self.table.setSortingEnabled(False)
        self.table.clearContents()
        self.columns = ordered_columns(rows[0]) if rows else []
        self.table.setColumnCount(1 + len(self.columns))
        self.table.setHorizontalHeaderLabels(["case", *(column_title(key) for key in self.columns)])
        self.table.setRowCount(len(rows))
        for index, row in enumerate(rows):
            name = MetricItem(str(row["name"]))
            name.setData(VALUE_ROLE, str(row["name"]))
            self.table.setItem(index, 0, name)
            for column, key in enumerate(self.columns, start=1):
                value = row.get(key, float("nan"))
                item = MetricItem(cell_text(key, value))
                item.setData(VALUE_ROLE, float(value) if isinstance(value, (int, float)) else str(value))
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(index, column, item)
        self.table.setSortingEnabled(True)
        parts = [f"{column_title(key).removeprefix('mean ').removesuffix(' (mm)')} {cell_text(key, mean[key])}"
                 for key in self.columns if key in mean]
        self.mean.setText(f"{title} · " * bool(title) + f"{len(rows)} case(s) · mean: " + ", ".join(parts))

    def clear(self) -> None:
        """No evaluation shown."""
        self.table.setSortingEnabled(False)
        self.table.setRowCount(0)
        self.table.setColumnCount(0)
        self.columns = []
        self.mean.setText("")

    def names(self) -> list[str]:
        """The case names in the order shown (after sorting)."""
        return [self.table.item(row, 0).text() for row in range(self.table.rowCount())]

    def value(self, row: int, key: str) -> Any:
        """The number of metric ``key`` in the row shown at ``row`` (``name`` for the case's name)."""
        column = 0 if key == "name" else 1 + self.columns.index(key)
        return self.table.item(row, column).data(VALUE_ROLE)

    def current_name(self) -> str:
        """The selected case's name ("" when none)."""
        row = self.table.currentRow()
        return self.table.item(row, 0).text() if row >= 0 and self.table.item(row, 0) else ""

    def select_row(self, row: int) -> None:
        """Select the row shown at ``row`` (kept within the table)."""
        if self.table.rowCount():
            row = max(0, min(row, self.table.rowCount() - 1))
            self.table.setCurrentCell(row, max(0, self.table.currentColumn()))

    def step(self, delta: int) -> None:
        """Select the next (+1) or previous (-1) case in the order shown; the first when none is selected."""
        current = self.table.currentRow()
        self.select_row(0 if current < 0 else current + delta)

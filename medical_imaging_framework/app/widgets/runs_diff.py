"""The table of what differs between two runs' pipelines (`run.pipeline_diff`), in a dialog."""

from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medical_imaging_framework.core.text import printable
from medical_imaging_framework.run.pipeline_diff import Change, diff_pipelines
from medical_imaging_framework.run.records import RunRecord

COLUMNS = ("change", "node", "field / link", "old", "new")


def _value(value: object) -> str:
    return "" if value is None else printable(repr(value) if isinstance(value, str) else str(value))


class RunsDiffDialog(QDialog):
    """Changed parameters, nodes and links from run ``a`` to run ``b``; output folders last, in grey.

    Args:
        a: the first run.
        b: the second run.
        parent: the window.
    """

    def __init__(self, a: RunRecord, b: RunRecord, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runs_diff")
        self.setWindowTitle(f"Runs {a.run_id} → {b.run_id}")
        self.changes: list[Change] = diff_pipelines(a.pipeline, b.pipeline)
        computed = sum(change.kind != "output" for change in self.changes)
        summary = QLabel(f"{computed} change(s) from run {a.run_id} to run {b.run_id}"
                         + ("" if computed == len(self.changes) else "; the grey rows only say where they wrote"))
        self.table = QTableWidget(len(self.changes), len(COLUMNS))
        self.table.setObjectName("runs_diff_table")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        for row, change in enumerate(self.changes):
            link = change.kind.startswith("link")
            cells = [change.kind, change.node, change.field, _value(change.old if not link else ""),
                     _value(change.new if not link else "")]
            if change.kind.startswith("node"):
                cells[3], cells[4] = _value(change.old), _value(change.new)
            for column, text in enumerate(cells):
                item = QTableWidgetItem(printable(text))
                if change.kind == "output":
                    item.setForeground(QColor("#808080"))
                self.table.setItem(row, column, item)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(summary)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(640, 320)

    def rows(self) -> list[tuple[str, ...]]:
        """The table's text, row by row (tests)."""
        return [tuple(self.table.item(row, column).text() for column in range(len(COLUMNS)))
                for row in range(self.table.rowCount())]


__all__ = ["RunsDiffDialog"]

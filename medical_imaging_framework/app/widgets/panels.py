"""The run panels: log pane, checkpoints table, progress bar (the loss plot is `loss_plot`)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QTextOption
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medical_imaging_framework.core.text import printable
from medical_imaging_framework.run.events import CheckpointSaved, Progress


class LogPane(QWidget):
    """Read-only run log: long lines wrap; it follows new lines until the user scrolls up and follows again once
    they scroll back to the bottom (as a terminal does); each run starts with a separator line; Clear and Copy."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QPlainTextEdit()
        self.text.setObjectName("log_pane")
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.text.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)  # long paths wrap too
        self.text.setMaximumBlockCount(100_000)
        self.text.setStyleSheet("font-family: monospace;")
        self.following = True  # the view sticks to the last line
        self.runs = 0  # runs started in this window (numbers the separators)
        self._scrolling = False  # True while this pane moves the scroll bar itself
        bar = self.text.verticalScrollBar()
        bar.valueChanged.connect(self._on_scrolled)
        # the document lays new lines out lazily: the range grows after `append` returns, so follow it here
        bar.rangeChanged.connect(self._on_range_changed)
        clear, copy = QPushButton("Clear"), QPushButton("Copy")
        clear.setObjectName("log_clear")
        copy.setObjectName("log_copy")
        clear.clicked.connect(self.text.clear)
        copy.clicked.connect(self.copy_all)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(copy)
        buttons.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.text)
        layout.addLayout(buttons)

    def append(self, line: str) -> None:
        """Add a line (it may hold newlines); the view moves to it only while it follows the log.

        Control and format characters in it are shown escaped (`printable`), as ``mif run`` prints them.

        Args:
            line: the text; it may quote a file name, a path or a library's message.
        """
        bar = self.text.verticalScrollBar()
        position = bar.value()
        self.text.appendPlainText(printable(line, keep_newlines=True))
        self._scroll_to(bar.maximum() if self.following else position)

    def begin_run(self, where: str, now: datetime | None = None) -> str:
        """Start a run's part of the log: a separator line with its number, the time and where it runs; the
        view follows again (a new run is always in sight). Returns the line.

        Args:
            where: the run mode, e.g. "in this window".
            now: the start time (the clock's when omitted).
        """
        self.runs += 1
        stamp = (now or datetime.now()).strftime("%H:%M:%S")
        line = f"── Run {self.runs} · {stamp} · {where} ──"
        self.following = True
        self.append(line)
        return line

    def copy_all(self) -> None:
        """Copy the whole log to the clipboard."""
        QGuiApplication.clipboard().setText(self.text.toPlainText())

    def lines(self) -> list[str]:
        """The log's text, line by line."""
        return self.text.toPlainText().splitlines()

    def _scroll_to(self, value: int) -> None:
        self._scrolling = True
        try:
            self.text.verticalScrollBar().setValue(value)
        finally:
            self._scrolling = False

    def _on_scrolled(self, value: int) -> None:
        if not self._scrolling:  # the user moved the view: follow only if it is at the bottom now
            self.following = value >= self.text.verticalScrollBar().maximum() - 1

    def _on_range_changed(self, _minimum: int, maximum: int) -> None:
        if self.following:
            self._scroll_to(maximum)


class CheckpointsPanel(QTableWidget):
    """One row per checkpoint file (kind, epoch, loss, file), updated in place when the file is replaced.

    Double-click copies the path and opens its folder in the file manager (also in the context menu);
    when no file manager can be launched, `message` says so (the window shows it in the status bar).
    """

    path_copied = Signal(str)
    message = Signal(str)
    HEADERS = ("Kind", "Epoch", "Loss", "File")

    def __init__(self, parent: QWidget | None = None, open_folders: bool = True) -> None:
        super().__init__(0, len(self.HEADERS), parent)
        self.setObjectName("checkpoints_panel")
        self.open_folders = open_folders
        self.setHorizontalHeaderLabels(self.HEADERS)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.horizontalHeader()
        for column in range(3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.paths: list[str] = []
        self.cellDoubleClicked.connect(self._on_double_click)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.action_open_folder = QAction("Open Folder", self)
        self.action_open_folder.setObjectName("checkpoints_open_folder")
        self.action_open_folder.triggered.connect(lambda: self.open_folder(self.currentRow()))
        self.addAction(self.action_open_folder)

    def add_checkpoint(self, event: CheckpointSaved) -> None:
        """Show a checkpoint that is on disk: a new row for a new file, the same row for a replaced one."""
        key = str(Path(event.path).resolve())
        if key in self.paths:
            row = self.paths.index(key)
        else:
            row = self.rowCount()
            self.insertRow(row)
            self.paths.append(key)
        cells = (event.kind, str(event.epoch), f"{event.loss:.4f}", Path(event.path).name)
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setToolTip(event.path)
            if column in (1, 2):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.setItem(row, column, item)
        self.scrollToItem(self.item(row, 0))

    def reset(self) -> None:
        """Empty the table (a new run starts, or another pipeline was opened)."""
        self.setRowCount(0)
        self.paths = []

    def open_folder(self, row: int) -> bool:
        """Open the folder of the file in ``row`` in the file manager; False (and a `message`) when it fails.

        Args:
            row: a table row.
        """
        if not 0 <= row < len(self.paths):
            return False
        folder = str(Path(self.paths[row]).parent)
        if QDesktopServices.openUrl(QUrl.fromLocalFile(folder)):
            return True
        self.message.emit(f"Could not open {folder}: no file manager could be started (the path is "
                          "in the Checkpoints panel's tooltip; double-click copies it)")
        return False

    def _on_double_click(self, row: int, column: int) -> None:
        path = self.paths[row]
        QGuiApplication.clipboard().setText(path)
        self.path_copied.emit(path)
        if self.open_folders:
            self.open_folder(row)


class RunProgress(QProgressBar):
    """Epoch and batch of the running Trainer, e.g. ``epoch 3/20 · batch 5/8``.

    Shown from a run's start until another pipeline is opened (`reset`), at a fixed `WIDTH`: hidden and narrow,
    it leaves the status bar's messages their room.
    """

    WIDTH = 230  # "epoch 120/200 · batch 100/125" fits

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("run_progress")
        self.setFixedWidth(self.WIDTH)
        self.setRange(0, 1000)
        self.setTextVisible(True)
        self.reset()

    def reset(self) -> None:
        """No run yet for the open pipeline: empty and hidden."""
        super().reset()
        self.setValue(0)
        self.setFormat("idle")
        self.setVisible(False)

    def show_progress(self, event: Progress) -> None:
        """Show where training is."""
        batches = max(event.num_batches, 1)
        done = (event.epoch - 1 + event.batch / batches) / max(event.num_epochs, 1)
        self.setValue(int(1000 * min(max(done, 0.0), 1.0)))
        self.setFormat(f"epoch {event.epoch}/{event.num_epochs} · batch {event.batch}/{event.num_batches}")
        self.setVisible(True)

    def show_status(self, text: str, full: bool = False) -> None:
        """A plain status text (``idle``, ``done``...)."""
        if full:
            self.setValue(1000)
        self.setFormat(text)
        self.setVisible(True)

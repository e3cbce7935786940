"""File ▸ New from Dataset…: fingerprint a dataset, show its cases, problems and the plan's choices with their
reasons, re-plan with another budget, and hand the planned train pipeline to the window.

The fingerprint and the plan (which starts a probe process, `tools/plan_probe.py`) run in a plain Python thread
that touches no Qt object: it writes its progress and results into a dict that a GUI-thread timer reads, and the
garbage-collection guard (`app/qt/gc_guard.py`) keeps collections on the GUI thread while it runs.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medical_imaging_framework.app.qt.gc_guard import collector
from medical_imaging_framework.core.text import printable

POLL_MS = 100
CASE_COLUMNS = ("Case", "Shape", "Spacing (mm)", "Orientation", "Class voxels", "Foreground p0.5 .. p99.5")


def plan_job(state: dict[str, Any], dataset: str, out: Path, memory_gb: float, device: str, minutes: float) -> None:
    """Fingerprint ``dataset`` (unless ``state`` holds its fingerprint already), plan, write the files (any thread;
    touches no Qt object). Results go into ``state``: ``done``/``total``, ``phase``, ``fingerprint``, ``plan``,
    ``paths`` or ``error`` (one line naming what failed).

    Args:
        state: shared with the GUI thread.
        dataset: the dataset path.
        out: the folder for fingerprint.json and the pipelines.
        memory_gb: the memory budget (0: automatic).
        device: ``cpu``, ``cuda`` or "" (automatic).
        minutes: the time budget.
    """
    from medical_imaging_framework.nodes.io.dataset_source import DatasetError
    from medical_imaging_framework.nodes.io.fingerprint import CACHE_FOLDER, fingerprint_dataset, write_fingerprint
    from medical_imaging_framework.tools.plan_pipelines import write_pipelines
    from medical_imaging_framework.tools.plan_probe import plan_with_probe
    from medical_imaging_framework.tools.planning import PlanError

    try:
        fingerprint = state.get("fingerprint")
        if fingerprint is None:
            state["phase"] = "Reading cases"
            fingerprint = fingerprint_dataset(dataset, cache_dir=out / CACHE_FOLDER,
                                              progress=lambda done, total: state.update(done=done, total=total))
            write_fingerprint(fingerprint, out / "fingerprint.json")
            state["fingerprint"] = fingerprint
        state["phase"] = "Measuring training steps"
        plan = plan_with_probe(fingerprint, memory_gb, device, minutes)
        state["paths"] = write_pipelines(plan, fingerprint, out)
        state["plan"] = plan
    except (DatasetError, PlanError, OSError) as error:
        state["error"] = printable(str(error))
    except Exception as error:  # last resort: one line in the dialog, never a traceback
        state["error"] = printable(f"{type(error).__name__}: {error}")


class DatasetPlanDialog(QDialog):
    """The dataset, its fingerprint and the plan; Open Train Pipeline accepts.

    Args:
        parent: the main window.
        dataset: a dataset to start with ("" to choose one).
    """

    planned = Signal()  # a fingerprint/plan job has ended (shown, or its error shown)

    def __init__(self, parent: QWidget | None = None, dataset: str = "") -> None:
        super().__init__(parent)
        self.setObjectName("dataset_plan_dialog")
        self.setWindowTitle("New from Dataset")
        self.resize(1100, 760)
        self.state: dict[str, Any] = {}
        self.thread: threading.Thread | None = None
        self.train_path: Path | None = None
        self._build(dataset)
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self._show_progress)

    def _build(self, dataset: str) -> None:
        self.path_edit = QLineEdit(dataset)
        self.path_edit.setPlaceholderText("a dataset.json, a CSV datalist, or a folder with imagesTr/labelsTr")
        choose_file, choose_folder = QPushButton("File…"), QPushButton("Folder…")
        choose_file.clicked.connect(self.choose_file)
        choose_folder.clicked.connect(self.choose_folder)
        row = QHBoxLayout()
        for widget in (self.path_edit, choose_file, choose_folder):
            row.addWidget(widget)
        self.out_edit = QLineEdit()
        self.out_edit.setPlaceholderText("default: a mif_plan folder beside the dataset")
        self.memory = QDoubleSpinBox(minimum=0.0, maximum=4096.0, decimals=1, suffix=" GB")
        self.memory.setSpecialValueText("auto (half the free memory)")
        self.minutes = QDoubleSpinBox(minimum=0.01, maximum=100000.0, decimals=2, value=60.0, suffix=" min")
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda"])
        self.start_button = QPushButton("Fingerprint and Plan")
        self.start_button.clicked.connect(self.start)
        self.replan_button = QPushButton("Re-plan with this Budget")
        self.replan_button.setEnabled(False)
        self.replan_button.clicked.connect(self.replan)
        form = QFormLayout()
        form.addRow("Dataset", row)
        form.addRow("Plan folder", self.out_edit)
        form.addRow("Memory per step", self.memory)
        form.addRow("Training time", self.minutes)
        form.addRow("Device", self.device)
        buttons_row = QHBoxLayout()
        buttons_row.addWidget(self.start_button)
        buttons_row.addWidget(self.replan_button)
        buttons_row.addStretch()
        self.progress = QProgressBar()
        self.status = QLabel("Choose a dataset, then Fingerprint and Plan.")
        self.status.setWordWrap(True)
        self.cases = self._table(CASE_COLUMNS)
        self.problems = QListWidget()
        self.problems.setObjectName("fingerprint_problems")
        self.problems.setWordWrap(True)  # a problem names two full paths: wrapped, not cut at the right edge
        self.problems.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.problems.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.choices = self._table(("Choice", "Value", "Reason"))
        self.choices.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.choices.setWordWrap(True)
        # the Reason column stretches with the dialog: its rows follow, so no reason is cut with an ellipsis
        self.choices.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.open_button = self.buttons.addButton("Open Train Pipeline", QDialogButtonBox.ButtonRole.AcceptRole)
        self.open_button.setEnabled(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        for title, widget, stretch in (("Cases", self.cases, 3), ("Problems", self.problems, 1),
                                       ("Plan: each choice and why", self.choices, 4)):
            layout.addWidget(QLabel(f"<b>{title}</b>"))
            layout.addWidget(widget, stretch)
        layout.addWidget(self.buttons)

    @staticmethod
    def _table(columns: tuple[str, ...]) -> QTableWidget:
        table = QTableWidget(0, len(columns))
        table.setHorizontalHeaderLabels(list(columns))
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setStretchLastSection(True)  # the last header is never cut
        return table

    # -- choosing and starting ----------------------------------------------------------------
    def choose_file(self) -> None:
        """A dataset.json or CSV datalist from a file dialog; the fingerprint starts at once."""
        chosen, _ = QFileDialog.getOpenFileName(self, "Dataset (dataset.json or CSV datalist)", self._start_folder(),
                                                "Datasets (*.json *.csv);;All files (*)")
        if chosen:
            self.path_edit.setText(chosen)
            self.start()

    def choose_folder(self) -> None:
        """A folder holding dataset.json or imagesTr/labelsTr (images/labels); the fingerprint starts at once."""
        chosen = QFileDialog.getExistingDirectory(self, "Dataset folder", self._start_folder())
        if chosen:
            self.path_edit.setText(chosen)
            self.start()

    def _start_folder(self) -> str:
        text = self.path_edit.text().strip()
        return str(Path(text).expanduser().parent) if text else str(Path.home())

    def out_folder(self) -> Path:
        """The plan folder: as typed, or ``mif_plan`` beside the dataset."""
        typed = self.out_edit.text().strip()
        if typed:
            return Path(typed).expanduser().resolve()
        dataset = Path(self.path_edit.text().strip()).expanduser().resolve()
        return (dataset if dataset.is_dir() else dataset.parent) / "mif_plan"

    def start(self) -> bool:
        """Fingerprint the dataset and plan it (in a thread); False when no dataset is given or a job runs."""
        if not self.path_edit.text().strip():
            self.status.setText("Choose a dataset first (File… or Folder…).")
            return False
        return self._launch(keep_fingerprint=False)

    def replan(self) -> bool:
        """Plan again with the budget now in the fields, from the fingerprint already read."""
        return self._launch(keep_fingerprint=True)

    def _launch(self, keep_fingerprint: bool) -> bool:
        if self.thread is not None:
            return False
        fingerprint = self.state.get("fingerprint") if keep_fingerprint else None
        read = len(fingerprint.get("cases", [])) if fingerprint else 0
        self.state = {"fingerprint": fingerprint, "done": read, "total": read} if fingerprint else {}
        if not keep_fingerprint:
            self.cases.setRowCount(0)
            self.problems.clear()
        self.choices.setRowCount(0)
        for widget in (self.start_button, self.replan_button, self.open_button):
            widget.setEnabled(False)
        device = "" if self.device.currentText() == "auto" else self.device.currentText()
        args = (self.state, self.path_edit.text().strip(), self.out_folder(), self.memory.value(), device,
                self.minutes.value())
        self.thread = threading.Thread(target=plan_job, args=args, name="mif-plan", daemon=True)
        self.thread.start()
        collector().watch(self.thread, self._finished)
        self.timer.start()
        return True

    # -- results ------------------------------------------------------------------------------
    def _show_progress(self) -> None:
        total = int(self.state.get("total", 0))
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(int(self.state.get("done", 0)))
        phase = self.state.get("phase", "Starting")
        self.status.setText(f"{phase}…" + (f" {self.state.get('done', 0)}/{total}" if phase == "Reading cases"
                                           and total else ""))
        if self.state.get("fingerprint") is not None and not self.cases.rowCount():
            self._show_fingerprint(self.state["fingerprint"])

    def _finished(self) -> None:
        self.thread = None
        self.timer.stop()
        self._show_progress()
        self.start_button.setEnabled(True)
        self.replan_button.setEnabled(self.state.get("fingerprint") is not None)
        if "error" in self.state:
            self.status.setText(f"Cannot plan: {self.state['error']}")
        elif "plan" in self.state:
            self._show_plan(self.state["plan"], self.state["paths"])
        self.planned.emit()

    def _show_fingerprint(self, fingerprint: dict[str, Any]) -> None:
        cases = fingerprint.get("cases", [])
        self.cases.setRowCount(len(cases))
        for row, case in enumerate(cases):
            stats = case.get("intensity") or {}
            cells = (case["name"], "x".join(map(str, case.get("shape", []))) or "unread",
                     " x ".join(f"{v:g}" for v in case.get("spacing", [])), case.get("axcodes", ""),
                     ", ".join(f"{k}: {v}" for k, v in case.get("class_voxels", {}).items()),
                     f"{stats['p00_5']:.4g} .. {stats['p99_5']:.4g}" if stats else "")
            for column, text in enumerate(cells):
                item = QTableWidgetItem(str(text))
                item.setToolTip(case.get("image", ""))
                self.cases.setItem(row, column, item)
        self.cases.resizeColumnsToContents()
        lines = [f"{p['file']}: {p['kind']}: {p['message']}" for p in fingerprint.get("problems", [])]
        self.problems.addItems([printable(line) for line in lines] or ["No problem found."])

    def _show_plan(self, plan: Any, paths: tuple[Path, Path]) -> None:
        self.choices.setRowCount(len(plan.choices))
        for row, choice in enumerate(plan.choices):
            for column, text in enumerate((choice.name, choice.value, choice.reason)):
                item = QTableWidgetItem(text)
                item.setToolTip(choice.reason)
                item.setTextAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
                self.choices.setItem(row, column, item)
        self.choices.resizeColumnToContents(0)
        self.choices.resizeColumnToContents(1)
        self.choices.setColumnWidth(1, min(self.choices.columnWidth(1), 260))  # the reasons keep the room
        self.choices.resizeRowsToContents()
        self.train_path = paths[0]
        self.open_button.setEnabled(True)
        self.status.setText(f"Planned: {paths[0]} and {paths[1]}. Change the budget and Re-plan, or open the "
                            "train pipeline.")

    def reject(self) -> None:
        """Cancel: a running job finishes in the background; its files are still written."""
        self.timer.stop()
        super().reject()

"""The Results dock: the per-case table of the last run's evaluation and the case viewer under it.

The table fills from the evaluation's `MetricsReported` event, in every way to run. The cases' arrays are read
one at a time, when a case is selected, from the `CaseSource` the evaluation node left in the run's outputs
(`nodes/evaluation/case_source.py`): nothing is loaded for the cases not looked at. The read runs off the GUI
thread (`case_reader.py`); the viewer keeps the case it shows, its caption saying which case is being read,
until the newest selection's arrays arrive. A run in child processes
keeps its outputs there, so its table is shown without images (the viewer says so).
"""

from __future__ import annotations

from typing import Any

import shiboken6
from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QDockWidget, QPushButton, QSplitter, QVBoxLayout, QWidget

from medical_imaging_framework.app.widgets.case_table import EMPTY_TEXT, CaseTable
from medical_imaging_framework.app.widgets.deferred import DeferredWidget
from medical_imaging_framework.app.window.case_reader import CaseReader, ReadOutcome
from medical_imaging_framework.run.events import Event, MetricsReported
from medical_imaging_framework.run.executor import RunResult

CHILD_TEXT = ("This run ran in other processes: its cases' images stayed there. Run it in the editor "
              "(Run ▸ Run Where ▸ In the editor) to look at each case.")
WAIT_TEXT = "The case's images can be looked at once the run has ended."
READING_TEXT = "Reading case {name}…"
MINIMUM_SIZE = (210, 110)
SPLIT_SIZES = [150, 530]  # first heights of the table (with its buttons) and of the case viewer
NEXT_KEYS, PREVIOUS_KEYS = (Qt.Key.Key_N,), (Qt.Key.Key_P,)


def _make_case_view() -> QWidget:
    """The case viewer (imports pyqtgraph and numpy), built once the window has painted or on first use."""
    from medical_imaging_framework.app.widgets.case_view import CaseView

    return CaseView()


class ResultsPanel(QWidget):
    """Table of cases, Previous/Next buttons (keys P and N in the table) and the case viewer.

    Args:
        parent: owning widget.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("results_panel")
        self.cases = CaseTable()
        self.viewer = DeferredWidget(_make_case_view, QSize(400, SPLIT_SIZES[1]))  # pyqtgraph: after the paint
        self.previous = QPushButton("◀ Previous")
        self.previous.setObjectName("case_previous")
        self.previous.setToolTip("The case above in the table (P)")
        self.next = QPushButton("Next ▶")
        self.next.setObjectName("case_next")
        self.next.setToolTip("The case below in the table (N)")
        self.previous.clicked.connect(lambda: self.cases.step(-1))
        self.next.clicked.connect(lambda: self.cases.step(1))
        self.cases.footer.insertWidget(0, self.previous)
        self.cases.footer.insertWidget(1, self.next)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.cases)
        self.splitter.addWidget(self.viewer)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setSizes(SPLIT_SIZES)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.splitter)
        # no larger a floor than the Image View's, tabbed with it: a low window keeps its size (the splitter's
        # parts then shrink below their comfortable sizes)
        self.setMinimumSize(*MINIMUM_SIZE)
        self.node_id = ""
        self.source: Any = None  # the evaluation's CaseSource, once the run has ended in this process
        self.run_ended = False
        self.reader = CaseReader()  # no parent: it outlives the panel while its thread runs
        self.reader.read_done.connect(self._show_read)
        self.cases.table.currentCellChanged.connect(lambda *_: self.show_selected())
        self.cases.table.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """N and P in the table: next and previous case (Up/Down move too, as in any table)."""
        if watched is self.cases.table and isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress:
            key = event.key()
            if event.modifiers() == Qt.KeyboardModifier.NoModifier and (key in NEXT_KEYS or key in PREVIOUS_KEYS):
                self.cases.step(1 if key in NEXT_KEYS else -1)
                return True
        return super().eventFilter(watched, event)

    def reset(self) -> None:
        """Forget the last evaluation (a new run, another pipeline)."""
        self.node_id, self.source, self.run_ended = "", None, False
        self.reader.cancel()  # a read in progress ends unseen
        self.cases.clear()
        if self.viewer.built:  # one not built yet starts with this text
            self.viewer.show_message(EMPTY_TEXT)

    def on_event(self, event: Event) -> None:
        """Fill the table from an evaluation's metrics (the last evaluation node of a run is shown)."""
        if isinstance(event, MetricsReported) and event.per_case:
            self.node_id, self.source = event.node_id, None
            self.reader.cancel()
            self.cases.show_rows(list(event.per_case), dict(event.mean), event.node_id)
            self.viewer.show_message(WAIT_TEXT)

    def run_finished(self, result: RunResult | None) -> None:
        """Take the evaluation's case source from the run's outputs (runs in this process), then show a case."""
        self.run_ended = True
        metrics = (result.outputs.get(self.node_id, {}).get("metrics") if result is not None else None) or {}
        self.source = metrics.get("cases") if isinstance(metrics, dict) else None
        if not self.node_id:
            return
        if self.cases.current_name():
            self.show_selected()
        else:
            self.cases.select_row(0)

    @property
    def reading(self) -> bool:
        """Whether a case is being read (or waits to be) for the viewer."""
        return self.reader.busy

    def show_selected(self) -> None:
        """Show the selected case: its arrays are read in the reader's thread, then drawn (`_show_read`)."""
        name = self.cases.current_name()
        if not name:
            return
        if self.source is None:
            self.reader.cancel()
            self.viewer.show_message(CHILD_TEXT if self.run_ended else WAIT_TEXT)
            return
        self.viewer.say(READING_TEXT.format(name=name))
        self.reader.request(self.source, name)

    def _show_read(self, outcome: ReadOutcome) -> None:
        """Draw the newest selection's case, or say why it cannot be shown (GUI thread)."""
        if not shiboken6.isValid(self) or self.source is None:  # closed, or reset since (the reader cancels too)
            return
        if outcome.error:  # a file moved or unreadable since the run: said in the viewer, not raised
            self.viewer.show_message(f"case '{outcome.name}' cannot be shown: {outcome.error}")
            return
        case = outcome.case
        note = f"{self.source.grid} grid"
        self.viewer.show_case(case.name, case.image, case.label, case.prediction, self.source.class_names, note,
                              outcome.summary)


def install_results(window: Any) -> ResultsPanel:
    """Add the Results dock to ``window`` (tabbed with the Image View) and wire it to the window's runs.

    Args:
        window: the main window (its ``runner``, ``image_dock`` and View menu exist; it empties the panel when
            another pipeline is opened).
    """
    panel = ResultsPanel()
    dock = QDockWidget("Results", window)
    dock.setObjectName("dock_results")
    dock.setWidget(panel)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    window.tabifyDockWidget(window.image_dock, dock)
    window.checkpoint_dock.raise_()
    window.results_dock = dock
    for action in window.menuBar().actions():
        if action.menu() is not None and action.text() == "&View":
            action.menu().addAction(dock.toggleViewAction())
    window.runner.started.connect(panel.reset)
    window.runner.event.connect(panel.on_event)
    window.runner.event.connect(lambda event: dock.raise_() if isinstance(event, MetricsReported) else None)
    window.runner.finished.connect(panel.run_finished)
    panel.reset()
    return panel

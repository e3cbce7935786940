"""The editor's Report action: after a run that trained, write `mif report`'s HTML page and offer to open it.

The checkpoint folders are the ones the run itself wrote to, taken from its ``CheckpointSaved`` events (so a
relative ``checkpoint_dir`` resolves exactly as the run resolved it), else the Trainers' ``checkpoint_dir``
of the graph that ran when metrics were written there without a checkpoint (a run stopped early). The
report goes to ``report.html`` in each folder, beside the files it describes, as ``mif report`` writes it.
Writing it reads every checkpoint and renders PNG figures (about a second), so it runs in a plain Python
thread; the GUI thread only shows the outcome.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QMessageBox, QWidget

from medical_imaging_framework.app.qt.gc_guard import collector
from medical_imaging_framework.core import Graph
from medical_imaging_framework.core.text import printable
from medical_imaging_framework.run.events import CheckpointSaved, Event
from medical_imaging_framework.run.executor import RunResult

# the files that show a run used a folder: `training.metrics_log.METRICS_NAME` and `checkpoints.files.FINAL_NAME`
# (named here because both modules import torch, which the editor loads only after its window is up)
RUN_FILES = ("metrics.csv", "final_model.pt")


@dataclass
class ReportOutcome:
    """What the report thread did: the files written (and the sections they left out, one line each), or the
    folder and reason it failed."""

    written: list[Path] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    failed_folder: Path | None = None
    reason: str = ""


def write_reports(folders: list[Path]) -> ReportOutcome:
    """Write ``report.html`` into each folder (any thread; touches no Qt object).

    Args:
        folders: checkpoint folders of one run.
    """
    outcome = ReportOutcome()
    for folder in folders:
        try:
            from medical_imaging_framework.tools.report import ReportError, write_report

            outcome.written.append(write_report(folder, warn=outcome.left_out.append))
        except ReportError as error:
            outcome.failed_folder, outcome.reason = folder, str(error)
        except OSError as error:  # not writable, disk full, vanished meanwhile
            reason = error.strerror or str(error)
            outcome.failed_folder, outcome.reason = folder, f"{reason}: {error.filename}" if error.filename else reason
        except Exception as error:  # a broken file in the folder: say what, without a traceback
            outcome.failed_folder, outcome.reason = folder, f"{type(error).__name__}: {error}"
        if outcome.failed_folder is not None:
            break
    return outcome


class ReportAction(QObject):
    """The "Report" action of a main window, following its run controller.

    Args:
        window: the main window (parent of the message boxes; its log pane gets the report's path).
        runner: the window's `RunController`.
        log: called with each line for the log pane.
    """

    report_done = Signal(object)  # the ReportOutcome, once the thread has ended (for tests and the status bar)
    message = Signal(str)  # a line for the window's status bar (the report could not be opened)

    def __init__(self, window: QWidget, runner: Any, log: Callable[[str], None]) -> None:
        super().__init__(window)
        self.window = window
        self.runner = runner
        self.log = log
        self.folders: list[Path] = []
        self.writing = False
        self.action = QAction("Re&port", window)
        self.action.setObjectName("action_report")
        self.action.setStatusTip("Write an HTML report of the last training run (curves, checkpoints, evaluation)"
                                 " into its checkpoint folder, then open it")
        self.action.triggered.connect(self.write)
        self._sync()
        runner.started.connect(self.on_run_started)
        runner.event.connect(self.on_event)
        runner.finished.connect(self.on_run_finished)

    def reset(self, *_: Any) -> None:
        """Forget the last run (another pipeline opens)."""
        self.folders = []
        self._sync()

    def find_earlier_run(self, graph: Graph) -> list[Path]:
        """A pipeline opens: the action is on when its Trainers' checkpoint folders hold a run's files already
        (its ``metrics.csv`` or final model), as after that run in this window. Returns those folders.

        Args:
            graph: the opened pipeline.
        """
        folders = []
        for node in graph.nodes.values():
            directory = node.config.get("checkpoint_dir")
            if not isinstance(directory, str) or not directory.strip():
                continue
            folder = Path(os.path.abspath(os.path.expanduser(directory.strip())))
            if any((folder / name).is_file() for name in RUN_FILES) and folder not in folders:
                folders.append(folder)
        self.folders = folders
        self._sync()
        return folders

    def on_run_started(self) -> None:
        """A run starts: forget the previous one."""
        self.reset()

    def on_event(self, event: Event) -> None:
        """Note each folder the run saves a checkpoint into."""
        if isinstance(event, CheckpointSaved):
            folder = Path(os.path.abspath(event.path)).parent
            if folder not in self.folders:
                self.folders.append(folder)

    def on_run_finished(self, result: RunResult | None) -> None:
        """A run ended: the action is on when it left a checkpoint folder with something to report."""
        if not self.folders and result is not None:  # no checkpoint saved: a run stopped early may have metrics
            from medical_imaging_framework.training.metrics_log import METRICS_NAME  # torch-free to import

            # the run's checkpoint folders, as its Trainers announced them: the same in every way to run
            folders = [Path(folder) for folder in result.checkpoint_folders]
            self.folders = [folder for folder in folders if (folder / METRICS_NAME).is_file()]
        self._sync()

    def _sync(self) -> None:
        idle = not self.runner.running and not self.writing
        self.action.setEnabled(idle and bool(self.folders))

    def write(self) -> None:
        """Write the reports in a background thread; the outcome is shown when it ends."""
        if self.writing or not self.folders:
            return
        missing = [folder for folder in self.folders if not folder.is_dir()]
        if missing:
            self._show_failure(missing[0], "the folder no longer exists")
            return
        self.writing = True
        self._sync()
        folders = list(self.folders)
        self.log(f"Writing the run report into {', '.join(str(f) for f in folders)}…")
        holder: dict[str, ReportOutcome] = {}
        thread = threading.Thread(target=lambda: holder.setdefault("outcome", write_reports(folders)),
                                  name="mif-report", daemon=True)
        thread.start()
        collector().watch(thread, lambda: self._finished(holder.get("outcome") or ReportOutcome(
            failed_folder=folders[0], reason="the report thread ended without a result")))

    def _finished(self, outcome: ReportOutcome) -> None:
        if not shiboken6.isValid(self.action):  # the window closed while the report was being written
            return
        self.writing = False
        self._sync()
        for line in outcome.left_out:
            self.log(f"Report: {printable(line)}")
        for path in outcome.written:
            self.log(f"Report written: {path}")
        if outcome.failed_folder is not None:
            self._show_failure(outcome.failed_folder, outcome.reason)
        elif outcome.written:
            self._offer_to_open(outcome.written)
        self.report_done.emit(outcome)

    def _show_failure(self, folder: Path, reason: str) -> None:
        shown, reason = printable(str(folder)), printable(reason)
        self.log(f"Report not written for {shown}: {reason}")
        QMessageBox.warning(self.window, "Report not written",
                            f"The report of the run could not be written into\n{shown}\n\n{reason}")

    def _offer_to_open(self, paths: list[Path]) -> None:
        names = "\n".join(str(path) for path in paths)
        answer = QMessageBox.question(
            self.window, "Report written", f"The run report was written to\n{names}\n\nOpen it in your web browser?",
            QMessageBox.StandardButton.Open | QMessageBox.StandardButton.Close, QMessageBox.StandardButton.Open,
        )
        if answer == QMessageBox.StandardButton.Open:
            for path in paths:
                if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
                    self._say_not_opened(path)

    def _say_not_opened(self, path: Path) -> None:
        """No browser could be started (Qt only tells stderr): say so in the window, with the path to open."""
        QGuiApplication.clipboard().setText(str(path))
        line = (f"Could not open {printable(str(path))}: no web browser could be started (the path is copied to "
                "the clipboard; open it in a browser)")
        self.log(line)
        self.message.emit(line)

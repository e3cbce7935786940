"""The Runs dock of the main window and what its buttons do: overlay curves, diff, open, resume, report, remove.

The dock lists the runs of the working folder: the open pipeline's folder, the run's working folder for a run's
pipeline opened from the dock, or the current directory for a pipeline never saved or a bundled example. It
reads the folder when it is shown, when the pipeline's file changes and when a run ends (never while hidden: a
first scan of a large folder takes a moment).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import QDockWidget, QMessageBox

from medical_imaging_framework.app.widgets.runs_diff import RunsDiffDialog
from medical_imaging_framework.app.widgets.runs_panel import RunsPanel
from medical_imaging_framework.core import Graph, PipelineFileError
from medical_imaging_framework.core.pipeline_file import graph_from_dict
from medical_imaging_framework.core.text import printable
from medical_imaging_framework.run.events import Event, TrainingReused
from medical_imaging_framework.run.executor import RunResult
from medical_imaging_framework.run.records import RECORD_NAME, RunRecord
from medical_imaging_framework.run.run_index import add_to_index, trash_run

MainWindow = Any  # the window imports this module (see layout.py)


class RunsActions(QObject):
    """Builds the Runs dock into ``window`` and carries out its buttons.

    Args:
        window: the main window (its loss plot, report action, runner and documents exist already).
    """

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.panel = RunsPanel()
        self.dock = QDockWidget("Runs", window)
        self.dock.setObjectName("dock_runs")
        self.dock.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        window.tabifyDockWidget(window.image_dock, self.dock)
        window.checkpoint_dock.raise_()
        for action in window.menuBar().actions():
            if action.menu() is not None and action.text() == "&View":
                action.menu().addAction(self.dock.toggleViewAction())
        self.diff_dialog: RunsDiffDialog | None = None
        self.opened: tuple[str, Path] | None = None  # the unsaved document of an opened run, and its working folder
        self.stale = True
        self.panel.requested.connect(self.act)
        self.dock.visibilityChanged.connect(lambda visible: visible and self.refresh_if_stale())
        window.document.pathChanged.connect(self.mark_stale)
        window.runner.finished.connect(self.on_run_finished)
        window.runner.event.connect(self.on_event)

    @Slot(object)
    def on_event(self, event: Event) -> None:
        """A reused training: the Loss dock shows its curves (no epoch comes to draw), from its ``metrics.csv``."""
        if isinstance(event, TrainingReused):
            from medical_imaging_framework.training.metrics_log import METRICS_NAME  # a run has loaded torch

            self.window.loss_plot.show_metrics(Path(event.directory) / METRICS_NAME)

    def working_folder(self) -> Path:
        """The open pipeline's folder; for a run's pipeline opened from the dock (not saved yet), the run's working
        folder; else the current directory (never saved, or a bundled example)."""
        document = self.window.document
        if document.path and not document.bundled:
            return document.path.resolve().parent
        if document.path is None and self.opened is not None and document.file_name == self.opened[0]:
            return self.opened[1]
        return Path.cwd()

    def mark_stale(self, *_: Any) -> None:
        """The list is out of date: read it now if the dock shows, else when it is next shown."""
        self.stale = True
        if self.dock.isVisible() and not self.dock.visibleRegion().isEmpty():
            self.refresh_if_stale()

    def refresh_if_stale(self) -> None:
        """Read the working folder's runs when the list is out of date."""
        if self.stale:
            self.stale = False
            self.panel.set_folder(self.working_folder())

    @Slot(object)
    def on_run_finished(self, result: RunResult | None) -> None:
        """A run ended: its record is on disk; name it in this folder's index too (a pipeline saved elsewhere
        than the current directory), then refresh."""
        folder = self.working_folder()
        if result is not None and folder != Path.cwd().resolve():
            records = [Path(path) / RECORD_NAME for path in result.checkpoint_folders]
            records += [Path(path) for path in result.record_files]  # runs/<id>/ of the current directory
            records = [path for path in dict.fromkeys(records) if path.is_file()]
            if records:
                add_to_index(folder, *records)
        self.mark_stale()

    @Slot(str, list)
    def act(self, name: str, records: list[RunRecord]) -> None:
        """Carry out button ``name`` on the selected ``records``."""
        if not records:
            return
        if name == "overlay":
            self.overlay(records)
        elif name == "diff" and len(records) == 2:
            older, newer = sorted(records, key=lambda record: record.started)  # "old" is the earlier run's value
            self.diff_dialog = RunsDiffDialog(older, newer, self.window)
            self.diff_dialog.open()
        elif name in ("open", "resume"):
            self.open_run(records[0], resume=name == "resume")
        elif name == "report":
            self.report(records[0])
        elif name == "remove":
            self.remove(records[0])

    def _say(self, text: str) -> None:
        self.window.statusBar().showMessage(printable(text), 10000)

    def overlay(self, records: list[RunRecord]) -> None:
        """Draw each run's loss curves from its ``metrics.csv`` in the Loss dock."""
        runs = [(record.run_id, metrics_file(record)) for record in records if record.metrics_csv]
        left_out = self.window.loss_plot.overlay_runs(runs)
        left_out += [record.run_id for record in records if not record.metrics_csv]
        self.window.plot_dock.raise_()
        drawn = len(records) - len(left_out)
        self._say(f"Loss curves of {drawn} run(s)" + (f"; no readable metrics.csv: {', '.join(left_out)}"
                                                     if left_out else ""))

    def open_run(self, record: RunRecord, resume: bool = False) -> Graph | None:
        """Open the run's pipeline as a new unsaved document named ``run-<id>.json``; with ``resume``, its Trainer
        writes into the run's folder again and resumes from its last checkpoint (``resume_from = last``).

        Args:
            record: the run.
            resume: set the Trainer up to continue the run.
        """
        window = self.window
        # the folder the dock listed the run in, not the one its record names: a working folder moved or copied
        # since keeps showing its own runs (and its own trash), not those of the folder it came from
        listed_in = self.panel.folder
        if window.runner.running:
            self._say("A run is in progress: open a run's pipeline once it has ended")
            return None
        if not self.untouched_run_document() and not window.files.maybe_discard():
            return None
        try:
            graph = graph_from_dict(record.pipeline, window.registry, source=str(record.path), placeholders=True)
        except PipelineFileError as error:
            QMessageBox.critical(window, "Cannot open the run's pipeline", printable(str(error)))
            return None
        trainers = resume_trainers(graph, record) if resume else []
        window.files.show_graph(graph, None)
        self.opened = (f"run-{record.run_id}.json", listed_in)
        window.document.set_path(None, self.opened[0])
        window.mark_unsaved()
        if resume and not trainers:
            self._say(f"Run {record.run_id}: no Trainer of its pipeline wrote into {record.folder}; nothing to resume")
        elif resume:
            left = "" if record.epochs < record.num_epochs else "; raise num_epochs to train further"
            self._say(f"Run {record.run_id} ready to resume from its last checkpoint (epoch {record.epochs}){left}")
        else:
            self._say(f"Opened the pipeline of run {record.run_id} (not saved)")
        return graph

    def untouched_run_document(self) -> bool:
        """Whether the open document is a run's pipeline opened from the dock and not edited since: it is marked
        unsaved (no file holds it), but its record keeps it, so opening another run loses nothing and asks nothing."""
        document = self.window.document
        return (document.path is None and self.opened is not None and document.file_name == self.opened[0]
                and self.window.canvas.editor.history.index == 0)

    def report(self, record: RunRecord) -> None:
        """Write and open the report of the run's checkpoint folder (the Report action)."""
        folders = [Path(folder) for folder in record.checkpoint_folders]
        if record.folder is not None and folders:
            folders[0] = record.folder  # where the record is now (the folder may have moved)
        elif not folders:  # a run that reused its training: the report of that training's folder
            folders = [Path(reused.folder) for reused in record.reused if reused.folder]
        if not folders:
            self._say(f"Run {record.run_id} has no checkpoint folder to report on")
            return
        self.window.report.folders = folders
        self.window.report.write()

    def remove(self, record: RunRecord) -> None:
        """Ask, then move the run's folder to the working folder's trash (`trash_run`)."""
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self.window, "Remove run", printable(f"Move run {record.run_id} ({record.folder}) to "
                                                 f"{self.working_folder() / '.mif' / 'trash'}? Nothing is deleted."),
            buttons.Yes | buttons.Cancel, buttons.Cancel)
        if answer != buttons.Yes:
            return
        try:
            target = trash_run(record, self.working_folder())
        except OSError as error:
            QMessageBox.warning(self.window, "Run not removed", printable(str(error)))
            return
        self._say(f"Run {record.run_id} moved to {target}")
        self.mark_stale()
        self.refresh_if_stale()


def metrics_file(record: RunRecord) -> Path:
    """The run's first ``metrics.csv``: where the record says, or beside the record when its folder has moved."""
    path = Path(record.metrics_csv[0])
    if not path.is_file() and record.folder is not None and (record.folder / path.name).is_file():
        return record.folder / path.name
    return path


def resume_trainers(graph: Graph, record: RunRecord) -> list[str]:
    """Set the Trainers that wrote into the run's checkpoint folders to resume there; returns their ids.

    A Trainer's folder is the run's when its ``checkpoint_dir``, resolved against the run's working folder,
    is one the record names; it then names the folder where the record is now (the folder may have moved).

    Args:
        graph: the run's pipeline (changed in place).
        record: the run.
    """
    found = []
    for node in graph.nodes.values():
        directory = node.config.get("checkpoint_dir")
        if "resume_from" not in node.config or not isinstance(directory, str) or not directory.strip():
            continue
        resolved = str((Path(record.working_folder) / os.path.expanduser(directory.strip())).resolve())
        if resolved not in record.checkpoint_folders:
            continue
        index = record.checkpoint_folders.index(resolved)
        now = record.folder if index == 0 and record.folder is not None else Path(resolved)
        node.config.update({"checkpoint_dir": str(now), "resume_from": "last"})
        found.append(node.id)
    return found


__all__ = ["RunsActions", "resume_trainers"]

"""File handling of the main window: New, Open, Save, Save As, the title and the discard prompts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog, QMessageBox

from medical_imaging_framework.core import Graph, PipelineFileError, load_pipeline, save_pipeline

if TYPE_CHECKING:
    from medical_imaging_framework.app.main_window import MainWindow

FILE_FILTER = "Pipeline files (*.json);;All files (*)"
APP_NAME = "Medical Imaging Framework"


class DocumentMixin:
    """Pipeline file commands, mixed into `MainWindow` (which provides canvas, log and status bar)."""

    path: Path | None

    def is_modified(self: MainWindow) -> bool:
        """Whether the canvas holds changes not saved to ``path``."""
        return not self.canvas.editor.history.is_clean()

    def update_title(self: MainWindow) -> None:
        """``name.json* — Medical Imaging Framework`` (the ``*`` while there are unsaved changes)."""
        name = self.path.name if self.path else "untitled.json"
        self.setWindowTitle(f"{name}[*] — {APP_NAME}")
        self.setWindowModified(self.is_modified())

    def maybe_discard(self: MainWindow) -> bool:
        """Ask before unsaved changes are lost; True when it is fine to go on."""
        if not self.is_modified():
            return True
        answer = QMessageBox.question(
            self,
            "Unsaved changes",
            f"Save the changes to {self.path.name if self.path else 'this pipeline'}?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def new_pipeline(self: MainWindow) -> None:
        """Start an empty pipeline (after asking about unsaved changes)."""
        if not self.maybe_discard():
            return
        self.show_graph(Graph(name="untitled"), None)

    def open_dialog(self: MainWindow) -> None:
        """Ask for a pipeline file and open it (after asking about unsaved changes)."""
        if not self.maybe_discard():
            return
        start = str(self.path.parent) if self.path else ""
        chosen, _ = QFileDialog.getOpenFileName(self, "Open pipeline", start, FILE_FILTER)
        if chosen:
            self.open_pipeline(chosen)

    def open_pipeline(self: MainWindow, path: str | Path) -> bool:
        """Load ``path``; a bad file gives a message box and leaves the open pipeline as it was.

        Args:
            path: a pipeline JSON file.
        """
        try:
            graph = load_pipeline(path, self.registry)
        except PipelineFileError as error:
            QMessageBox.critical(self, "Cannot open pipeline", str(error))
            self.statusBar().showMessage(f"Could not open {path}", 8000)
            return False
        self.show_graph(graph, Path(path))
        problems = graph.validate()
        if problems:
            self.report_problems(problems)
        self.statusBar().showMessage(f"Opened {path}", 5000)
        return True

    def show_graph(self: MainWindow, graph: Graph, path: Path | None) -> None:
        """Make ``graph`` the open pipeline, saved at ``path`` (None: never saved)."""
        self.canvas.load(graph)
        self.path = path
        self.update_title()
        self.fit_view()

    def save(self: MainWindow) -> bool:
        """Save to the current file, or ask for one; True when the file was written."""
        if self.path is None:
            return self.save_as()
        return self.write_file(self.path)

    def save_as(self: MainWindow) -> bool:
        """Ask for a file name and save there; True when the file was written."""
        start = str(self.path) if self.path else "pipeline.json"
        chosen, _ = QFileDialog.getSaveFileName(self, "Save pipeline as", start, FILE_FILTER)
        if not chosen:
            return False
        target = Path(chosen)
        if not target.suffix:
            target = target.with_suffix(".json")
        return self.write_file(target)

    def write_file(self: MainWindow, path: str | Path) -> bool:
        """Write the pipeline (with node positions) to ``path``; errors go to a message box.

        Args:
            path: the target file.
        """
        try:
            save_pipeline(self.canvas.graph, path)
        except PipelineFileError as error:
            QMessageBox.critical(self, "Cannot save pipeline", str(error))
            return False
        self.path = Path(path)
        self.canvas.editor.history.set_clean()
        self.update_title()
        self.statusBar().showMessage(f"Saved {path}", 5000)
        return True

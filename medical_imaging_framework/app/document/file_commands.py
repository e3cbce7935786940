"""File commands on the open `Document`: New, Open, Save, Save As, the Examples and Recent menus.

Bundled examples are templates: Save on one acts as Save As (starting in the working folder), and no
file is ever written inside the installed package. Open and Save As start in the last folder used.
The window is reached only through the small `DocumentHost` interface (no import of the window).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QStatusBar, QWidget

from medical_imaging_framework.app.document import settings as app_settings
from medical_imaging_framework.app.document.document import Document, bundled_examples, is_bundled
from medical_imaging_framework.core import Graph, NodeRegistry, PipelineFileError, Problem, load_pipeline, save_pipeline

FILE_FILTER = "Pipeline files (*.json);;All files (*)"


class DocumentHost(Protocol):
    """What the file commands need from the window."""

    def current_graph(self) -> Graph:
        """The pipeline as it is now (model in step with the canvas)."""
        ...

    def load_graph(self, graph: Graph) -> None:
        """Show ``graph`` as a fresh document: no undo history, no results of the previous one."""
        ...

    def mark_saved(self) -> None:
        """The current state is what the file holds (the undo history's clean point)."""
        ...

    def mark_unsaved(self) -> None:
        """No file holds the current state (a recovered pipeline)."""
        ...

    def report_problems(self, problems: list[Problem]) -> None:
        """List validation problems and outline their nodes."""
        ...

    def statusBar(self) -> QStatusBar:
        """The window's status bar."""
        ...


class FileCommands(QObject):
    """New / Open / Save / Save As for ``document``, shown in ``window``.

    Args:
        window: the main window (a QWidget implementing `DocumentHost`); parent of every dialog.
        document: the open document.
        registry: node types files may use.

    Signals:
        dialogClosed(): after any file dialog or message box closed (the window restores keyboard focus).
    """

    dialogClosed = Signal()

    def __init__(self, window: QWidget, document: Document, registry: NodeRegistry) -> None:
        super().__init__(window)
        self.window = window
        self.host: DocumentHost = window  # type: ignore[assignment]
        self.document = document
        self.registry = registry

    # -- prompts ------------------------------------------------------------------------------
    def maybe_discard(self) -> bool:
        """Ask before unsaved changes are lost; True when it is fine to go on."""
        if not self.document.modified:
            return True
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self.window, "Unsaved changes",
            f"Save the changes to {self.document.file_name if self.document.path else 'this pipeline'}?",
            buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save,
        )
        self.dialogClosed.emit()
        if answer == buttons.Save:
            return self.save()
        return answer == buttons.Discard

    def _status(self, text: str, timeout_ms: int = 5000) -> None:
        self.host.statusBar().showMessage(text, timeout_ms)

    # -- new and open -------------------------------------------------------------------------
    def new_pipeline(self) -> None:
        """Start an empty pipeline (after asking about unsaved changes)."""
        if self.maybe_discard():
            self.show_graph(Graph(name="untitled"), None)

    def open_dialog(self) -> None:
        """Ask for a pipeline file, starting in the last folder used, and open it."""
        if not self.maybe_discard():
            return
        chosen, _ = QFileDialog.getOpenFileName(self.window, "Open pipeline", str(app_settings.last_folder()),
                                                FILE_FILTER)
        self.dialogClosed.emit()
        if chosen:
            self.open_pipeline(chosen)

    def open_example(self, path: str | Path) -> bool:
        """Open a bundled example (after asking about unsaved changes); Save will ask where to put a copy.

        Args:
            path: the example's file in the package.
        """
        return self.maybe_discard() and self.open_pipeline(path)

    def open_recent(self, path: str | Path) -> bool:
        """Open a recent file (after asking about unsaved changes).

        Args:
            path: a file from the Recent menu.
        """
        return self.maybe_discard() and self.open_pipeline(path)

    def open_pipeline(self, path: str | Path) -> bool:
        """Load ``path``; a bad file gives a message box and leaves the open pipeline as it was.

        Args:
            path: a pipeline JSON file.
        """
        try:
            graph = load_pipeline(path, self.registry, placeholders=True)  # unknown types: placeholder nodes
        except PipelineFileError as error:
            QMessageBox.critical(self.window, "Cannot open pipeline", str(error))
            self.dialogClosed.emit()
            self._status(f"Could not open {path}", 8000)
            return False
        self.show_graph(graph, Path(path))
        self._remember(Path(path))
        problems = graph.validate()
        if problems:
            self.host.report_problems(problems)
        note = " (a bundled example: Save asks where to keep your copy)" if self.document.bundled else ""
        self._status(f"Opened {self.document.file_name}{note}")  # the name: a whole path would not fit
        return True

    def show_graph(self, graph: Graph, path: Path | None) -> None:
        """Make ``graph`` the open pipeline, saved at ``path`` (None: never saved).

        Args:
            graph: the pipeline.
            path: its file.
        """
        self.host.load_graph(graph)
        self.document.set_path(path)
        self.host.mark_saved()
        self.document.set_modified(False)

    def show_recovered(self, graph: Graph, path: Path | None) -> None:
        """Open a pipeline recovered after a crash: at its original ``path``, modified (Save writes it there).

        Args:
            graph: the recovered pipeline.
            path: the file it was loaded from or saved to before the crash (None: never saved).
        """
        self.show_graph(graph, path)
        self.host.mark_unsaved()
        problems = graph.validate()
        if problems:
            self.host.report_problems(problems)
        saved_there = path is not None and not self.document.bundled  # Save on an example is Save As
        where = f"Save writes them to {path}" if saved_there else "Save asks where to keep them"
        self._status(f"Recovered the unsaved changes of {self.document.file_name}: {where}", 10000)

    # -- save ---------------------------------------------------------------------------------
    def save(self) -> bool:
        """Save to the current file; a new pipeline or a bundled example asks for one. True when written."""
        if self.document.path is None or self.document.bundled:
            return self.save_as()
        return self.write_file(self.document.path)

    def save_as(self) -> bool:
        """Ask for a file name (in the working folder for an example, else the last folder) and save there."""
        path = self.document.path
        if path is not None and not self.document.bundled:
            start = path
        else:
            folder = Path.cwd() if self.document.bundled else app_settings.last_folder()
            start = folder / (path.name if path is not None else "pipeline.json")
        chosen, _ = QFileDialog.getSaveFileName(self.window, "Save pipeline as", str(start), FILE_FILTER)
        self.dialogClosed.emit()
        if not chosen:
            return False
        target = Path(chosen)
        if not target.suffix:
            target = target.with_suffix(".json")
        return self.write_file(target)

    def write_file(self, path: str | Path) -> bool:
        """Write the pipeline (with node positions) to ``path``; never inside the package. On a new file
        the pipeline's name becomes the file name. Errors go to a message box.

        Args:
            path: the target file.
        """
        target = Path(path)
        if is_bundled(target):
            QMessageBox.warning(self.window, "Cannot save here",
                                f"{target} is inside the installed program; its examples are templates. "
                                "Save your copy in another folder.")
            self.dialogClosed.emit()
            return False
        graph = self.host.current_graph()
        previous_name = graph.name
        if self.document.path is None or target.resolve() != self.document.path.resolve():
            graph.name = target.stem
        try:
            save_pipeline(graph, target)
        except PipelineFileError as error:
            graph.name = previous_name
            QMessageBox.critical(self.window, "Cannot save pipeline", str(error))
            self.dialogClosed.emit()
            return False
        self.document.set_path(target)
        self.host.mark_saved()
        self.document.set_modified(False)
        self._remember(target)
        self._status(f"Saved {target}")
        return True

    def _remember(self, path: Path) -> None:
        if not is_bundled(path):
            app_settings.remember_folder(path.parent)
            app_settings.add_recent(path)

    # -- menus --------------------------------------------------------------------------------
    def fill_examples_menu(self, menu: QMenu) -> None:
        """One entry per bundled example (its name, with its description as tooltip and status tip).

        Args:
            menu: the File > Examples menu.
        """
        menu.clear()
        menu.setToolTipsVisible(True)
        for example in bundled_examples():
            action = menu.addAction(f"{example.title} — {example.description}")
            action.setToolTip(example.description)
            action.setStatusTip(example.description)
            action.setData(str(example.path))
            action.triggered.connect(lambda _=False, p=example.path: self.open_example(p))

    def fill_recent_menu(self, menu: QMenu) -> None:
        """The recent files, newest first (missing ones disabled), then Clear.

        Args:
            menu: the File > Recent menu (refilled each time it opens).
        """
        menu.clear()
        files = app_settings.recent_files()
        for number, path in enumerate(files, start=1):
            action = menu.addAction(f"&{number % 10} {path.name}  ({path.parent})")
            action.setData(str(path))
            action.setStatusTip(str(path))
            action.setEnabled(path.is_file())
            action.triggered.connect(lambda _=False, p=path: self.open_recent(p))
        if not files:
            menu.addAction("(no recent files)").setEnabled(False)
        menu.addSeparator()
        menu.addAction("Clear Recent Files", app_settings.clear_recent).setEnabled(bool(files))

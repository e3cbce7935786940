"""The main window: canvas, palette, toolbar and menus, run panels and the parameter dialog."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QCloseEvent, QColor, QShowEvent
from PySide6.QtWidgets import QApplication, QMainWindow, QMessageBox

from medical_imaging_framework.app.document.document import Document
from medical_imaging_framework.app.document.file_commands import FileCommands
from medical_imaging_framework.app.document.recovery import Autosaver
from medical_imaging_framework.app.qt.late_keys import forward_late_keys
from medical_imaging_framework.app.running.controller import RunController
from medical_imaging_framework.app.running.data_outputs import DataOutputs
from medical_imaging_framework.app.running.torch_preload import QueuedRun, after_first_paint, torch_preload
from medical_imaging_framework.app.widgets.deferred import PendingArea, deferred_panels
from medical_imaging_framework.app.widgets.node_help import show_node_help
from medical_imaging_framework.app.widgets.panels import CheckpointsPanel, LogPane, RunProgress
from medical_imaging_framework.app.widgets.param_dialog import ParamDialog
from medical_imaging_framework.app.window import window_state
from medical_imaging_framework.app.window.actions import ActionsMixin
from medical_imaging_framework.app.window.annotation_actions import edit_annotation
from medical_imaging_framework.app.window.layout import (
    add_docks,
    give_the_plot_room,
    retire_viewer_undo_actions,
    set_tooltip,
)
from medical_imaging_framework.app.window.results_dock import install_results
from medical_imaging_framework.app.window.running_view import RunningMixin
from medical_imaging_framework.app.window.runs_actions import RunsActions
from medical_imaging_framework.core import Graph, NodeRegistry

if TYPE_CHECKING:  # the canvas side imports NodeGraphQt: only when it is built (see canvas_side.py)
    from medical_imaging_framework.app.canvas.adapter import CanvasAdapter
    from medical_imaging_framework.app.canvas.graph_widgets import MifNodeGraph, NodePalette
    from medical_imaging_framework.app.canvas.live_validation import LiveValidation
    from medical_imaging_framework.app.window.canvas_side import CanvasSide
    from medical_imaging_framework.app.window.context_menu import CanvasContextMenu

MIN_TITLE_PIXELS = 7.0  # Fit View zooms out no further than node titles this many pixels high
CANVAS_MINIMUM = (480, 300)  # the canvas stays usable however the docks grow
CANVAS_BACKGROUND = QColor(35, 35, 35)  # NodeGraphQt's ViewerEnum.BACKGROUND_COLOR, without importing NodeGraphQt


class MainWindow(ActionsMixin, RunningMixin, QMainWindow):
    """The editor. Builds without showing; ``node_graph`` is the NodeGraphQt graph.

    Args:
        pipeline_path: a pipeline file to open; None starts an empty pipeline.
        registry: node types (the built-in and plugin nodes when omitted).
        canvas_after_paint: build only the window's frame (menus, toolbar, docks) now and the canvas side with
            the pipeline when `build_canvas` is called, or when anything first needs it (`mif gui` calls it
            right after the first paint; see canvas_side.py).
    """

    def __init__(self, pipeline_path: str | Path | None = None, registry: NodeRegistry | None = None, *,
                 canvas_after_paint: bool = False) -> None:
        super().__init__()
        self.setObjectName("main_window")
        self.registry = registry or NodeRegistry()
        self.document = Document(self)
        self.files = FileCommands(self, self.document, self.registry)
        self.files.dialogClosed.connect(self.restore_focus)
        self.param_dialog: ParamDialog | None = None
        self.annotation_dialog: Any = None
        self.data_outputs = DataOutputs(self)
        self.data_outputs.ready.connect(self.show_node_sample)
        self.runner = RunController(self.registry, self)
        self.autosave = Autosaver(self.document, self.current_graph, self)  # the crash copy of unsaved edits
        self._side: CanvasSide | None = None  # the canvas, palette and their helpers (`build_canvas`)
        self._pipeline_to_open = pipeline_path
        opening = f"Opening {Path(pipeline_path).name}…" if pipeline_path is not None else ""
        self.canvas_area = PendingArea(CANVAS_BACKGROUND, opening)  # holds the canvas once it is built
        self.canvas_area.setMinimumSize(*CANVAS_MINIMUM)
        self.setCentralWidget(self.canvas_area)
        self._build_docks()
        self._build_actions()
        self.runs = RunsActions(self)  # the Runs dock (app/window/runs_actions.py)
        self._wire()
        self.results = install_results(self)  # the per-case table and viewer of an evaluation (Results dock)
        self.queued_run = QueuedRun(self.run_pipeline, torch_preload(), self.action_run, self.action_stop,
                                    self.statusBar())  # a Run pressed while torch still loads waits for it
        self.resize(1500, 950)
        self._layout_restored = window_state.restore(self)  # size, docks, Run Where of the last window closed
        self._fitted = False
        if not canvas_after_paint:
            self.build_canvas()
        elif pipeline_path is not None:  # its file (title, Save, the Runs dock's folder) until `build_canvas` reads it
            self.document.set_path(Path(pipeline_path))

    def build_canvas(self) -> None:
        """Build the canvas side (canvas, palette and their helpers) and open the window's pipeline; only the first
        call does anything."""
        if self._side is not None:
            return
        from medical_imaging_framework.app.window.canvas_side import CanvasSide  # imports NodeGraphQt

        self._side = CanvasSide(self, self.registry)
        self.canvas_area.hold(self._side.node_graph.widget)
        self.palette_area.hold(self._side.palette)
        self._side.attach(self)
        self._wire_canvas()
        path, self._pipeline_to_open = self._pipeline_to_open, None
        if path is None or not self.open_pipeline(path):
            self.show_graph(Graph(name="untitled"), None)
        failed = self.registry.load_plugins()  # node plugins that failed to load: said once, at start
        for message in failed:
            self.log.append(f"warning: {message}")
        if failed:
            self.statusBar().showMessage(f"{len(failed)} node plugin(s) failed to load: see the log")
        if self._fitted:  # shown before the canvas was built: frame the pipeline now
            self.fit_view()

    @property
    def canvas_built(self) -> bool:
        """Whether the canvas side exists yet (see `build_canvas`)."""
        return self._side is not None

    def _canvas_side(self) -> CanvasSide:
        if self._side is None:
            self.build_canvas()
        assert self._side is not None
        return self._side

    @property
    def canvas(self) -> CanvasAdapter:
        """The canvas adapter: the pipeline model and its NodeGraphQt view (built on first use)."""
        return self._canvas_side().canvas

    @property
    def node_graph(self) -> MifNodeGraph:
        """The NodeGraphQt graph of the canvas (built on first use)."""
        return self._canvas_side().node_graph

    @property
    def palette(self) -> NodePalette:
        """The node palette in the Nodes dock (built on first use)."""
        return self._canvas_side().palette

    @property
    def live_validation(self) -> LiveValidation:
        """The outlines of invalid nodes, following each edit (built on first use)."""
        live = self._canvas_side().live_validation
        assert live is not None
        return live

    @property
    def context_menu(self) -> CanvasContextMenu:
        """The canvas's right-click menu (built on first use)."""
        menu = self._canvas_side().context_menu
        assert menu is not None
        return menu

    # -- layout -------------------------------------------------------------------------------
    def _build_docks(self) -> None:
        self.palette_area = PendingArea()  # holds the palette once the canvas side is built
        self.log = LogPane()
        self.log_pane = self.log.text
        self.loss_plot, self.image_viewer = deferred_panels()  # pyqtgraph: built once the window has painted
        self.panels_follow_preload = False  # True (`launch`): built when the background import has their modules
        after_first_paint(self, lambda: None if self.panels_follow_preload else self.build_panels())
        self.checkpoints = CheckpointsPanel()
        self.progress = RunProgress()
        add_docks(self)
        self.statusBar().addPermanentWidget(self.progress)
        self.progress.reset()  # hidden until a run starts (addPermanentWidget shows it)
        self.statusBar().messageChanged.connect(self._message_tip)

    @Slot()
    def build_panels(self) -> None:
        """Build the pyqtgraph panels (loss plot, image view, case viewer) now; nothing for those built already."""
        self.loss_plot.build()
        self.image_viewer.build()
        self.results.viewer.build()


    def _sync_undo_actions(self, *_: Any) -> None:
        """Undo/redo follow the model's history, and are off while a run goes (an undo could change a parameter)."""
        history, idle = self.canvas.editor.history, not self.runner.running
        self.action_undo.setEnabled(idle and history.can_undo())
        self.action_redo.setEnabled(idle and history.can_redo())
        set_tooltip(self.action_undo, f"Undo {history.undo_text()}".strip())
        set_tooltip(self.action_redo, f"Redo {history.redo_text()}".strip())

    def _wire(self) -> None:
        self.autosave.failed.connect(self._show_message)
        self.document.titleChanged.connect(self.setWindowTitle)
        self.document.modifiedChanged.connect(self.setWindowModified)
        self.setWindowTitle(self.document.title)
        self.checkpoints.path_copied.connect(self._on_path_copied)
        self.checkpoints.message.connect(self._show_message)
        self.runner.event.connect(self.on_event)
        self.runner.finished.connect(self._on_run_finished)

    def _wire_canvas(self) -> None:
        """Connect the canvas side, once built, to the window's document, actions and docks."""
        node_graph, canvas = self.node_graph, self.canvas
        node_graph.node_double_clicked.connect(self._on_node_double_clicked)
        node_graph.node_selection_changed.connect(self._on_selection_changed)
        canvas.clean_changed.connect(self.document.set_clean)
        canvas.history_changed.connect(self.autosave.schedule)
        canvas.history_changed.connect(self._sync_undo_actions)
        canvas.editor_replaced.connect(self.report.reset)
        canvas.editor_replaced.connect(self.results.reset)
        canvas.link_refused.connect(self._show_message)
        canvas.link_hint.connect(self._show_hint)
        canvas.renamer.refused.connect(self._show_message)
        canvas.renamer.renamed.connect(lambda old, new: self._show_message(f"Renamed '{old}' to '{new}'"))
        retire_viewer_undo_actions(node_graph)
        self._sync_undo_actions()

    @Slot(str)
    def _show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 10000)

    @Slot(str)
    def _message_tip(self, text: str) -> None:
        self.statusBar().setToolTip(text)  # a message too long for the bar shows whole on hover

    @Slot(str)
    def _show_hint(self, text: str) -> None:
        if text:
            self.statusBar().showMessage(text)
        else:
            self.statusBar().clearMessage()

    @Slot(str)
    def _on_path_copied(self, path: str) -> None:
        self.statusBar().showMessage(f"Copied {path} to the clipboard", 5000)

    # -- the document (file commands live in FileCommands) -----------------------------------
    @property
    def path(self) -> Path | None:
        """The open pipeline's file (None: never saved)."""
        return self.document.path

    def open_pipeline(self, path: str | Path) -> bool:
        """Open ``path`` (see `FileCommands.open_pipeline`)."""
        return self.files.open_pipeline(path)

    def show_graph(self, graph: Graph, path: Path | None) -> None:
        """Make ``graph`` the open pipeline, saved at ``path`` (see `FileCommands.show_graph`)."""
        self.files.show_graph(graph, path)

    def current_graph(self) -> Graph:
        """The pipeline model (the canvas only shows it)."""
        return self.canvas.graph

    def load_graph(self, graph: Graph) -> None:
        """Draw ``graph`` as a new document; the previous one's results (plot, checkpoints, image) go."""
        self.canvas.load(graph)
        self.report.find_earlier_run(graph)  # Report is on for a folder that holds a run (also after a restart)
        self.canvas.clear_states()
        self.loss_plot.reset()
        self.checkpoints.reset()
        self.progress.reset()
        self.image_viewer.clear()
        self.data_outputs.reset()
        self.fit_view()

    def mark_saved(self) -> None:
        """The edit history's current state is the saved one."""
        self.canvas.editor.history.set_clean()

    def mark_unsaved(self) -> None:
        """No file holds the edit history's current state (a recovered pipeline)."""
        self.canvas.editor.history.set_unsaved()

    # -- canvas commands ----------------------------------------------------------------------
    def _zoom(self, step: float) -> None:
        self.node_graph.set_zoom(self.node_graph.get_zoom() + step)

    def fit_view(self) -> None:
        """Frame the selected nodes, or all nodes when none is selected."""
        self.canvas.fit(min_title_pixels=MIN_TITLE_PIXELS)

    def show_node_search(self) -> None:
        """Tab: search node types by title, category or description and add the chosen one."""
        self.canvas.show_node_search()

    def delete_selection(self) -> None:
        """Delete the selected nodes (one undo step)."""
        self.canvas.delete_selected()

    def edit_selected(self) -> None:
        """Open the parameter dialog of the first selected node."""
        selected = self.node_graph.selected_nodes()
        if selected:
            self._on_node_double_clicked(selected[0])

    def rename_selected(self) -> None:
        """F2: edit the title of the first selected node in place (Return renames, Esc keeps the id)."""
        selected = self.canvas.selected_ids()
        if selected:
            self.canvas.renamer.start(selected[0])
        else:
            self.statusBar().showMessage("Select a node, then press F2 to rename it", 5000)

    def showEvent(self, event: QShowEvent) -> None:
        """Frame the pipeline the first time the window appears (and give the loss plot its first height)."""
        super().showEvent(event)
        if not self._fitted:
            self._fitted = True
            if not self._layout_restored:
                give_the_plot_room(self)
            if self._side is not None:  # else `build_canvas` frames it
                QTimer.singleShot(0, self.fit_view)

    def restore_focus(self, *_: Any) -> None:
        """Give the keyboard back to the canvas once a dialog has closed, so F5, Esc, Ctrl+O, Ctrl+S work at once."""
        QTimer.singleShot(0, self._focus_canvas)

    def _focus_canvas(self) -> None:
        if QApplication.activeModalWidget() is None and self.isVisible():
            self.activateWindow()
            self.node_graph.viewer().setFocus(Qt.FocusReason.OtherFocusReason)

    def show_help(self) -> None:
        """F1: the documentation of the selected node's type."""
        selected = [n for n in self.node_graph.selected_nodes() if self.canvas.spec_of(n) is not None]
        if selected:
            dialog = show_node_help(self.canvas.spec_of(selected[0]), self)
            dialog.finished.connect(self.restore_focus)
            forward_late_keys(dialog, self)
        else:
            self.statusBar().showMessage("Select a node, then press F1 for its documentation", 5000)

    # -- parameter dialog ---------------------------------------------------------------------
    def _on_node_double_clicked(self, canvas_node: Any) -> None:
        if self.canvas.spec_of(canvas_node) is None:
            annotation = self.canvas.annotation_of_view(canvas_node.id)
            if annotation is not None:
                edit_annotation(self, annotation)
            return
        self.open_param_dialog(canvas_node.name())

    def open_param_dialog(self, node_id: str) -> ParamDialog:
        """Open (window-modal, non-blocking) the dialog of ``node_id``; read-only while a run is going.

        Args:
            node_id: the core node id.
        """
        node = self.canvas.graph.nodes[node_id]
        if self.param_dialog is not None:  # kept after it closed for keys still on their way to it (late_keys)
            self.param_dialog.deleteLater()
        dialog = ParamDialog(node, read_only=self.runner.running, parent=self)
        dialog.accepted.connect(lambda: self._apply_params(node_id, dialog))
        dialog.finished.connect(self.restore_focus)
        self.param_dialog = dialog
        dialog.open()
        forward_late_keys(dialog, self)  # F5 pressed right after Return still runs
        return dialog

    def _apply_params(self, node_id: str, dialog: ParamDialog) -> None:
        if self.runner.running:
            QMessageBox.warning(self, "Pipeline running", "Parameters cannot be changed while the pipeline runs.")
            return
        node = self.canvas.graph.nodes.get(node_id)
        if node is None or dialog.new_config is None or dialog.new_config == node.config:
            return
        self.canvas.set_config(node_id, dialog.new_config)
        self.canvas.set_state(node_id, "")
        self.statusBar().showMessage(f"Parameters of '{node_id}' changed", 5000)


    # -- closing ------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        """Ask every question first (stop the run? unsaved changes?); only when closing is certain stop the run
        and wait for its thread. A Cancel anywhere leaves the window and the run as they were."""
        if self.runner.running:
            answer = QMessageBox.question(
                self, "Run in progress", "A pipeline is running. Stop it and close the window?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        if not self.files.maybe_discard():
            event.ignore()
            return
        self.runner.shutdown()
        self.queued_run.cancel()  # a run still waiting for PyTorch never starts in a closed window
        self.autosave.discard()  # closed on purpose: nothing to recover
        window_state.save(self)
        event.accept()

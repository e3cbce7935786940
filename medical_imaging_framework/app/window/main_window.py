"""The main window: canvas, palette, toolbar and menus, run panels and the parameter dialog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import QApplication, QMainWindow, QMessageBox

from medical_imaging_framework.app.canvas.adapter import CanvasAdapter
from medical_imaging_framework.app.canvas.graph_widgets import MifNodeGraph, NodePalette
from medical_imaging_framework.app.canvas.live_validation import LiveValidation
from medical_imaging_framework.app.document.document import Document
from medical_imaging_framework.app.document.file_commands import FileCommands
from medical_imaging_framework.app.document.recovery import Autosaver
from medical_imaging_framework.app.qt.late_keys import forward_late_keys
from medical_imaging_framework.app.running.controller import RunController
from medical_imaging_framework.app.running.data_outputs import DataOutputs
from medical_imaging_framework.app.running.modes import run_mode_text
from medical_imaging_framework.app.running.report_action import ReportAction
from medical_imaging_framework.app.running.torch_preload import QueuedRun, after_first_paint, torch_preload
from medical_imaging_framework.app.widgets.deferred import deferred_panels
from medical_imaging_framework.app.widgets.node_help import show_node_help
from medical_imaging_framework.app.widgets.panels import CheckpointsPanel, LogPane, RunProgress
from medical_imaging_framework.app.widgets.param_dialog import ParamDialog
from medical_imaging_framework.app.window import new_from_dataset, window_state, windows
from medical_imaging_framework.app.window.annotation_actions import edit_annotation, group_selection
from medical_imaging_framework.app.window.context_menu import CanvasContextMenu
from medical_imaging_framework.app.window.layout import (
    add_docks,
    add_menus_and_toolbar,
    retire_viewer_undo_actions,
    set_tooltip,
)
from medical_imaging_framework.app.window.port_inspection import install_port_inspection
from medical_imaging_framework.app.window.results_dock import install_results
from medical_imaging_framework.app.window.runs_actions import RunsActions
from medical_imaging_framework.core import Graph, NodeRegistry, Problem
from medical_imaging_framework.core.text import printable
from medical_imaging_framework.run.events import (
    CheckpointSaved,
    CheckpointsConfigured,
    EpochEnded,
    Event,
    NodeFailed,
    Progress,
    RunFinished,
    SampleAvailable,
    format_event,
)
from medical_imaging_framework.run.executor import RunResult

MIN_TITLE_PIXELS = 7.0  # Fit View zooms out no further than node titles this many pixels high
EMPTY_TEXT = "Nothing to run: the pipeline is empty (add nodes from the palette, or open File > Examples)"
FINISH_TEXT = {"done": "Run finished", "failed": "Run failed", "cancelled": "Run stopped", "invalid": "Not run"}


class MainWindow(QMainWindow):
    """The editor. Builds without showing; ``node_graph`` is the NodeGraphQt graph.

    Args:
        pipeline_path: a pipeline file to open; None starts an empty pipeline.
        registry: node types (the built-in and plugin nodes when omitted).
    """

    def __init__(self, pipeline_path: str | Path | None = None, registry: NodeRegistry | None = None) -> None:
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
        self.node_graph = MifNodeGraph(parent=self)
        self.canvas = CanvasAdapter(self.node_graph, self.registry)
        self.runner = RunController(self.registry, self)
        self.live_validation = LiveValidation(self.canvas, lambda: self.runner.running, self)  # outlines follow edits
        self.autosave = Autosaver(self.document, self.current_graph, self)  # the crash copy of unsaved edits
        self.setCentralWidget(self.node_graph.widget)
        self.node_graph.widget.setMinimumSize(480, 300)  # the canvas stays usable however the docks grow
        self._build_docks()
        self._build_actions()
        self.runs = RunsActions(self)  # the Runs dock (app/window/runs_actions.py)
        self._wire()
        self.results = install_results(self)  # the per-case table and viewer of an evaluation (Results dock)
        install_port_inspection(self)  # after a run, an output port's tooltip summarises what it held
        self.context_menu = CanvasContextMenu(self)
        self.queued_run = QueuedRun(self.run_pipeline, torch_preload(), self.action_run, self.action_stop,
                                    self.statusBar())  # a Run pressed while torch still loads waits for it
        self.resize(1500, 950)
        window_state.restore(self)  # the size, docks and Run Where of the last window closed
        self._fitted = False
        if pipeline_path is not None:
            if not self.open_pipeline(pipeline_path):
                self.show_graph(Graph(name="untitled"), None)
        else:
            self.show_graph(Graph(name="untitled"), None)
        failed = self.registry.load_plugins()  # node plugins that failed to load: said once, at start
        for message in failed:
            self.log.append(f"warning: {message}")
        if failed:
            self.statusBar().showMessage(f"{len(failed)} node plugin(s) failed to load: see the log")

    # -- layout -------------------------------------------------------------------------------
    def _build_docks(self) -> None:
        self.palette = NodePalette(self.node_graph, self.canvas.palette_tooltips(), self.canvas.category_labels())
        self.palette.setObjectName("node_palette")
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

    def _action(self, name: str, text: str, slot: Any, shortcuts: tuple[Any, ...] = (), tip: str = "",
                canvas_only: bool = False) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.setStatusTip(tip or text.replace("&", "").rstrip("…"))
        action.triggered.connect(slot)
        if canvas_only:
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.node_graph.widget.addAction(action)
        else:
            self.addAction(action)
        return action

    def _build_actions(self) -> None:
        keys, graph = QKeySequence.StandardKey, self.node_graph
        files = self.files
        self.action_new = self._action("action_new", "&New", files.new_pipeline, (keys.New,))
        self.action_open = self._action("action_open", "&Open…", files.open_dialog, (keys.Open,))
        self.action_save = self._action("action_save", "&Save", files.save, (keys.Save,))
        self.action_save_as = self._action("action_save_as", "Save &As…", files.save_as, ("Ctrl+Shift+S",))
        self.action_quit = self._action("action_quit", "&Quit", windows.close_all, ("Ctrl+Q",), "Close every window")
        self.action_run = self._action("action_run", "&Run", self.run_pipeline, ("Ctrl+R", "F5"),
                                       "Validate the pipeline, then run it")
        self.action_stop = self._action("action_stop", "S&top", self.stop_run, ("Esc",),
                                        "Stop the run after the current batch")
        self.action_stop.setEnabled(False)
        self.report = ReportAction(self, self.runner, self.log.append)  # on after a run that trained
        self.action_report = self.report.action
        self.canvas.editor_replaced.connect(self.report.reset)
        self.report.message.connect(self._show_message)
        canvas = self.canvas  # undo/redo and clipboard act on the core model's history (see app/canvas.py)
        self.action_undo = self._action("action_undo", "&Undo", canvas.undo, ("Ctrl+Z",))
        self.action_redo = self._action("action_redo", "&Redo", canvas.redo, ("Ctrl+Shift+Z", "Ctrl+Y"))
        retire_viewer_undo_actions(self.node_graph)
        canvas.history_changed.connect(self._sync_undo_actions)
        self._sync_undo_actions()
        self.action_cut = self._action("action_cut", "Cu&t", canvas.cut_selected, ("Ctrl+X",), canvas_only=True)
        self.action_copy = self._action("action_copy", "&Copy", canvas.copy_selected, ("Ctrl+C",), canvas_only=True)
        self.action_paste = self._action("action_paste", "&Paste", lambda: canvas.paste(), ("Ctrl+V",),
                                         "Paste at the mouse (or next to the copied nodes)", canvas_only=True)
        self.action_duplicate = self._action("action_duplicate", "D&uplicate", canvas.duplicate_selected,
                                             ("Ctrl+D",), "Copies of the selected nodes beside them", canvas_only=True)
        self.action_delete = self._action("action_delete", "&Delete", self.delete_selection, ("Del", "Backspace"),
                                          canvas_only=True)
        self.action_select_all = self._action("action_select_all", "Select &All", graph.select_all, ("Ctrl+A",),
                                              canvas_only=True)
        self.action_edit = self._action("action_edit_params", "&Edit Parameters…", self.edit_selected, ("Ctrl+E",),
                                        canvas_only=True)
        self.action_rename = self._action("action_rename", "Re&name…", self.rename_selected, ("F2",),
                                          "Rename the selected node (F2, or double-click its title)", canvas_only=True)
        self.action_group = self._action("action_group", "&Group Selected Nodes", lambda: group_selection(self),
                                         ("Ctrl+G",), "Frame the selected nodes in a titled group that moves them",
                                         canvas_only=True)
        self.action_fit = self._action("action_fit", "&Fit View", self.fit_view, ("F",), canvas_only=True)
        self.action_zoom_in = self._action("action_zoom_in", "Zoom &In", lambda: self._zoom(0.1), ("Ctrl+=", "Ctrl++"))
        self.action_zoom_out = self._action("action_zoom_out", "Zoom &Out", lambda: self._zoom(-0.1), ("Ctrl+-",))
        self.action_zoom_reset = self._action("action_zoom_reset", "&Reset Zoom", graph.reset_zoom, ("Ctrl+0",))
        self.action_help = self._action("action_node_help", "Node &Help", self.show_help, ("F1",),
                                        "Documentation of the selected node (F1)", canvas_only=True)
        self.action_search = self._action("action_search", "Node &Search", self.show_node_search, ("Tab",),
                                          "Search node types by name (Tab)", canvas_only=True)
        add_menus_and_toolbar(self)
        windows.install(self)  # New Window, Open in New Window…, the Window menu
        new_from_dataset.install(self)  # File ▸ New from Dataset…

    def _sync_undo_actions(self, *_: Any) -> None:
        """Undo/redo follow the model's history, and are off while a run goes (an undo could change a parameter)."""
        history, idle = self.canvas.editor.history, not self.runner.running
        self.action_undo.setEnabled(idle and history.can_undo())
        self.action_redo.setEnabled(idle and history.can_redo())
        set_tooltip(self.action_undo, f"Undo {history.undo_text()}".strip())
        set_tooltip(self.action_redo, f"Redo {history.redo_text()}".strip())

    def _wire(self) -> None:
        self.node_graph.node_double_clicked.connect(self._on_node_double_clicked)
        self.node_graph.node_selection_changed.connect(self._on_selection_changed)
        self.canvas.clean_changed.connect(self.document.set_clean)
        self.canvas.history_changed.connect(self.autosave.schedule)
        self.autosave.failed.connect(self._show_message)
        self.document.titleChanged.connect(self.setWindowTitle)
        self.document.modifiedChanged.connect(self.setWindowModified)
        self.setWindowTitle(self.document.title)
        self.canvas.link_refused.connect(self._show_message)
        self.canvas.link_hint.connect(self._show_hint)
        self.canvas.renamer.refused.connect(self._show_message)
        self.canvas.renamer.renamed.connect(lambda old, new: self._show_message(f"Renamed '{old}' to '{new}'"))
        self.checkpoints.path_copied.connect(self._on_path_copied)
        self.checkpoints.message.connect(self._show_message)
        self.runner.event.connect(self.on_event)
        self.runner.finished.connect(self._on_run_finished)

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
        """Frame the pipeline the first time the window appears."""
        super().showEvent(event)
        if not self._fitted:
            self._fitted = True
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

    # -- running ------------------------------------------------------------------------------
    def report_problems(self, problems: list[Problem]) -> None:
        """List ``problems`` in the log and outline the nodes concerned in red."""
        self.log.append(f"{self.canvas.graph.name}: {len(problems)} problem(s):")
        for problem in problems:
            self.log.append(f"  {problem}")
            if problem.node_id and self.canvas.state_visible(problem.node_id) != "invalid":
                self.canvas.set_state(problem.node_id, "invalid", str(problem).split(": ", 1)[-1])
        self.statusBar().showMessage(f"{len(problems)} problem(s): see the log; nothing was run", 10000)

    def run_pipeline(self) -> bool:
        """Validate, then run in the background; False when nothing was started.

        While PyTorch still loads in the background the run is held (`QueuedRun`) and this method is called
        again once it has loaded; True then means "will start".
        """
        if self.runner.running or self.queued_run.active:
            return False
        if not self.canvas.graph.nodes:
            self.statusBar().showMessage(EMPTY_TEXT, 10000)
            return False
        problems = self.canvas.graph.validate()
        if problems:
            self.canvas.clear_states()
            self.report_problems(problems)
            return False
        if self.queued_run.queue():
            return True
        from medical_imaging_framework.app.running.guard import graph_to_run  # imports torch: once it has loaded

        graph, note = graph_to_run(self, self.canvas.graph, self.registry, self.runner.reused_nodes(self.canvas.graph))
        if note:  # a question was asked: the keyboard goes back to the canvas
            self.restore_focus()
        if graph is None:  # Cancel changes nothing: the last run's node states stay
            self.statusBar().showMessage(note, 10000)
            return False
        self.canvas.clear_states()
        self.loss_plot.reset()
        self.checkpoints.reset()
        self.data_outputs.reset()
        for node_id in self.canvas.graph.nodes:
            self.canvas.set_state(node_id, "pending")
        self.progress.show_status("starting…")
        self.log.begin_run(run_mode_text(self.runner))
        self.runner.start(graph)
        self.action_run.setEnabled(False)
        self.action_stop.setEnabled(True)
        self._sync_undo_actions()
        self.statusBar().showMessage(f"Running… ({note})" if note else "Running…")
        return True

    def stop_run(self) -> None:
        """Stop the run after the current batch (or drop a run still waiting for PyTorch)."""
        self.queued_run.cancel(say_so=True)
        if self.runner.running:
            self.runner.stop()
            self.statusBar().showMessage("Stopping after the current batch…")

    def on_event(self, event: Event) -> None:
        """Show one run event (GUI thread only)."""
        line = format_event(event)
        if line is not None:
            self.log.append(line)
        if isinstance(event, Progress):
            self.progress.show_progress(event)
        if isinstance(event, EpochEnded):
            self.loss_plot.add_epoch(event)
        elif isinstance(event, CheckpointSaved):
            self.checkpoints.add_checkpoint(event)
        elif isinstance(event, CheckpointsConfigured):
            self.loss_plot.follow(event)
        self.canvas.show_event(event)  # node states on the canvas
        if isinstance(event, NodeFailed):
            failed = f"Node '{event.node_id}' failed: {event.message}"
            self.statusBar().showMessage(printable(failed, keep_newlines=True))
        elif isinstance(event, SampleAvailable):
            self.image_viewer.show_sample(event.image, event.label, event.prediction, f"sample from {event.node_id}",
                                          class_names=event.class_names)
            self.image_dock.raise_()
        elif isinstance(event, RunFinished):
            self.progress.show_status(FINISH_TEXT.get(event.status, event.status).lower(), event.status == "done")

    def _on_run_finished(self, result: RunResult | None) -> None:
        self.action_run.setEnabled(True)
        self.action_stop.setEnabled(False)
        self._sync_undo_actions()
        status = result.status if result else "failed"
        self.data_outputs.run_finished(self.runner.session, result)
        if result is not None and result.problems:
            self.report_problems(result.problems)
        for node_id in self.canvas.graph.nodes:
            shown = self.canvas.state_visible(node_id)
            if shown == "running" and status == "cancelled":  # stopped by the user, where it was
                self.canvas.set_state(node_id, "stopped", self.canvas.state_detail(node_id))
            elif shown in ("pending", "running"):
                self.canvas.set_state(node_id, "")
        self.live_validation.schedule()  # edits made during the run are checked now
        message = FINISH_TEXT.get(status, status)
        if result is not None and result.failed_node:
            message += f": node '{result.failed_node}' failed: {result.error}"
        elif result is not None and result.error:
            message += f": {result.error}"
        self.statusBar().showMessage(printable(message, keep_newlines=True), 15000)

    def wait_for_run(self) -> None:
        """Block until a run thread (if any) has ended."""
        self.runner.wait()

    # -- image view ---------------------------------------------------------------------------
    def _on_selection_changed(self, selected: list[Any], deselected: list[Any]) -> None:
        for canvas_node in selected:
            if self.canvas.spec_of(canvas_node) is not None and self.show_node_sample(canvas_node.name()):
                return

    def show_node_sample(self, node_id: str, index: int = 0) -> bool:
        """Show item ``index`` of the Dataset (or a DataLoader's dataset) node ``node_id`` produced in the last run.

        After a run in child processes the node's outputs are rebuilt here first (`DataOutputs`): True then
        means the sample follows.

        Args:
            node_id: a data node of the last run.
            index: the dataset item.
        """
        node = self.canvas.graph.nodes.get(node_id)
        sample = self.data_outputs.sample(node, index) if node is not None else None
        if sample is None:
            return node is not None and self.data_outputs.rebuild(node_id)
        image, label, title = sample
        self.image_viewer.show_sample(image, label, None, title)
        self.image_dock.raise_()
        return True

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

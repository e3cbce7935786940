"""The main window's actions: each command with its shortcuts, status tip and where it is active (a mixin of
`MainWindow`, kept apart for size; `layout.add_menus_and_toolbar` places them)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence

from medical_imaging_framework.app.running.report_action import ReportAction
from medical_imaging_framework.app.window import new_from_dataset, windows
from medical_imaging_framework.app.window.annotation_actions import group_selection
from medical_imaging_framework.app.window.layout import add_menus_and_toolbar


class ActionsMixin:
    """`MainWindow`'s `_build_actions`: one QAction per command, as ``window.action_*``.

    The actions exist before the canvas (the window's first frame has its menus and toolbar; see canvas_side.py),
    so a slot looks the canvas up when it is triggered, never when it is made; the canvas-only shortcuts belong
    to ``canvas_area``, the canvas's container.
    """

    # the MainWindow attributes and methods the actions use
    node_graph: Any
    canvas_area: Any
    files: Any
    canvas: Any
    runner: Any
    log: Any
    addAction: Any
    _sync_undo_actions: Any
    _show_message: Any

    def _action(self, name: str, text: str, slot: Any, shortcuts: tuple[Any, ...] = (), tip: str = "",
                canvas_only: bool = False) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.setStatusTip(tip or text.replace("&", "").rstrip("…"))
        action.triggered.connect(slot)
        if canvas_only:
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.canvas_area.addAction(action)  # active while the canvas (inside it) has the keyboard
        else:
            self.addAction(action)
        return action

    def _build_actions(self) -> None:
        keys, files = QKeySequence.StandardKey, self.files
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
        self.report.message.connect(self._show_message)
        # undo/redo and clipboard act on the core model's history (see app/canvas/adapter.py); undo and redo are
        # off until the canvas's history says there is a step (`_sync_undo_actions`)
        self.action_undo = self._action("action_undo", "&Undo", lambda: self.canvas.undo(), ("Ctrl+Z",))
        self.action_redo = self._action("action_redo", "&Redo", lambda: self.canvas.redo(),
                                        ("Ctrl+Shift+Z", "Ctrl+Y"))
        self.action_undo.setEnabled(False)
        self.action_redo.setEnabled(False)
        self.action_cut = self._action("action_cut", "Cu&t", lambda: self.canvas.cut_selected(), ("Ctrl+X",),
                                       canvas_only=True)
        self.action_copy = self._action("action_copy", "&Copy", lambda: self.canvas.copy_selected(), ("Ctrl+C",),
                                        canvas_only=True)
        self.action_paste = self._action("action_paste", "&Paste", lambda: self.canvas.paste(), ("Ctrl+V",),
                                         "Paste at the mouse (or next to the copied nodes)", canvas_only=True)
        self.action_duplicate = self._action("action_duplicate", "D&uplicate",
                                             lambda: self.canvas.duplicate_selected(), ("Ctrl+D",),
                                             "Copies of the selected nodes beside them", canvas_only=True)
        self.action_delete = self._action("action_delete", "&Delete", self.delete_selection, ("Del", "Backspace"),
                                          canvas_only=True)
        self.action_select_all = self._action("action_select_all", "Select &All",
                                              lambda: self.node_graph.select_all(), ("Ctrl+A",),
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
        self.action_zoom_reset = self._action("action_zoom_reset", "&Reset Zoom",
                                              lambda: self.node_graph.reset_zoom(), ("Ctrl+0",))
        self.action_help = self._action("action_node_help", "Node &Help", self.show_help, ("F1",),
                                        "Documentation of the selected node (F1)", canvas_only=True)
        self.action_search = self._action("action_search", "Node &Search", self.show_node_search, ("Tab",),
                                          "Search node types by name (Tab)", canvas_only=True)
        add_menus_and_toolbar(self)
        windows.install(self)  # New Window, Open in New Window…, the Window menu
        new_from_dataset.install(self)  # File ▸ New from Dataset…

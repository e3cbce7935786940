"""Where the main window's parts go: its docks, menus and toolbar (the window builds the parts themselves).

Kept apart from `main_window` (behaviour) as Qt Designer keeps ``setupUi`` apart: these functions only
place widgets and actions the window already made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QWidget

from medical_imaging_framework.app.running.modes import add_run_mode_menu
from medical_imaging_framework.app.window.reuse_action import make_reuse_action

if TYPE_CHECKING:
    from medical_imaging_framework.app.canvas.graph_widgets import MifNodeGraph

# The functions take the `MainWindow` typed as Any: main_window imports this module, and sibling modules never
# import each other both ways (the import-linter contract), not even for type checking.
MainWindow = Any

PALETTE_WIDTH, SIDE_WIDTH, LOG_HEIGHT = 210, 430, 230  # first sizes of the docks, in pixels
PLOT_HEIGHT = 280  # the loss plot's first height: axes, legend and a readable curve (the tabs below get the rest)


def _dock(window: MainWindow, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
    dock = QDockWidget(title, window)
    dock.setObjectName(name)
    dock.setWidget(widget)
    window.addDockWidget(area, dock)
    return dock


def add_docks(window: MainWindow) -> None:
    """Dock the palette (left), the log (bottom), the loss plot and the checkpoints / image view tabs (right).

    Args:
        window: the main window, whose panels (``palette_area``, ``log``, ...) exist already.
    """
    left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
    window.palette_dock = _dock(window, "Nodes", "dock_nodes", window.palette_area, left)
    window.log_dock = _dock(window, "Log", "dock_log", window.log, Qt.DockWidgetArea.BottomDockWidgetArea)
    window.plot_dock = _dock(window, "Loss", "dock_loss", window.loss_plot, right)
    window.checkpoint_dock = _dock(window, "Checkpoints", "dock_checkpoints", window.checkpoints, right)
    window.image_dock = _dock(window, "Image View", "dock_image", window.image_viewer, right)
    window.tabifyDockWidget(window.checkpoint_dock, window.image_dock)
    window.checkpoint_dock.raise_()
    window.resizeDocks([window.palette_dock], [PALETTE_WIDTH], Qt.Orientation.Horizontal)
    window.resizeDocks([window.plot_dock], [SIDE_WIDTH], Qt.Orientation.Horizontal)
    window.resizeDocks([window.log_dock], [LOG_HEIGHT], Qt.Orientation.Vertical)


def give_the_plot_room(window: MainWindow) -> None:
    """The loss plot's first height (`PLOT_HEIGHT`); Qt applies it only once the window is shown, so the window
    calls this on its first show when no remembered layout was restored.

    Args:
        window: the shown main window.
    """
    window.resizeDocks([window.plot_dock], [PLOT_HEIGHT], Qt.Orientation.Vertical)


def add_menus_and_toolbar(window: MainWindow) -> None:
    """File, Edit, View, Run and Help menus and the main toolbar, from the window's actions.

    Args:
        window: the main window, whose ``action_*`` attributes exist already.
    """
    files, menus = window.files, window.menuBar()
    file_menu = menus.addMenu("&File")
    file_menu.addActions([window.action_new, window.action_open])
    window.examples_menu = file_menu.addMenu("&Examples")
    window.examples_menu.aboutToShow.connect(lambda: files.fill_examples_menu(window.examples_menu))
    window.recent_menu = file_menu.addMenu("Open &Recent")
    window.recent_menu.aboutToShow.connect(lambda: files.fill_recent_menu(window.recent_menu))
    file_menu.addActions([window.action_save, window.action_save_as])
    file_menu.addSeparator()
    file_menu.addAction(window.action_quit)
    edit_menu = menus.addMenu("&Edit")
    edit_menu.addActions([window.action_undo, window.action_redo])
    edit_menu.addSeparator()
    edit_menu.addActions([window.action_cut, window.action_copy, window.action_paste, window.action_duplicate,
                          window.action_delete, window.action_select_all, window.action_edit, window.action_rename,
                          window.action_group])
    view_menu = menus.addMenu("&View")
    view_menu.addActions([window.action_fit, window.action_zoom_in, window.action_zoom_out,
                          window.action_zoom_reset, window.action_search])
    view_menu.addSeparator()
    for dock in (window.palette_dock, window.log_dock, window.plot_dock, window.checkpoint_dock, window.image_dock):
        view_menu.addAction(dock.toggleViewAction())
    run_menu = menus.addMenu("&Run")
    run_menu.addActions([window.action_run, window.action_stop, window.action_report])
    run_menu.addSeparator()
    window.run_modes = add_run_mode_menu(run_menu, window.runner)
    window.action_reuse = make_reuse_action(window, window.runner)
    run_menu.addAction(window.action_reuse)
    menus.addMenu("&Help").addAction(window.action_help)
    toolbar = window.addToolBar("Main")
    toolbar.setObjectName("main_toolbar")
    toolbar.addActions([window.action_new, window.action_open, window.action_save, window.action_save_as])
    toolbar.addSeparator()
    toolbar.addActions([window.action_undo, window.action_redo])
    toolbar.addSeparator()
    toolbar.addActions([window.action_run, window.action_stop, window.action_report, window.action_reuse])
    toolbar.addSeparator()
    toolbar.addAction(window.action_fit)
    for action in toolbar.actions():
        if not action.isSeparator():
            set_tooltip(action, action.toolTip())


def set_tooltip(action: QAction, text: str) -> None:
    """Give ``action`` the tooltip ``text`` followed by its shortcuts, e.g. "Run (Ctrl+R, F5)".

    Args:
        action: a toolbar action.
        text: what it does.
    """
    keys = ", ".join(key.toString(QKeySequence.SequenceFormat.NativeText) for key in action.shortcuts())
    action.setToolTip(f"{text} ({keys})" if keys else text)


def retire_viewer_undo_actions(node_graph: MifNodeGraph) -> None:
    """Hide NodeGraphQt's own Undo/Redo actions: their window-wide Ctrl+Z / Ctrl+Shift+Z shortcuts would clash
    with ours (Qt then runs neither), and they could not be locked during a run.

    Args:
        node_graph: the canvas's NodeGraphQt graph.
    """
    viewer = node_graph.viewer()
    for action in (viewer.qaction_for_undo(), viewer.qaction_for_redo()):
        if action is not None:
            action.setShortcuts([])
            action.setVisible(False)

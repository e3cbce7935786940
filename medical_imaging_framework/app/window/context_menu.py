"""The canvas's right-click menu: one for the canvas, a node, a link, a note or group.

- Canvas: Add Node Here…, Paste Here, Add Note Here, Add Group Here, Select All, Fit View.
- Node (selected first unless it already is): Edit Parameters…, Rename…, Duplicate, Disconnect, Delete,
  Group Selected Nodes, Help, and, for a node with a checkpoint folder, Open Checkpoint Folder.
- Link: Disconnect, and Help for each end.
- Note or group: Edit Title and Text…, Delete.

Every entry is an existing command (one undo step each), so the menu adds no way to edit beside them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from NodeGraphQt.qgraphics.node_abstract import AbstractNodeItem
from NodeGraphQt.qgraphics.pipe import PipeItem
from PySide6.QtCore import QObject, QPoint, QPointF, QRectF, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMenu

from medical_imaging_framework.app.widgets.node_help import show_node_help
from medical_imaging_framework.app.window.annotation_actions import add_note, edit_annotation, group_selection
from medical_imaging_framework.core import Node
from medical_imaging_framework.core.graph import Link
from medical_imaging_framework.core.params import ParamKind

# The window is typed as Any: main_window imports this module, and sibling modules never import each other
# both ways (the import-linter contract), not even for type checking.
MainWindow = Any
PIPE_REACH = 6.0  # canvas units either side of a link that a right-click still counts as on it


def checkpoint_folder(node: Node) -> Path | None:
    """The folder where ``node`` writes or reads checkpoints: its ``checkpoint_dir`` (the Trainer), else
    the folder of its first path parameter naming a ``.pt`` file (Load Checkpoint, Resume From); None
    when it has none. Relative paths start in the working folder, as when the pipeline runs.

    Args:
        node: a pipeline node.
    """
    folder = str(node.config.get("checkpoint_dir", "") or "").strip()
    if folder:
        return Path(folder).expanduser().absolute()
    for param in node.spec.params:
        value = str(node.config.get(param.name, "") or "").strip()
        if param.kind == ParamKind.PATH and value.endswith((".pt", ".pth")):
            return Path(value).expanduser().absolute().parent
    return None


class CanvasContextMenu(QObject):
    """Builds and shows the menu for what is under a right-click on ``window``'s canvas.

    Args:
        window: the main window (its canvas, actions and dialogs).
    """

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.menu: QMenu | None = None
        window.node_graph.viewer().context_menu = self.show_at

    def show_at(self, view_point: QPoint, global_point: QPoint) -> QMenu:
        """Open the menu for what is at ``view_point`` (viewport coordinates) at ``global_point``."""
        viewer = self.window.node_graph.viewer()
        scene_point = viewer.mapToScene(view_point)
        menu = QMenu(viewer)
        menu.setObjectName("canvas_context_menu")
        node_id, link = self.node_at(scene_point), None
        annotation = self.annotation_at(scene_point) if not node_id else None
        if node_id:
            self._fill_node(menu, node_id)
        elif annotation is not None:
            self._fill_annotation(menu, annotation)
        else:
            link = self.link_at(scene_point)
            if link is not None:
                self._fill_link(menu, link)
            else:
                self._fill_canvas(menu, scene_point)
        if self.menu is not None:
            self.menu.deleteLater()
        self.menu = menu
        menu.popup(global_point)
        return menu

    # -- what was clicked ------------------------------------------------------------------
    def node_at(self, scene_point: QPointF) -> str:
        """The id of the node under ``scene_point`` ("" when none)."""
        canvas = self.window.canvas
        for item in self.window.node_graph.scene().items(scene_point):
            while item is not None and not isinstance(item, AbstractNodeItem):
                item = item.parentItem()
            if item is not None:
                canvas_node = self.window.node_graph.get_node_by_id(item.id)
                if canvas_node is not None and canvas.spec_of(canvas_node) is not None:
                    return str(canvas_node.name())
        return ""

    def annotation_at(self, scene_point: QPointF) -> Any:
        """The note or group under ``scene_point`` (None when none)."""
        for item in self.window.node_graph.scene().items(scene_point):
            while item is not None and not isinstance(item, AbstractNodeItem):
                item = item.parentItem()
            annotation = self.window.canvas.annotation_of_view(item.id) if item is not None else None
            if annotation is not None:
                return annotation
        return None

    def link_at(self, scene_point: QPointF) -> Link | None:
        """The core link drawn under ``scene_point`` (None when none)."""
        reach = QRectF(scene_point.x() - PIPE_REACH, scene_point.y() - PIPE_REACH, 2 * PIPE_REACH, 2 * PIPE_REACH)
        for item in self.window.node_graph.scene().items(reach):
            if isinstance(item, PipeItem) and item.input_port is not None and item.output_port is not None:
                link = self.window.canvas._port_link(item.output_port, item.input_port)
                if link is not None and link in self.window.canvas.graph.links:
                    return link
        return None

    # -- the three menus -------------------------------------------------------------------
    def _add(self, menu: QMenu, name: str, text: str, slot: Callable[[], Any], enabled: bool = True) -> None:
        action = menu.addAction(text)
        action.setObjectName(name)
        action.setEnabled(enabled)
        action.triggered.connect(lambda _checked=False: slot())

    def _fill_canvas(self, menu: QMenu, at: QPointF) -> None:
        window, canvas = self.window, self.window.canvas
        self._add(menu, "menu_add_node", "Add Node Here…", lambda: canvas.show_node_search(at))
        self._add(menu, "menu_paste_here", "Paste Here", lambda: canvas.paste(at))
        self._add(menu, "menu_add_note", "Add Note Here", lambda: add_note(window, at))
        self._add(menu, "menu_add_group", "Add Group Here", lambda: group_selection(window, at))
        menu.addSeparator()
        self._add(menu, "menu_select_all", "Select All", window.node_graph.select_all)
        self._add(menu, "menu_fit", "Fit View", window.fit_view)

    def _fill_node(self, menu: QMenu, node_id: str) -> None:
        window, canvas = self.window, self.window.canvas
        if node_id not in canvas.selected_ids():
            canvas.select([node_id])
        node = canvas.graph.nodes[node_id]
        selected = canvas.selected_ids()
        linked = [ln for ln in canvas.graph.links if ln.source in selected or ln.target in selected]
        self._add(menu, "menu_edit", "Edit Parameters…", lambda: window.open_param_dialog(node_id))
        self._add(menu, "menu_rename", "Rename…", lambda: canvas.renamer.start(node_id))
        self._add(menu, "menu_duplicate", "Duplicate", canvas.duplicate_selected)
        self._add(menu, "menu_disconnect", "Disconnect", lambda: canvas.editor.disconnect(linked), bool(linked))
        self._add(menu, "menu_delete", "Delete", window.delete_selection)
        self._add(menu, "menu_group", "Group Selected Nodes", lambda: group_selection(window))
        menu.addSeparator()
        self._add(menu, "menu_help", f"Help: {node.spec.title}", lambda: self._help(node_id))
        folder = checkpoint_folder(node)
        if folder is not None:
            self._add(menu, "menu_open_checkpoints", "Open Checkpoint Folder", lambda: self.open_folder(folder))

    def _fill_link(self, menu: QMenu, link: Link) -> None:
        canvas = self.window.canvas
        self._add(menu, "menu_disconnect_link", f"Disconnect {link.source}.{link.source_port} → "
                  f"{link.target}.{link.target_port}", lambda: canvas.editor.disconnect([link]))
        menu.addSeparator()
        for end in dict.fromkeys((link.source, link.target)):
            title = canvas.graph.nodes[end].spec.title
            self._add(menu, f"menu_help_{end}", f"Help: {title} ({end})", lambda e=end: self._help(e))

    def _fill_annotation(self, menu: QMenu, annotation: Any) -> None:
        window = self.window
        self._add(menu, "menu_edit_annotation", "Edit Title and Text…", lambda: edit_annotation(window, annotation))
        self._add(menu, "menu_delete_annotation", f"Delete {annotation.kind.title()}",
                  lambda: window.canvas.editor.remove_annotations([annotation]))

    # -- actions of their own --------------------------------------------------------------
    def _help(self, node_id: str) -> None:
        spec = self.window.canvas.graph.nodes[node_id].spec
        show_node_help(spec, self.window).finished.connect(self.window.restore_focus)

    def open_folder(self, folder: Path) -> bool:
        """Open ``folder`` in the file manager; False (and a status message saying why) when it cannot."""
        if not folder.is_dir():
            self.window.statusBar().showMessage(
                f"{folder} does not exist yet: it is created when the first checkpoint is saved", 10000)
            return False
        if QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            return True
        self.window.statusBar().showMessage(f"Could not open {folder}: no file manager could be started", 10000)
        return False

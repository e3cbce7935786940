"""NodeGraphQt subclasses whose user actions are handed to the `CanvasAdapter` instead of editing the canvas."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from NodeGraphQt import NodeGraph, NodesTreeWidget
from NodeGraphQt.constants import MIME_TYPE, URN_SCHEME, PortTypeEnum
from NodeGraphQt.qgraphics.node_abstract import AbstractNodeItem
from NodeGraphQt.qgraphics.node_backdrop import BackdropNodeItem
from NodeGraphQt.qgraphics.port import PortItem
from NodeGraphQt.widgets.viewer import NodeViewer
from PySide6.QtCore import QByteArray, QMimeData, QObject, Qt, QTimer
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QGraphicsScene

LINK_DROP_MIN_DRAG = 10  # viewport pixels: a shorter press-and-release on a port is a click, not a drag


class MifViewer(NodeViewer):
    """NodeGraphQt's viewer, asking the core graph about cycles and reporting why a link is refused."""

    def __init__(self, undo_stack: QUndoStack) -> None:
        super().__init__(undo_stack=undo_stack)
        self.adapter: Any = None  # the CanvasAdapter
        self.context_menu: Any = None  # called with (viewport point, screen point) on a right-click

    def contextMenuEvent(self, event: Any) -> None:
        """Our context menu for what is under the mouse (canvas, node or link) instead of NodeGraphQt's."""
        self.RMB_state = False  # the menu takes the release: no zoom/pan drag is left running
        if self.context_menu is None:
            super().contextMenuEvent(event)
            return
        self.context_menu(event.pos(), event.globalPos())
        event.accept()

    def mousePressEvent(self, event: Any) -> None:
        """A click on the canvas gives it the keyboard (Delete, Ctrl+Z... then act on the canvas)."""
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        super().mousePressEvent(event)

    def sceneMousePressEvent(self, event: Any) -> None:
        """Only the left button drags links: NodeGraphQt starts a link drag from a port on any button, so a
        right-click on a port hid its link (the model still held it) and the context menu left the drag hanging."""
        if event.button() != Qt.MouseButton.LeftButton and not self._LIVE_PIPE.isVisible():
            return
        super().sceneMousePressEvent(event)

    def _validate_reject_connection(self, from_port: Any, to_port: Any) -> bool:
        if super()._validate_reject_connection(from_port, to_port):
            return True
        return self.adapter is not None and "cycle" in self.adapter.refusal(from_port, to_port)

    def sceneMouseMoveEvent(self, event: Any) -> None:
        """Redraw the live pipe (refused ports show as refused) and say why a hovered port refuses."""
        super().sceneMouseMoveEvent(event)
        if self.adapter is not None and self._LIVE_PIPE.isVisible() and self._start_port is not None:
            self.adapter.hint_at(self._start_port, self._port_at(event.scenePos()))

    def sceneMouseReleaseEvent(self, event: Any) -> None:
        """End a live connection; a drop on a refusing port reports the reason, and a new link dropped
        where no port is opens the node search for a node that takes it (NodeGraphQt just drops it)."""
        into_space = None
        if self.adapter is not None and self._LIVE_PIPE.isVisible() and self._start_port is not None:
            end_port = self._port_at(event.scenePos())
            self.adapter.report_drop(self._start_port, end_port)
            moved = self.mapFromScene(event.scenePos()) - self._origin_pos
            # a drag that detached an existing link (``_detached_port``) and ends in space removes that
            # link, as before; only a new link opens the search
            if end_port is None and self._detached_port is None and moved.manhattanLength() >= LINK_DROP_MIN_DRAG \
                    and not self._node_body_at(event.scenePos()):
                into_space = (self._start_port, event.scenePos())
        super().sceneMouseReleaseEvent(event)
        self._drop_title_focus()
        if into_space is not None:  # after the viewer has put the live pipe away
            port_view, at = into_space
            QTimer.singleShot(0, lambda: self.adapter.link_dropped(port_view, at))

    def _drop_title_focus(self) -> None:
        """A click on a node's title gives that text item the focus, and Qt draws its dotted focus frame as if the
        title were being edited: a title keeps the focus only while it is edited (a double-click focuses it again)."""
        item = self.scene().focusItem()
        if item is not None and getattr(item.parentItem(), "text_item", None) is item \
                and not item.textInteractionFlags() & Qt.TextInteractionFlag.TextEditable:
            item.clearFocus()

    def _node_body_at(self, scene_pos: Any) -> bool:
        """Whether a node (not a note or group frame) is under ``scene_pos``: a drop there is not in space."""
        return any(isinstance(item, AbstractNodeItem) and not isinstance(item, BackdropNodeItem)
                   for item in self.scene().items(scene_pos))

    def _port_at(self, scene_pos: Any) -> Any:
        return next((item for item in self.scene().items(scene_pos) if isinstance(item, PortItem)), None)


class MifNodeGraph(NodeGraph):
    """A NodeGraph whose user actions become commands on the core model (through ``adapter``)."""

    def __init__(self, parent: QObject | None = None) -> None:
        undo_stack = QUndoStack(parent)
        super().__init__(parent, undo_stack=undo_stack, viewer=MifViewer(undo_stack))
        self.adapter: Any = None  # the CanvasAdapter

    def get_unique_name(self, name: str) -> str:
        """``name`` itself when no node has it (the canvas names nodes by their unique model ids), else
        NodeGraphQt's numbered variant; without NodeGraphQt's list of every node's name per call."""
        name = " ".join(name.split())
        if self.adapter is not None and self.adapter.canvas_node(name) is None:
            return name
        return super().get_unique_name(name)

    def _on_connection_changed(self, disconnected: list[Any], connected: list[Any]) -> None:
        if self.adapter is not None:
            self.adapter.request_rewire(disconnected, connected)

    def _on_connection_sliced(self, ports: list[Any]) -> None:
        if self.adapter is not None:
            self.adapter.request_rewire(ports, [])

    def _on_nodes_moved(self, node_data: dict[Any, Any]) -> None:
        if self.adapter is not None:
            self.adapter.request_move([view.id for view in node_data])

    def _on_search_triggered(self, node_type: str, pos: Any) -> None:
        if self.adapter is not None:
            self.adapter.request_node(node_type, (pos[0], pos[1]))

    def _on_node_data_dropped(self, mimedata: Any, pos: Any) -> None:
        if self.adapter is None or not mimedata.hasFormat(MIME_TYPE):
            return
        text = mimedata.data(MIME_TYPE).data().decode()
        types = [part.split("node:", 1)[1] for part in text.split(";") if "node:" in part]
        x, y = pos.x(), pos.y()
        for node_type in types:
            self.adapter.request_node(node_type, (x, y))
            x, y = x + 80, y + 80

    def _on_node_backdrop_updated(self, node_id: str, update_property: str, value: Any) -> None:
        if self.adapter is not None and isinstance(value, dict):  # a note or group resized: a model command
            self.adapter.request_resize(node_id, value)

    def _on_insert_node(self, pipe: Any, node_id: str, prev_node_pos: dict[Any, Any]) -> None:
        self._on_nodes_moved(prev_node_pos)  # dropping a node on a link only moves it

    def _on_node_name_changed(self, node_id: str, name: str) -> None:
        if self.adapter is not None:  # an edited title: a rename command on the model (or a refusal)
            self.adapter.renamer.title_edited(node_id, name)


TYPE_ROLE = Qt.ItemDataRole.UserRole + 7


class NodePalette(NodesTreeWidget):
    """NodeGraphQt's palette with readable tooltips (title, category, description) instead of internal type names.

    Args:
        node_graph: the canvas.
        descriptions: NodeGraphQt type name -> the tooltip to show.
        labels: category identifier -> the category's human name (other categories are hidden).
    """

    def __init__(self, node_graph: NodeGraph, descriptions: dict[str, str], labels: dict[str, str]) -> None:
        super().__init__(node_graph=node_graph)
        for identifier, label in labels.items():
            self.set_category_label(identifier, label)
        for index in range(self.topLevelItemCount()):
            category = self.topLevelItem(index)
            category.setHidden(category.text(0) not in labels.values())
            for row in range(category.childCount()):
                item = category.child(row)
                node_type = item.toolTip(0)
                item.setData(0, TYPE_ROLE, node_type)
                item.setToolTip(0, descriptions.get(node_type, item.text(0)))

    def mimeData(self, items: list[Any]) -> QMimeData:
        """The drag data NodeGraphQt's drop handler reads (node types from the item data, not the tooltip)."""
        urn = URN_SCHEME + ";".join(f"node:{item.data(0, TYPE_ROLE) or item.toolTip(0)}" for item in items)
        mime = QMimeData()
        mime.setData(MIME_TYPE, QByteArray(urn.encode()))
        return mime


def accept_equal_kinds(node_graph: NodeGraph, specs_by_type: dict[str, Any]) -> None:
    """Let each input port accept exactly the output ports of its kind (NodeGraphQt accept-port types), so
    that a dragged link is shown refused over a port of another kind and is never made there.

    Args:
        node_graph: the canvas.
        specs_by_type: NodeGraphQt node type name -> its `NodeSpec`.
    """
    model = node_graph.model
    for in_type, in_spec in specs_by_type.items():
        for in_port in in_spec.inputs:
            for out_type, out_spec in specs_by_type.items():
                for out_port in out_spec.outputs:
                    if out_port.kind == in_port.kind:
                        model.add_port_accept_connection_type(in_port.name, PortTypeEnum.IN.value, in_type,
                                                              out_port.name, PortTypeEnum.OUT.value, out_type)



@contextmanager
def bulk_drawing(viewer: NodeViewer) -> Iterator[None]:
    """Draw many items at once: no scene index upkeep and no viewport repaints per item while inside; the
    index is built once and the viewport repainted once on leaving.

    Args:
        viewer: the canvas's NodeGraphQt viewer.
    """
    scene, viewport = viewer.scene(), viewer.viewport()
    index_method, updates = scene.itemIndexMethod(), viewport.updatesEnabled()
    scene.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
    viewport.setUpdatesEnabled(False)
    try:
        yield
    finally:
        scene.setItemIndexMethod(index_method)
        viewport.setUpdatesEnabled(updates)

"""Adding nodes through the node search: Tab (or the canvas menu's Add Node Here…) lists every node type;
a link dragged from a port and dropped where no port is lists only the types that can take it, and the
chosen node comes linked to that port (one undo step)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from NodeGraphQt.constants import PortTypeEnum
from PySide6.QtCore import QPointF
from PySide6.QtGui import QCursor

from medical_imaging_framework.app.canvas.node_search import NodeSearchPopup
from medical_imaging_framework.core import LinkError, NodeSpec

INPUT_SIDE_SHIFT = 240.0  # a node added for an input goes this far left of the drop, its output facing it


class NodeSearchActions:
    """Node-search commands of the `CanvasAdapter` (which provides ``graph``, ``editor``, ``registry``,
    ``node_graph``, ``link_refused``, ``add_node_of_spec`` and ``select``)."""

    _search: NodeSearchPopup | None = None
    _search_at: QPointF = QPointF(0, 0)
    _search_action: Callable[[NodeSpec], None] | None = None
    editor: Any
    registry: Any
    node_graph: Any
    link_refused: Any

    def _popup(self, at: QPointF | None, action: Callable[[NodeSpec], None], offered: list[NodeSpec] | None = None,
               heading: str = "") -> NodeSearchPopup:
        viewer = self.node_graph.viewer()
        if self._search is None:
            self._search = NodeSearchPopup(self.registry.specs(), viewer)
            self._search.chosen.connect(lambda spec: self._search_action(spec) if self._search_action else None)
        if at is None:
            local = viewer.mapFromGlobal(QCursor.pos())
            if not viewer.viewport().rect().contains(local):
                local = viewer.viewport().rect().center()
            at = viewer.mapToScene(local)
        self._search_at = at
        self._search_action = action
        self._search.popup_at(viewer.mapToGlobal(viewer.mapFromScene(at)), offered, heading)
        return self._search

    def show_node_search(self, at: QPointF | None = None) -> NodeSearchPopup:
        """Open the node search; the chosen type is added at ``at`` (canvas coordinates; None: the mouse,
        or the canvas centre when the mouse is elsewhere)."""
        return self._popup(at, self._add_searched)

    def _add_searched(self, spec: NodeSpec) -> None:
        self.add_node_of_spec(spec, (self._search_at.x(), self._search_at.y()))  # type: ignore[attr-defined]
        self.node_graph.viewer().setFocus()

    def offered_for(self, node_id: str, port: str, from_output: bool) -> list[NodeSpec]:
        """The node types that can take a link dragged from ``node_id.port``: those with an input (for an
        output) or an output (for an input) of the port's kind, in the registry's order.

        Args:
            node_id: the node the link starts at.
            port: its port.
            from_output: whether ``port`` is an output.
        """
        spec = self.editor.graph.nodes[node_id].spec
        start = spec.output(port) if from_output else spec.input(port)
        if start is None:
            return []
        return [s for s in self.registry.specs() if s.port_of_kind(start.kind, on_input=from_output) is not None]

    def link_dropped(self, port_view: Any, at: QPointF) -> NodeSearchPopup | None:
        """A link dragged from ``port_view`` was dropped at ``at`` where no port is: open the node search
        there, listing only the node types that can take the link; the chosen one comes linked.

        Args:
            port_view: NodeGraphQt's port item the drag started at.
            at: the drop point, in canvas coordinates.
        """
        canvas_node = self.node_graph.get_node_by_id(port_view.node.id)
        if canvas_node is None or canvas_node.name() not in self.editor.graph.nodes:
            return None
        node_id, port = canvas_node.name(), port_view.name
        from_output = port_view.port_type == PortTypeEnum.OUT.value
        offered = self.offered_for(node_id, port, from_output)
        spec = self.editor.graph.nodes[node_id].spec
        kind = (spec.output(port) if from_output else spec.input(port)).kind
        heading = f"Node types with a {kind} {'input' if from_output else 'output'} — type to filter"

        def add_linked(chosen: NodeSpec) -> None:
            self.create_linked(chosen, node_id, port, from_output, (self._search_at.x(), self._search_at.y()))

        return self._popup(at, add_linked, offered, heading)

    def create_linked(self, spec: NodeSpec, node_id: str, port: str, from_output: bool,
                      at: tuple[float, float]) -> str:
        """Add a node of ``spec`` near ``at`` linked to ``node_id.port`` (one undo step); its id ("" if refused).

        Args:
            spec: the chosen node type.
            node_id: the node the link was dragged from.
            port: its port.
            from_output: whether ``port`` is an output.
            at: the drop point, in canvas coordinates.
        """
        x = at[0] if from_output else at[0] - INPUT_SIDE_SHIFT
        try:
            node, _ = self.editor.create_linked_node(spec, (round(x, 2), round(at[1], 2)), node_id, port, from_output)
        except LinkError as error:
            self.link_refused.emit(f"Link refused: {error}")
            return ""
        self.select([node.id])  # type: ignore[attr-defined]
        self.node_graph.viewer().setFocus()
        return node.id

"""The canvas adapter: a NodeGraphQt `NodeGraph` kept in step with the core `Graph`.

How the two stay in sync (and why undo/redo is safe):

* One NodeGraphQt node class is made per `NodeSpec`; every canvas node carries its core id as its
  name and its core ``config`` as a hidden JSON property (``mif_config``). So everything a user can
  undo (add, delete, paste, move, connect, parameter edit) lives on NodeGraphQt's own undo stack.
* After every change of that stack (push, undo, redo, macro end) `CanvasAdapter.sync_model` rebuilds
  the core graph's nodes and links from the canvas, keeping their order. The core `Graph` object is
  never replaced while a pipeline is open, so whoever holds it sees the canvas' state.
* A link drawn by the user is offered to the core model first (`Graph.connect`); when that raises
  `LinkError` (kind mismatch, cycle, unknown port) the connection is undone on the canvas, dropped
  from the undo history, and `link_refused` carries the reason for the status bar.
* Loading goes the other way: `CanvasAdapter.load` draws a core graph on an empty canvas without
  undo entries, and keeps that very `Graph` as the model.
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Any

from NodeGraphQt import BaseNode, NodeGraph
from PySide6.QtCore import QObject, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem

from medical_imaging_framework.core import Graph, LinkError, Node, NodeRegistry, NodeSpec, PortKind
from medical_imaging_framework.core.graph import NODE_ID_PATTERN, Link

CONFIG_PROPERTY = "mif_config"
IDENTIFIER_PREFIX = "mif"

CATEGORY_COLOURS: dict[str, tuple[int, int, int]] = {
    "Data": (38, 110, 120),
    "Transforms": (60, 120, 70),
    "Models": (100, 70, 140),
    "Losses": (140, 60, 60),
    "Optimizers": (150, 100, 40),
    "Training": (40, 80, 150),
    "Inference": (110, 110, 40),
    "IO": (90, 90, 90),
}

PORT_COLOURS: dict[str, tuple[int, int, int]] = {
    PortKind.DATASET: (70, 200, 210),
    PortKind.DATALOADER: (80, 150, 255),
    PortKind.TRANSFORM: (120, 220, 120),
    PortKind.MODEL: (190, 130, 255),
    PortKind.LOSS: (255, 110, 110),
    PortKind.OPTIMIZER: (255, 180, 70),
    PortKind.SCHEDULER: (240, 220, 90),
    PortKind.TRAINED_MODEL: (255, 120, 220),
    PortKind.PREDICTIONS: (150, 255, 200),
    PortKind.METRICS: (220, 220, 220),
}

STATE_COLOURS: dict[str, str] = {
    "pending": "#8a8a8a",
    "running": "#f0a030",
    "done": "#3cb371",
    "failed": "#e53935",
    "invalid": "#e53935",
}


def _hashed_colour(text: str) -> tuple[int, int, int]:
    hue = zlib.crc32(text.encode()) % 360
    colour = QColor.fromHsv(hue, 150, 200)
    return colour.red(), colour.green(), colour.blue()


def category_colour(category: str) -> tuple[int, int, int]:
    """The node colour of a palette category (a stable hashed colour for plugin categories)."""
    return CATEGORY_COLOURS.get(category) or _hashed_colour(category)


def port_colour(kind: str) -> tuple[int, int, int]:
    """The colour of ports of data kind ``kind``; equal kinds share a colour."""
    return PORT_COLOURS.get(kind) or _hashed_colour(kind)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(name))


def _identifier(category: str) -> str:
    slug = "".join(c if c.isalnum() else "_" for c in category.lower()) or "other"
    return f"{IDENTIFIER_PREFIX}.{slug}"


def make_node_class(spec: NodeSpec) -> type[BaseNode]:
    """A NodeGraphQt node class for ``spec``: its ports (coloured by kind) and a hidden config property.

    Args:
        spec: the core node type.
    """

    def __init__(self: BaseNode) -> None:
        BaseNode.__init__(self)
        for port in spec.inputs:
            item = self.add_input(port.name, color=port_colour(port.kind))
            optional = "" if port.required else " (optional)"
            item.view.setToolTip(f"{port.name}: {port.kind}{optional}\n{port.help}".strip())
        for port in spec.outputs:
            item = self.add_output(port.name, multi_output=True, color=port_colour(port.kind))
            item.view.setToolTip(f"{port.name}: {port.kind}\n{port.help}".strip())
        self.create_property(CONFIG_PROPERTY, json.dumps(spec.defaults()))
        self.set_color(*category_colour(spec.category))
        self.view.setToolTip(f"{spec.title} ({spec.type_id})\n{spec.description}".strip())

    name = spec.type_id.replace(".", "_")
    attributes = {"__identifier__": _identifier(spec.category), "NODE_NAME": spec.title, "SPEC": spec,
                  "__init__": __init__}
    return type(name, (BaseNode,), attributes)


class StatusOutline(QGraphicsPathItem):
    """A thick rounded outline drawn behind a node item (run state or a validation problem)."""

    def __init__(self, parent: QGraphicsItem) -> None:
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemStacksBehindParent, True)
        self.setBrush(Qt.BrushStyle.NoBrush)
        self.setVisible(False)
        self.state = ""

    def show_state(self, state: str) -> None:
        """Outline in the colour of ``state`` (see STATE_COLOURS); unknown states hide the outline."""
        colour = STATE_COLOURS.get(state)
        self.state = state if colour else ""
        if colour is None:
            self.setVisible(False)
            return
        rect: QRectF = self.parentItem().boundingRect().adjusted(-5, -5, 5, 5)
        path = QPainterPath()
        path.addRoundedRect(rect, 8, 8)
        self.setPath(path)
        pen = QPen(QColor(colour), 4 if state in ("failed", "invalid", "running") else 3)
        if state == "invalid":
            pen.setStyle(Qt.PenStyle.DashLine)
        self.setPen(pen)
        self.setVisible(True)


class CanvasAdapter(QObject):
    """Keeps ``node_graph`` and the core graph ``graph`` in step (see the module docstring).

    Args:
        node_graph: the NodeGraphQt graph shown in the window.
        registry: node types; one canvas class is registered per spec.
    """

    link_refused = Signal(str)
    model_changed = Signal()

    def __init__(self, node_graph: NodeGraph, registry: NodeRegistry) -> None:
        super().__init__()
        self.node_graph = node_graph
        self.registry = registry
        self.graph = Graph()
        self._specs_by_type: dict[str, NodeSpec] = {}
        self._outlines: dict[str, StatusOutline] = {}
        self._loading = False
        for spec in registry.specs():
            node_class = make_node_class(spec)
            node_graph.register_node(node_class)
            self._specs_by_type[f"{node_class.__identifier__}.{node_class.__name__}"] = spec
        node_graph.port_connected.connect(self._on_port_connected)
        node_graph.undo_stack().indexChanged.connect(self._on_undo_index_changed)

    def category_labels(self) -> dict[str, str]:
        """Palette category identifier -> the category's human name."""
        return {_identifier(spec.category): spec.category for spec in self._specs_by_type.values()}

    def spec_of(self, canvas_node: Any) -> NodeSpec | None:
        """The core spec of a canvas node, or None for NodeGraphQt's own nodes (backdrops)."""
        return self._specs_by_type.get(canvas_node.type_)

    def canvas_node(self, node_id: str) -> Any:
        """The canvas node showing core node ``node_id`` (None when absent)."""
        return self.node_graph.get_node_by_name(node_id)

    def mif_nodes(self) -> list[Any]:
        """Canvas nodes that stand for core nodes, in canvas order."""
        return [n for n in self.node_graph.all_nodes() if self.spec_of(n) is not None]

    def load(self, graph: Graph) -> None:
        """Draw ``graph`` on a cleared canvas (no undo entries) and make it the model.

        Args:
            graph: the core graph; links the canvas cannot draw stay in the model until the next edit.
        """
        self._loading = True
        try:
            self.node_graph.clear_session()
            self._outlines.clear()
            for node in graph.nodes.values():
                type_name = next(t for t, s in self._specs_by_type.items() if s.type_id == node.type_id)
                canvas_node = self.node_graph.create_node(
                    type_name, name=node.id, selected=False, pos=list(node.position), push_undo=False
                )
                canvas_node.set_property(CONFIG_PROPERTY, json.dumps(node.config), push_undo=False)
            for link in graph.links:
                self._draw_link(link)
            self.node_graph.clear_undo_stack()
        finally:
            self._loading = False
        self.graph = graph
        self.model_changed.emit()

    def _draw_link(self, link: Link) -> None:
        source, target = self.canvas_node(link.source), self.canvas_node(link.target)
        if source is None or target is None:
            return
        out_port, in_port = source.outputs().get(link.source_port), target.inputs().get(link.target_port)
        if out_port is not None and in_port is not None:
            out_port.connect_to(in_port, push_undo=False, emit_signal=False)

    def set_config(self, node_id: str, config: dict[str, Any]) -> None:
        """Store a validated config on the canvas node as one undoable step (the model follows).

        Args:
            node_id: the core node id.
            config: the full new config dict.
        """
        canvas_node = self.canvas_node(node_id)
        stack = self.node_graph.undo_stack()
        stack.beginMacro(f"edit parameters of '{node_id}'")
        canvas_node.set_property(CONFIG_PROPERTY, json.dumps(config))
        stack.endMacro()

    def _on_undo_index_changed(self, index: int) -> None:
        if not self._loading:
            self.sync_model()

    def sync_model(self) -> None:
        """Rebuild the core graph's nodes and links from the canvas, keeping their order."""
        canvas_nodes = self.mif_nodes()
        self._fix_names(canvas_nodes)
        old_nodes = self.graph.nodes
        fresh: dict[str, Node] = {}
        for canvas_node in canvas_nodes:
            spec = self.spec_of(canvas_node)
            node_id = canvas_node.name()
            node = old_nodes.get(node_id)
            if node is None or node.spec is not spec:
                node = Node(id=node_id, spec=spec)
            node.config = json.loads(canvas_node.get_property(CONFIG_PROPERTY))
            x, y = canvas_node.pos()
            node.position = (round(float(x), 2), round(float(y), 2))
            fresh[node_id] = node
        order = [i for i in old_nodes if i in fresh] + [i for i in fresh if i not in old_nodes]
        self.graph.nodes = {node_id: fresh[node_id] for node_id in order}
        drawn = self._canvas_links(canvas_nodes)
        self.graph.links = [ln for ln in self.graph.links if ln in drawn] + [
            ln for ln in drawn if ln not in self.graph.links
        ]
        for node_id in [i for i in self._outlines if i not in fresh]:
            self._outlines.pop(node_id)
        self.model_changed.emit()

    def _fix_names(self, canvas_nodes: list[Any]) -> None:
        """Give new, pasted or renamed nodes a valid, unique core id (outside the undo history).

        A node just made from the palette or Tab search carries its type title ("Trainer 2"); it gets
        the id the registry would give it (``trainer``, ``trainer_2``...).
        """
        seen: set[str] = set()
        for canvas_node in canvas_nodes:
            name, spec = canvas_node.name(), self.spec_of(canvas_node)
            fresh = name not in self.graph.nodes and re.fullmatch(re.escape(spec.title) + r"( \d+)?", name)
            if NODE_ID_PATTERN.match(name) and name not in seen and not fresh:
                seen.add(name)
                continue
            base = _snake(spec.type_id.rsplit(".", 1)[-1])
            if not fresh:
                cleaned = "".join(c if c.isalnum() or c in "_-" else "_" for c in name.strip()).strip("_")
                base = cleaned if NODE_ID_PATTERN.match(cleaned) else base
            others = {o.name() for o in canvas_nodes if o is not canvas_node} | seen
            candidate, n = base, 2
            while candidate in others:
                candidate, n = f"{base}_{n}", n + 1
            canvas_node.set_property("name", candidate, push_undo=False)
            seen.add(canvas_node.name())

    def _canvas_links(self, canvas_nodes: list[Any]) -> list[Link]:
        links = []
        for canvas_node in canvas_nodes:
            for port_name, port in canvas_node.outputs().items():
                for other in port.connected_ports():
                    if self.spec_of(other.node()) is not None:
                        links.append(Link(canvas_node.name(), port_name, other.node().name(), other.name()))
        return links

    def _on_port_connected(self, in_port: Any, out_port: Any) -> None:
        if self._loading:
            return
        source, target = out_port.node(), in_port.node()
        if self.spec_of(source) is None or self.spec_of(target) is None:
            return
        link = Link(source.name(), out_port.name(), target.name(), in_port.name())
        self.graph.links = [ln for ln in self._canvas_links(self.mif_nodes()) if ln != link]
        try:
            self.graph.connect(link.source, link.source_port, link.target, link.target_port)
        except LinkError as error:
            QTimer.singleShot(0, self._drop_last_command)
            self.link_refused.emit(f"Link refused: {error}")

    def _drop_last_command(self) -> None:
        """Undo the refused connection and remove it from the history (it cannot be redone)."""
        stack = self.node_graph.undo_stack()
        if stack.index() == 0:
            return
        stack.undo()
        # an obsolete command is deleted by redo() without being redone (QUndoStack semantics)
        stack.command(stack.index()).setObsolete(True)
        stack.redo()

    def set_state(self, node_id: str, state: str) -> None:
        """Outline a node: pending, running, done, failed, invalid; anything else clears it."""
        canvas_node = self.canvas_node(node_id)
        if canvas_node is None:
            return
        outline = self._outlines.get(node_id)
        if outline is None or outline.parentItem() is not canvas_node.view:
            outline = self._outlines[node_id] = StatusOutline(canvas_node.view)
        outline.show_state(state)

    def clear_states(self) -> None:
        """Remove every outline."""
        for node_id in list(self._outlines):
            self.set_state(node_id, "")

    def state_visible(self, node_id: str) -> str:
        """The outline colour name shown around ``node_id`` ("" when none); for tests and screenshots."""
        outline = self._outlines.get(node_id)
        if outline is None or not outline.isVisible():
            return ""
        return outline.state

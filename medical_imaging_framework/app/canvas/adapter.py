"""The canvas: a NodeGraphQt view that follows the core pipeline and turns user actions into commands.

Who owns what:

* The core `Graph` is the document; a `GraphEditor` (core) changes it only through undoable commands
  and announces each change to its `GraphObserver` objects. `CanvasAdapter` is one: it draws a node
  when told ``node_added``, a link when told ``link_added``, and so on. It holds no pipeline state of its
  own (no config, no links) and never rebuilds the model from the canvas.
* What the user does on the canvas (drop a node from the palette or Tab search, drag a link, move
  nodes, delete, paste) reaches `MifNodeGraph`, whose NodeGraphQt handlers no longer edit the canvas:
  they hand the action to the adapter, which makes it a command on the editor. The canvas changes only
  when the model announces it. NodeGraphQt's own undo stack stays empty; undo/redo are the editor's.
* Links the model would refuse are never drawn: NodeGraphQt's accept-port types (one entry per pair of
  ports of equal kind) stop a drop on a port of another kind and colour the live pipe as refused, and
  `MifViewer` asks the core graph about cycles; the reason goes out through ``link_hint``.
"""

from __future__ import annotations

from typing import Any

from NodeGraphQt.constants import PortTypeEnum
from PySide6.QtCore import QObject, QRectF, QTimer, Signal
from PySide6.QtGui import QFontMetricsF

from medical_imaging_framework.app.canvas.annotation_view import AnnotationView
from medical_imaging_framework.app.canvas.clipboard import ClipboardActions
from medical_imaging_framework.app.canvas.graph_widgets import MifNodeGraph, accept_equal_kinds, bulk_drawing
from medical_imaging_framework.app.canvas.items import (
    NodeState,
    NodeStateItem,
    category_identifier,
    make_node_class,
    node_tooltip,
    port_colour,
    state_of_event,
)
from medical_imaging_framework.app.canvas.link_marks import LinkMarks, connect_extra
from medical_imaging_framework.app.canvas.rename import NodeRenamer
from medical_imaging_framework.app.canvas.search_actions import NodeSearchActions
from medical_imaging_framework.core import Graph, LinkError, Node, NodeRegistry, NodeSpec
from medical_imaging_framework.core.edit_commands import GraphEditor, GraphObserver
from medical_imaging_framework.core.graph import Link
from medical_imaging_framework.run.events import Event

_OUT = PortTypeEnum.OUT.value


FIT_MARGIN = 24  # pixels between the framed nodes and the canvas's edges (Fit View)


class CanvasAdapter(QObject, ClipboardActions, NodeSearchActions, AnnotationView, GraphObserver):
    """Draws the open pipeline and turns canvas actions into `GraphEditor` commands.

    Args:
        node_graph: the canvas (a `MifNodeGraph`).
        registry: node types; one canvas class is registered per spec.
    """

    link_refused = Signal(str)
    link_hint = Signal(str)
    history_changed = Signal()
    clean_changed = Signal(bool)
    editor_replaced = Signal()

    def __init__(self, node_graph: MifNodeGraph, registry: NodeRegistry) -> None:
        QObject.__init__(self)
        self.node_graph = node_graph
        self.registry = registry
        self.editor = GraphEditor(Graph(name="untitled"))
        self._specs_by_type: dict[str, NodeSpec] = {}
        self._types_by_spec: dict[str, str] = {}
        self._states: dict[str, NodeStateItem] = {}
        self._drawn: dict[str, Any] = {}  # node id -> its canvas node (a lookup index, not pipeline state)
        self._errors: dict[str, str] = {}
        self._last_hint = ""
        self.renamer = NodeRenamer(self)
        self._setup_annotations()
        self.link_marks = LinkMarks(self._ports)  # links the model holds but refuses: red, dashed, with the reason
        self._mark_timer = QTimer(node_graph)  # one refresh after a burst of link changes; ends with the canvas
        self._mark_timer.setSingleShot(True)
        self._mark_timer.setInterval(0)
        self._mark_timer.timeout.connect(lambda: self.link_marks.refresh(self.graph, self._colour_pipes))
        self._loading = False
        for spec in registry.specs():
            node_class = make_node_class(spec)
            node_graph.register_node(node_class)
            type_name = f"{node_class.__identifier__}.{node_class.__name__}"
            self._specs_by_type[type_name] = spec
            self._types_by_spec[spec.type_id] = type_name
        accept_equal_kinds(node_graph, self._specs_by_type)
        node_graph.adapter = self
        node_graph.viewer().adapter = self
        self._attach(self.editor)

    # -- the open pipeline -------------------------------------------------------------------
    @property
    def graph(self) -> Graph:
        """The open pipeline (the model the canvas shows)."""
        return self.editor.graph

    def load(self, graph: Graph) -> None:
        """Show ``graph`` as the open pipeline with a fresh, clean history.

        Args:
            graph: the model; the canvas draws it and from now on follows its editor's notifications.
        """
        self.editor.remove_observer(self)
        self._states.clear()
        self._errors.clear()
        self.editor = GraphEditor(graph)
        self.link_marks.clear()
        with bulk_drawing(self.node_graph.viewer()):
            self.node_graph.clear_session()
            self._drawn.clear()
            self._clear_annotations()
            for annotation in graph.annotations:
                self.annotation_added(annotation)
            self._loading = True  # the links are marked once, when all are drawn
            for node in graph.nodes.values():
                self.node_added(node)
            for link in graph.links:
                self.link_added(link)
            self._loading = False
            self.link_marks.refresh(graph, self._colour_pipes)
        self._attach(self.editor)
        self.editor_replaced.emit()
        self.history_changed.emit()
        self.clean_changed.emit(True)

    def _attach(self, editor: GraphEditor) -> None:
        editor.add_observer(self)
        editor.history.add_listener(self.history_changed.emit)
        editor.history.add_clean_listener(self.clean_changed.emit)

    def undo(self) -> None:
        """Undo the model's last step."""
        self.editor.undo()

    def redo(self) -> None:
        """Redo the model's next step."""
        self.editor.redo()

    # -- lookups -----------------------------------------------------------------------------
    def category_labels(self) -> dict[str, str]:
        """Palette category identifier -> the category's human name."""
        return {category_identifier(spec.category): spec.category for spec in self._specs_by_type.values()}

    def palette_tooltips(self) -> dict[str, str]:
        """NodeGraphQt type name -> ``Title — Category`` and the description, for the palette."""
        return {t: f"{s.title} — {s.category}\n{s.description}".strip() for t, s in self._specs_by_type.items()}

    def spec_of(self, canvas_node: Any) -> NodeSpec | None:
        """The core spec of a canvas node, or None for NodeGraphQt's own nodes."""
        return self._specs_by_type.get(canvas_node.type_)

    def spec_of_type(self, node_type: str) -> NodeSpec | None:
        """The core spec of a NodeGraphQt node type name."""
        return self._specs_by_type.get(node_type)

    def canvas_node(self, node_id: str) -> Any:
        """The canvas node showing core node ``node_id`` (None when absent)."""
        canvas_node = self._drawn.get(node_id)  # NodeGraphQt's get_node_by_name scans every node
        if canvas_node is None or self.node_graph.get_node_by_id(canvas_node.id) is not canvas_node:
            return None
        return canvas_node

    def _port_link(self, first: Any, second: Any) -> Link | None:
        """The core link between two port items (either order), or None if they cannot form one."""
        if first is None or second is None or first.port_type == second.port_type:
            return None
        out_view, in_view = (first, second) if first.port_type == _OUT else (second, first)
        source = self.node_graph.get_node_by_id(out_view.node.id)
        target = self.node_graph.get_node_by_id(in_view.node.id)
        if source is None or target is None:
            return None
        return Link(source.name(), out_view.name, target.name(), in_view.name)

    # -- observer: the canvas follows the model ----------------------------------------------
    def node_added(self, node: Node) -> None:
        """Draw ``node``."""
        type_name = self._types_by_spec.get(node.type_id) if not node.spec.placeholder else self._placeholder(node)
        canvas_node = self.node_graph.create_node(
            type_name, name=node.id, selected=False, pos=list(node.position), push_undo=False
        )
        self.renamer.prepare(canvas_node)
        canvas_node.view.setToolTip(node_tooltip(node.spec, node.id))
        self._drawn[node.id] = canvas_node

    def _placeholder(self, node: Node) -> str:
        """Register a NodeGraphQt class for a placeholder node (its ports are the ones its file links)."""
        name = f"missing_{len(self._specs_by_type)}"  # each placeholder has ports of its own: a class each
        node_class = make_node_class(node.spec, name)
        self.node_graph.register_node(node_class)
        type_name = f"{node_class.__identifier__}.{node_class.__name__}"
        self._specs_by_type[type_name] = node.spec
        return type_name

    def node_removed(self, node: Node) -> None:
        """Remove the drawing of ``node``."""
        canvas_node = self.canvas_node(node.id)
        self._states.pop(node.id, None)
        self._errors.pop(node.id, None)
        self._drawn.pop(node.id, None)
        if canvas_node is not None:
            self.node_graph.remove_node(canvas_node, push_undo=False)

    def link_added(self, link: Link) -> None:
        """Draw ``link`` in the colour of its kind (red and dashed when the model refuses it)."""
        ports = self._ports(link)
        if ports is None:
            return
        out_port, in_port = ports
        if out_port.view not in in_port.view.connected_ports:
            if in_port.view.connected_ports:  # a further link into one input (from a file): keep the first drawn
                connect_extra(out_port, in_port)
            else:
                out_port.connect_to(in_port, push_undo=False, emit_signal=False)
        self._colour_pipes(out_port, in_port)
        self._mark_links()

    def link_removed(self, link: Link) -> None:
        """Remove the drawing of ``link``."""
        ports = self._ports(link)
        still_linked = self.graph.inputs_of(link.target).get(link.target_port) is not None
        if ports is not None and not (still_linked and link in self.graph.links):  # a file's duplicate stays drawn
            ports[0].disconnect_from(ports[1], push_undo=False, emit_signal=False)
        self._mark_links()

    def _mark_links(self) -> None:
        if not self._loading:
            self._mark_timer.start()

    def config_changed(self, node: Node) -> None:
        """A parameter edit clears the node's old run state and error."""
        self.set_state(node.id, "")

    def position_changed(self, node: Node) -> None:
        """Move the drawing of ``node``."""
        canvas_node = self.canvas_node(node.id)
        if canvas_node is not None:
            xy = [float(node.position[0]), float(node.position[1])]
            canvas_node.model.pos = xy
            canvas_node.view.xy_pos = xy

    def _ports(self, link: Link) -> tuple[Any, Any] | None:
        source, target = self.canvas_node(link.source), self.canvas_node(link.target)
        if source is None or target is None:
            return None
        out_port, in_port = source.outputs().get(link.source_port), target.inputs().get(link.target_port)
        return None if out_port is None or in_port is None else (out_port, in_port)

    def _colour_pipes(self, out_port: Any, in_port: Any) -> None:
        for pipe in in_port.view.connected_pipes:
            if pipe.output_port is out_port.view:
                pipe.color = (*port_colour(self.graph.nodes[out_port.node().name()].spec.output(out_port.name()).kind),
                              255)
                if pipe.active() or pipe.highlighted() or pipe.disabled():
                    pipe.reset()
                else:  # what reset() does here, without redrawing the arrow drawn with the path
                    pipe.set_pipe_styling(color=pipe.color, width=2, style=pipe.style)

    def _repair_pipes(self, port_views: list[Any]) -> None:
        """Make the pipes at ``port_views`` show exactly the model's links (after the viewer tore some)."""
        touched = {self.node_graph.get_node_by_id(view.node.id) for view in port_views}
        for canvas_node in [n for n in touched if n is not None]:
            for port in canvas_node.input_ports():
                model_sources = {p.view for p in port.connected_ports()}
                for pipe in list(port.view.connected_pipes):
                    if pipe.output_port not in model_sources:
                        pipe.delete()
                drawn = {pipe.output_port for pipe in port.view.connected_pipes}
                for other in port.connected_ports():
                    if other.view not in drawn:
                        self.node_graph.viewer().establish_connection(other.view, port.view)
                    self._colour_pipes(other, port)

    # -- user actions become commands --------------------------------------------------------
    def request_rewire(self, disconnected: list[Any], connected: list[Any]) -> None:
        """The viewer's drag/drop or slice of links: one command, or a refusal with its reason."""
        unlink = [ln for ln in (self._port_link(a, b) for a, b in disconnected) if ln is not None]
        link = [ln for ln in (self._port_link(a, b) for a, b in connected) if ln is not None]
        try:
            self.editor.rewire(unlink, link)
        except LinkError as error:
            self.link_refused.emit(f"Link refused: {error}")
        self._repair_pipes([view for pair in (*disconnected, *connected) for view in pair])
        self._mark_links()

    def request_move(self, view_ids: list[str]) -> None:
        """Nodes dragged on the canvas: one move command (positions rounded to 1/100)."""
        positions = {}
        for view_id in view_ids:
            canvas_node = self.node_graph.get_node_by_id(view_id)
            if canvas_node is not None and self.spec_of(canvas_node) is not None:
                x, y = canvas_node.view.xy_pos
                positions[canvas_node.name()] = (round(float(x), 2), round(float(y), 2))
        annotations = self.annotation_moves(view_ids)  # a group carries its nodes: one step for all
        self.editor.move_nodes(positions, annotations)
        for annotation in annotations:
            self.annotation_changed(annotation)
        for node_id in positions:  # the rounded model position is the truth
            self.position_changed(self.graph.nodes[node_id])

    def request_node(self, node_type: str, position: tuple[float, float]) -> Node | None:
        """Add a node of NodeGraphQt type ``node_type`` (palette drop, Tab search) and select it."""
        spec = self.spec_of_type(node_type)
        if spec is None:
            return None
        node = self.editor.create_node(spec, (round(float(position[0]), 2), round(float(position[1]), 2)))
        self.select([node.id])
        return node

    def add_node_of_spec(self, spec: NodeSpec, position: tuple[float, float]) -> Node:
        """Add a node of ``spec`` at ``position`` and select it."""
        node = self.request_node(self._types_by_spec[spec.type_id], position)
        assert node is not None
        return node

    def selected_ids(self) -> list[str]:
        """Ids of the selected nodes, in model order."""
        chosen = {n.name() for n in self.node_graph.selected_nodes() if self.spec_of(n) is not None}
        return [node_id for node_id in self.graph.nodes if node_id in chosen]

    def select(self, node_ids: list[str]) -> None:
        """Select exactly ``node_ids``."""
        self.node_graph.scene().clearSelection()
        for node_id in node_ids:
            canvas_node = self.canvas_node(node_id)
            if canvas_node is not None:
                canvas_node.view.setSelected(True)

    def delete_selected(self) -> None:
        """Delete the selected nodes and their links, and the selected notes and groups (one undo step)."""
        self.editor.remove_nodes(self.selected_ids(), self.selected_annotations())

    def set_config(self, node_id: str, config: dict[str, Any]) -> None:
        """Replace the parameters of ``node_id`` (one undo step).

        Args:
            node_id: the core node id.
            config: the full new config dict.
        """
        self.editor.set_config(node_id, config)

    # -- refused links -----------------------------------------------------------------------
    def refusal(self, from_view: Any, to_view: Any) -> str:
        """Why the model refuses a link between two port items ("" when it accepts it)."""
        link = self._port_link(from_view, to_view)
        if link is None:
            return ""
        occupied = [ln for ln in self.graph.links if (ln.target, ln.target_port) == (link.target, link.target_port)]
        return self.editor.link_refusal(link, replacing=occupied)

    def hint_at(self, start_view: Any, hovered_view: Any) -> None:
        """While a link is dragged: say why the hovered port refuses it (once per change)."""
        hint = self.refusal(start_view, hovered_view) if hovered_view is not None else ""
        if hint != self._last_hint:
            self._last_hint = hint
            self.link_hint.emit(f"Cannot link: {hint}" if hint else "")

    def report_drop(self, start_view: Any, end_view: Any) -> None:
        """A drag ended on ``end_view``: report a refusal (the viewer then draws nothing)."""
        self._last_hint = ""
        reason = self.refusal(start_view, end_view) if end_view is not None else ""
        if reason:
            self.link_refused.emit(f"Link refused: {reason}")

    # -- framing ---------------------------------------------------------------------------
    def fit(self, min_title_pixels: float = 0.0) -> None:
        """Frame the selected nodes (or all) with a margin, at most at 100 %; never zoom out so far that node
        titles are drawn less than ``min_title_pixels`` high (the view then shows the middle of the nodes).

        Args:
            min_title_pixels: the smallest height, in screen pixels, of a node title's line of text.
        """
        viewer = self.node_graph.viewer()
        nodes = self.node_graph.selected_nodes() or self.node_graph.all_nodes()
        if not nodes:
            return
        # NodeGraphQt's fit_to_selection measures the nodes through a temporary QGraphicsItemGroup, whose
        # cost grows with the square of the node count (9 s of a 500-node load), and zooms out no further than
        # its ZOOM_MIN: the union of the items' scene rectangles is the same rectangle in linear time, and the
        # scale is chosen here.
        frame = QRectF()
        for canvas_node in nodes:
            frame = frame.united(canvas_node.view.sceneBoundingRect())
        port = viewer.viewport().rect()
        room_w, room_h = max(port.width() - 2 * FIT_MARGIN, 1), max(port.height() - 2 * FIT_MARGIN, 1)
        scale = min(room_w / max(frame.width(), 1.0), room_h / max(frame.height(), 1.0), 1.0)
        title = getattr(nodes[0].view, "text_item", None)
        if title is not None and min_title_pixels > 0:
            scale = max(scale, min(min_title_pixels / QFontMetricsF(title.font()).height(), 1.0))
        # NodeGraphQt shows its "scene range" with fitInView, which keeps 2 pixels free on each side: a range of
        # the viewport's shape at this scale, less those pixels
        width, height, center = (port.width() - 4) / scale, (port.height() - 4) / scale, frame.center()
        viewer.set_scene_rect([center.x() - width / 2, center.y() - height / 2, width, height])

    # -- run state ---------------------------------------------------------------------------
    def show_event(self, event: Event) -> None:
        """Show a run event on its node: started, progress, finished, failed (with the reason)."""
        shown = state_of_event(event)
        if shown is not None:
            self.set_state(*shown)

    def set_state(self, node_id: str, state: NodeState, detail: str = "", fraction: float | None = None) -> None:
        """Show a node's state: pending, running (``fraction`` done), done, failed, invalid or stopped
        (``detail``: the one-line reason); "" clears it. The tooltip carries the error."""
        canvas_node = self.canvas_node(node_id)
        node = self.graph.nodes.get(node_id)
        if canvas_node is None or node is None:
            return
        item = self._states.get(node_id)
        if item is None or item.parentItem() is not canvas_node.view:
            item = self._states[node_id] = NodeStateItem(canvas_node.view)
        item.show_state(state, detail, fraction)
        self._errors[node_id] = detail if state in ("failed", "invalid") else ""
        canvas_node.view.setToolTip(node_tooltip(node.spec, node_id, self._errors[node_id]))

    def clear_states(self) -> None:
        """Clear every node's state."""
        for node_id in list(self._states):
            self.set_state(node_id, "")

    def state_visible(self, node_id: str) -> NodeState:
        """The state shown on ``node_id`` ("" when none); for tests and screenshots."""
        item = self._states.get(node_id)
        return item.state if item is not None and item.isVisible() else ""

    def state_detail(self, node_id: str) -> str:
        """The detail of the state shown on ``node_id`` (the error, the progress; "" when none)."""
        item = self._states.get(node_id)
        return item.detail if item is not None and item.isVisible() else ""

    def state_text(self, node_id: str) -> str:
        """The status line shown under ``node_id`` ("" when none)."""
        item = self._states.get(node_id)
        return item.text() if item is not None and item.isVisible() else ""

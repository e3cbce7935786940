"""What a node looks like on the canvas: its class per `NodeSpec`, colours by category and port kind,
and the run-state badge (outline, one status line, progress bar) drawn with it."""

from __future__ import annotations

import zlib
from typing import Any, Literal

from NodeGraphQt import BaseNode
from NodeGraphQt.qgraphics.node_abstract import AbstractNodeItem
from NodeGraphQt.qgraphics.node_base import NodeItem
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from medical_imaging_framework.core import NodeSpec, Port, PortKind
from medical_imaging_framework.run.events import Event, NodeFailed, NodeFinished, NodeStarted, Progress

IDENTIFIER_PREFIX = "mif"

CATEGORY_COLOURS: dict[str, tuple[int, int, int]] = {
    "Missing": (97, 97, 97),  # a placeholder for a node type no installed plugin provides (core.missing_node)
    "Data": (38, 110, 120),
    "Transforms": (60, 120, 70),
    "Models": (100, 70, 140),
    "Losses": (140, 60, 60),
    "Optimizers": (150, 100, 40),
    "Training": (40, 80, 150),
    "Inference": (110, 110, 40),
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

# A node's run-state badge on the canvas; "" shows none.
NodeState = Literal["", "pending", "running", "done", "failed", "invalid", "stopped"]

STATE_COLOURS: dict[NodeState, str] = {
    "pending": "#8a8a8a",
    "running": "#f0a030",
    "done": "#3cb371",
    "failed": "#e53935",
    "invalid": "#e53935",
    "stopped": "#c9a227",  # a run stopped by the user: neither done nor failed
}

STATE_WORDS: dict[NodeState, str] = {"pending": "waiting", "running": "running", "done": "done",
                                     "failed": "failed", "invalid": "cannot run", "stopped": "stopped"}


def _hashed_colour(text: str) -> tuple[int, int, int]:
    hue = zlib.crc32(text.encode()) % 360
    colour = QColor.fromHsv(hue, 150, 200)
    return colour.red(), colour.green(), colour.blue()


def category_colour(category: str) -> tuple[int, int, int]:
    """The node colour of a palette category (a stable hashed colour for plugin categories)."""
    return CATEGORY_COLOURS.get(category) or _hashed_colour(category)


def port_colour(kind: str) -> tuple[int, int, int]:
    """The colour of ports and links of data kind ``kind``; equal kinds share a colour."""
    return PORT_COLOURS.get(kind) or _hashed_colour(kind)


def category_identifier(category: str) -> str:
    """The NodeGraphQt identifier (palette group key) of a category."""
    slug = "".join(c if c.isalnum() else "_" for c in category.lower()) or "other"
    return f"{IDENTIFIER_PREFIX}.{slug}"


def node_tooltip(spec: NodeSpec, node_id: str, error: str = "") -> str:
    """The tooltip of a canvas node: title, id and type, description, and the current error."""
    text = f"{spec.title} — '{node_id}' ({spec.type_id})"
    if spec.description:
        text += f"\n{spec.description}"
    if error:
        text += f"\n\nError: {error}"
    return text


def state_of_event(event: Event) -> tuple[str, NodeState, str, float | None] | None:
    """(node id, state, one-line detail, fraction done) that a run event shows on its node; None for others."""
    if isinstance(event, NodeStarted):
        return event.node_id, "running", "", None
    if isinstance(event, Progress):
        done = (event.epoch - 1 + event.batch / max(1, event.num_batches)) / max(1, event.num_epochs)
        return event.node_id, "running", f"epoch {event.epoch}/{event.num_epochs} · {done:.0%}", done
    if isinstance(event, NodeFinished):
        return event.node_id, "done", "reused" if event.reused else f"{event.seconds:.1f} s", None
    if isinstance(event, NodeFailed):
        return event.node_id, "failed", event.message, None
    return None


def port_tooltip(port: Port) -> str:
    """An output port's own tooltip: its name, kind and help (a run adds its summary: `port_summaries`).

    Args:
        port: the output port of a node type.
    """
    return f"{port.name}: {port.kind}\n{port.help}".strip()


def make_node_class(spec: NodeSpec, class_name: str = "") -> type[BaseNode]:
    """A NodeGraphQt node class for ``spec``: its ports coloured by kind, its category colour.

    Args:
        spec: the core node type. The canvas node holds no state of its own: parameters live in the core graph.
        class_name: the class's name (the type id's by default).
    """

    def __init__(self: BaseNode) -> None:
        BaseNode.__init__(self, LaidOutOnceNodeItem)
        for port in spec.inputs:
            item = self.add_input(port.name, color=port_colour(port.kind))
            optional = "" if port.required else " (optional)"
            item.view.setToolTip(f"{port.name}: {port.kind}{optional}\n{port.help}".strip())
        for port in spec.outputs:
            item = self.add_output(port.name, multi_output=True, color=port_colour(port.kind))
            item.view.setToolTip(port_tooltip(port))
        self.set_color(*category_colour(spec.category))

    name = class_name or spec.type_id.replace(".", "_")
    attributes = {"__identifier__": category_identifier(spec.category), "NODE_NAME": spec.title, "SPEC": spec,
                  "__init__": __init__}
    return type(name, (BaseNode,), attributes)


_UNSET = object()


class LaidOutOnceNodeItem(NodeItem):
    """NodeGraphQt's node item, laid out once, when it enters the scene.

    NodeGraphQt lays a new node out three times: when the node object sets its layout direction, when
    ``create_node`` copies the model into the item, and when the item enters the scene (``post_init``). The
    first two happen before the item is in the scene and the third redoes all of their work, so out of the
    scene only the attributes are set. In the scene everything is as in NodeGraphQt.
    """

    def draw_node(self) -> None:
        """Lay out the node (only in a scene; ``post_init`` lays it out on entering one)."""
        if self.scene() is not None:
            super().draw_node()

    def from_dict(self, node_dict: dict[str, Any]) -> None:
        """Set the item's attributes from ``node_dict``; in a scene, also lay it out (NodeGraphQt's own)."""
        if self.scene() is not None:
            super().from_dict(node_dict)
            return
        # Out of the scene only the attributes that differ are set (each setter redraws or re-reads something),
        # and not the size, which entering the scene computes afresh. The canvas's nodes embed no widgets: the
        # parameters live in the core graph.
        current = self.properties
        AbstractNodeItem.from_dict(self, {name: value for name, value in node_dict.items()
                                          if name not in ("width", "height") and current.get(name, _UNSET) != value})


class NodeStateItem(QGraphicsItem):
    """The run state of one node, drawn around and under its item: a coloured outline, one line of
    text (``running · epoch 2/5 · 40%``, ``failed: <reason>``) and, while running, a progress bar."""

    LINE_WIDTH = 260.0

    def __init__(self, parent: QGraphicsItem) -> None:
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemStacksBehindParent, True)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.state: NodeState = ""
        self.detail = ""
        self.fraction: float | None = None
        self.font = QFont()
        self.font.setPointSize(11)
        self.setVisible(False)

    def text(self) -> str:
        """The status line as shown (elided to the line width)."""
        if not self.state:
            return ""
        line = STATE_WORDS.get(self.state, self.state)
        if self.detail:
            line += (": " if self.state in ("failed", "invalid") else " · ") + self.detail
        metrics = QFontMetricsF(self.font)
        return metrics.elidedText(line.splitlines()[0] if line else "", Qt.TextElideMode.ElideRight, self.LINE_WIDTH)

    def show_state(self, state: NodeState, detail: str = "", fraction: float | None = None) -> None:
        """Show ``state`` (see STATE_COLOURS) with a one-line ``detail``; an unknown state hides the badge."""
        self.prepareGeometryChange()
        self.state = state if state in STATE_COLOURS else ""
        self.detail = " ".join(detail.split()) if detail else ""
        self.fraction = fraction if self.state == "running" else None
        self.setVisible(bool(self.state))
        self.update()

    def _node_rect(self) -> QRectF:
        return self.parentItem().boundingRect()

    def boundingRect(self) -> QRectF:
        rect = self._node_rect()
        return QRectF(rect.left() - 8, rect.top() - 8, max(rect.width() + 16, self.LINE_WIDTH + 8), rect.height() + 44)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        """Outline, progress bar and status line."""
        if not self.state:
            return
        colour = QColor(STATE_COLOURS[self.state])
        rect = self._node_rect().adjusted(-5, -5, 5, 5)
        path = QPainterPath()
        path.addRoundedRect(rect, 8, 8)
        pen = QPen(colour, 4 if self.state in ("failed", "invalid", "running") else 3)
        if self.state == "invalid":
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(path)
        top = rect.bottom() + 4
        if self.fraction is not None:
            bar = QRectF(rect.left(), top, rect.width(), 5)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(60, 60, 60))
            painter.drawRect(bar)
            painter.setBrush(colour)
            painter.drawRect(QRectF(bar.left(), bar.top(), bar.width() * max(0.0, min(1.0, self.fraction)), 5))
            top += 7
        painter.setFont(self.font)
        painter.setPen(colour.lighter(130))
        painter.drawText(QRectF(rect.left(), top, self.LINE_WIDTH, 22), Qt.AlignmentFlag.AlignLeft, self.text())

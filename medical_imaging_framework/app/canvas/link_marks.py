"""Links the model holds but could not run: drawn like the others, in red and dashed, with the reason as tooltip.

A pipeline file can hold links the editor would never make: two links into one input (only one is legal), or
a link between ports of different kinds. The canvas must show every link the model holds, since Save writes
the model; NodeGraphQt's single-connection input ports would drop the earlier link when the later one is drawn,
so `connect_extra` draws a further link into an occupied input without detaching the first. `LinkMarks` then
colours the links `Graph.link_problems` names (the first link into an input stays the legal one).
"""

from __future__ import annotations

from typing import Any

from NodeGraphQt.constants import PipeEnum
from PySide6.QtGui import QColor

from medical_imaging_framework.app.canvas.items import STATE_COLOURS
from medical_imaging_framework.core import Graph
from medical_imaging_framework.core.graph import Link

INVALID_LINK_COLOUR = QColor(STATE_COLOURS["invalid"]).getRgb()  # the red outline of an invalid node


def connect_extra(out_port: Any, in_port: Any) -> None:
    """Draw a link from ``out_port`` into ``in_port`` keeping the links already drawn there.

    Args:
        out_port: the NodeGraphQt output port.
        in_port: the NodeGraphQt input port (single-connection: the model holds more than one link into it).
    """
    model = in_port.model
    single = model.multi_connection
    model.multi_connection = True  # NodeGraphQt's connect_to detaches the first link of a single input
    try:
        out_port.connect_to(in_port, push_undo=False, emit_signal=False)
    finally:
        model.multi_connection = single


def pipe_of(out_port: Any, in_port: Any) -> Any:
    """The pipe item drawn from ``out_port`` into ``in_port`` (None when none is drawn)."""
    return next((pipe for pipe in in_port.view.connected_pipes if pipe.output_port is out_port.view), None)


class LinkMarks:
    """Keeps the invalid links of a graph marked on the canvas.

    Args:
        ports: a link's NodeGraphQt ``(output port, input port)``, or None when it is not drawn.
    """

    def __init__(self, ports: Any) -> None:
        self._ports = ports
        self.marked: dict[Link, str] = {}

    def clear(self) -> None:
        """Forget the marks (the drawing they were on is gone)."""
        self.marked.clear()

    def refresh(self, graph: Graph, restore: Any) -> None:
        """Mark every link ``graph`` refuses; give the others back their colour.

        Args:
            graph: the model.
            restore: called with ``(output port, input port)`` of a link that is no longer marked.
        """
        problems = {link: "; ".join(messages) for link, messages in graph.link_problems().items()}
        for link in [ln for ln in self.marked if problems.get(ln) != self.marked[ln]]:
            del self.marked[link]
            ports = self._ports(link)
            pipe = pipe_of(*ports) if ports is not None else None
            if pipe is not None:
                pipe.style = PipeEnum.DRAW_TYPE_DEFAULT.value
                pipe.setToolTip("")
                restore(*ports)
        for link, reason in problems.items():  # all of them again: a redraw of the input may have recoloured one
            ports = self._ports(link)
            pipe = pipe_of(*ports) if ports is not None else None
            if pipe is None:
                continue
            pipe.color = INVALID_LINK_COLOUR
            pipe.style = PipeEnum.DRAW_TYPE_DASHED.value
            pipe.setToolTip(f"Invalid link: {reason}")
            pipe.reset()
            self.marked[link] = reason

    def reason(self, link: Link) -> str:
        """Why ``link`` is marked ("" when it is not)."""
        return self.marked.get(link, "")

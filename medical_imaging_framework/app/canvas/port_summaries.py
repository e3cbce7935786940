"""A finished run's output summaries on the canvas: hovering an output port shows what it held (shape, dtype
and range of a tensor, a dataset's length and first item, a model's parameter count) and a sample image.

The summaries are made once, on the run's thread, at its end (`tools/port_summary.py`); the tooltips hold only
their text and a small PNG. A new run or another pipeline puts the ports' own tooltips back.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QImage

from medical_imaging_framework.app.canvas.items import port_tooltip

if TYPE_CHECKING:  # numpy is imported where a picture is encoded: not before the window's first paint
    import numpy as np

PREFIX = "Last run: "
REUSED_NOTE = "reused from an earlier run (the node did not run)"
MIN_PICTURE = 64  # a sample image smaller than this many pixels is shown enlarged


def png_uri(picture: np.ndarray) -> str:
    """A ``data:`` URI of a grey uint8 picture as PNG (Qt's rich text shows it inline).

    Args:
        picture: (H, W) uint8.
    """
    import numpy as np

    rows, columns = picture.shape
    data = np.ascontiguousarray(picture, dtype=np.uint8)
    image = QImage(data.data, columns, rows, columns, QImage.Format.Format_Grayscale8).copy()
    encoded = QByteArray()
    buffer = QBuffer(encoded)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(bytes(encoded)).decode("ascii")


def summary_tooltip(base: str, summary: Any, reused: bool = False) -> str:
    """The rich-text tooltip: the port's own text, the run's summary, the sample image under it.

    Args:
        base: the port's tooltip (plain text).
        summary: a `PortSummary`.
        reused: the node's outputs were taken from an earlier run (`run.cache`): said after the prefix.
    """
    lines = [html.escape(line) for line in base.splitlines()]
    note = f"<i>{REUSED_NOTE}</i><br>" if reused else ""
    text = "<br>".join(html.escape(line) for line in summary.text.splitlines())
    lines.append(f"<b>{PREFIX.strip()}</b> {note}{text}")
    picture = ""
    if summary.thumbnail is not None:  # a small image is drawn larger (whole pixels), to be seen at all
        scale = max(1, MIN_PICTURE // max(summary.thumbnail.shape))
        rows, columns = summary.thumbnail.shape
        picture = (f'<br><img src="{png_uri(summary.thumbnail)}" width="{columns * scale}" '
                   f'height="{rows * scale}">')
    return '<qt><p style="white-space:pre">' + "<br>".join(lines) + picture + "</p></qt>"


def show_summaries(canvas: Any, summaries: dict[tuple[str, str], Any], reused: Collection[str] = ()) -> int:
    """Put each summary in its output port's tooltip; returns how many ports got one.

    Args:
        canvas: the `CanvasAdapter`.
        summaries: (node id, port name) -> `PortSummary`.
        reused: the nodes whose outputs the run took from an earlier run.
    """
    shown = 0
    for (node_id, port_name), summary in summaries.items():
        node = canvas.graph.nodes.get(node_id)
        canvas_node = canvas.canvas_node(node_id) if node is not None else None
        port = next((p for p in node.spec.outputs if p.name == port_name), None) if node is not None else None
        item = canvas_node.outputs().get(port_name) if canvas_node is not None and port is not None else None
        if item is not None:
            item.view.setToolTip(summary_tooltip(port_tooltip(port), summary, node_id in reused))
            shown += 1
    return shown


def clear_summaries(canvas: Any) -> None:
    """Give every output port its own tooltip back (a new run started, or another pipeline)."""
    for node_id, node in canvas.graph.nodes.items():
        canvas_node = canvas.canvas_node(node_id)
        for port in node.spec.outputs if canvas_node is not None else ():
            item = canvas_node.outputs().get(port.name)
            if item is not None:
                item.view.setToolTip(port_tooltip(port))

"""The main window's canvas side: the NodeGraphQt canvas, its palette and the helpers that work on them.

`mif gui` paints the window's frame first (menus, toolbar, docks: plain Qt widgets) and builds this side right
after that first paint (`MainWindow.build_canvas`). NodeGraphQt's import, the canvas, the palette and the
pipeline's items are about a third of the CPU the editor needs before it can paint (bench/startup.py); on a
busy machine that third decides whether the window appears at once. Whatever needs the canvas before then
builds it at that moment (`MainWindow.canvas` is built on first use), so no command ever finds it missing.
Tests and new windows build it in the constructor. This module is only imported when the side is built.
"""

from __future__ import annotations

from typing import Any

from medical_imaging_framework.app.canvas.adapter import CanvasAdapter
from medical_imaging_framework.app.canvas.graph_widgets import MifNodeGraph, NodePalette
from medical_imaging_framework.app.canvas.live_validation import LiveValidation
from medical_imaging_framework.app.window.context_menu import CanvasContextMenu
from medical_imaging_framework.app.window.port_inspection import install_port_inspection
from medical_imaging_framework.core import NodeRegistry

MainWindow = Any  # main_window imports this module (sibling modules import one way)


class CanvasSide:
    """The canvas, its NodeGraphQt graph and the palette, made together; `attach` adds the helpers that need the
    window to hold them already.

    Args:
        window: the main window (the graph's parent).
        registry: the node types the palette offers.
    """

    def __init__(self, window: MainWindow, registry: NodeRegistry) -> None:
        self.node_graph = MifNodeGraph(parent=window)
        self.canvas = CanvasAdapter(self.node_graph, registry)
        self.palette = NodePalette(self.node_graph, self.canvas.palette_tooltips(), self.canvas.category_labels())
        self.palette.setObjectName("node_palette")
        self.live_validation: LiveValidation | None = None
        self.context_menu: CanvasContextMenu | None = None

    def attach(self, window: MainWindow) -> None:
        """The helpers that use the window's canvas: live validation outlines, the output ports' tooltips after a
        run and the right-click menu.

        Args:
            window: the main window, whose ``canvas`` is this side's.
        """
        self.live_validation = LiveValidation(self.canvas, lambda: window.runner.running, window)
        install_port_inspection(window)
        self.context_menu = CanvasContextMenu(window)


__all__ = ["CanvasSide"]

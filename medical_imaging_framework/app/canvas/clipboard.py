"""Copy, cut and paste of canvas nodes through the system clipboard (as pipeline file text), and duplicate."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QApplication

from medical_imaging_framework.core import Graph
from medical_imaging_framework.core.pipeline_file import PipelineFileError, dumps, loads
from medical_imaging_framework.core.placement import paste_offset


class ClipboardActions:
    """Clipboard commands of the `CanvasAdapter` (which provides ``graph``, ``editor``, ``registry``,
    ``node_graph``, ``selected_ids``, ``select`` and ``delete_selected``)."""

    graph: Graph
    editor: Any
    registry: Any
    node_graph: Any

    def copy_selected(self) -> bool:
        """Copy the selected nodes, the links among them and the selected notes and groups (a group with the
        nodes inside it) to the clipboard (as pipeline file text)."""
        part = self._selected_part()
        if not part.nodes and not part.annotations:
            return False
        QApplication.clipboard().setText(dumps(part))
        return True

    def cut_selected(self) -> None:
        """Copy, then delete the selection."""
        if self.copy_selected():
            self.delete_selected()

    def paste(self, at: QPointF | None = None) -> list[str]:
        """Paste copied nodes (new ids) with their inner links as one undo step; their new ids.

        Args:
            at: where the top-left copy goes (canvas coordinates); None: at the mouse when it is over
                the canvas, else next to the originals. A copy never lands exactly on another node: a
                repeated paste at the same place goes one step further down-right.
        """
        try:
            # placeholders: a copied node whose type is not installed pastes as one, as the file opened it
            part = loads(QApplication.clipboard().text(), self.registry, source="clipboard", placeholders=True)
        except PipelineFileError:
            return []  # not pipeline text: nothing to paste
        point = at if at is not None else self.mouse_point()
        anchor = (point.x(), point.y()) if point is not None else None
        offset = paste_offset([n.position for n in part.nodes.values()] + [(a.x, a.y) for a in part.annotations],
                              [n.position for n in self.graph.nodes.values()], anchor)
        ids = self.editor.paste_graph(part, offset)
        self.select(ids)
        return ids

    def mouse_point(self) -> QPointF | None:
        """The mouse position on the canvas, in canvas coordinates (None when the mouse is elsewhere)."""
        viewer, cursor = self.node_graph.viewer(), QCursor.pos()
        if QApplication.widgetAt(cursor) is not viewer.viewport():  # e.g. over the Edit menu, or outside
            return None
        return viewer.mapToScene(viewer.viewport().mapFromGlobal(cursor))

    def _selected_part(self) -> Graph:
        ids = set(self.selected_ids())  # type: ignore[attr-defined]
        part = Graph(self.graph.name)
        part.annotations = list(self.selected_annotations())  # type: ignore[attr-defined]
        for group in [a for a in part.annotations if a.kind == "group"]:
            ids.update(self.nodes_in(group))  # type: ignore[attr-defined]
        part.nodes = {i: n for i, n in self.graph.nodes.items() if i in ids}
        part.links = [ln for ln in self.graph.links if ln.source in ids and ln.target in ids]
        return part

    def duplicate_selected(self) -> list[str]:
        """Copies of the selected nodes and the links among them, one step down-right (one undo step;
        the clipboard is left alone); their new ids, selected."""
        part = self._selected_part()
        if not part.nodes:
            return []
        offset = paste_offset([n.position for n in part.nodes.values()],
                              [n.position for n in self.graph.nodes.values()])
        ids = self.editor.paste_graph(part, offset)
        self.select(ids)  # type: ignore[attr-defined]
        return ids


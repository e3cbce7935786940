"""Notes and groups on the canvas, drawn as NodeGraphQt backdrops that follow the model's annotations.

A group is NodeGraphQt's `BackdropNode`: pressing its frame selects the nodes inside, so dragging it moves
them too (one move step in the model). A note is the same frame whose press selects only itself. Moves
and resizes on the canvas become `GraphEditor` commands; the drawing changes when the model says so.
"""

from __future__ import annotations

from typing import Any

from NodeGraphQt import BackdropNode
from NodeGraphQt.qgraphics.node_abstract import AbstractNodeItem
from NodeGraphQt.qgraphics.node_backdrop import BackdropNodeItem
from PySide6.QtCore import Qt

from medical_imaging_framework.core.annotations import MIN_SIZE, Annotation

IDENTIFIER = "mif.annotations"
GROUP_COLOUR = (40, 110, 130, 255)
NOTE_COLOUR = (150, 130, 50, 255)
GROUP_PADDING = 40.0  # canvas units between a new group's frame and the nodes it was made around


class _GroupItem(BackdropNodeItem):
    """NodeGraphQt's backdrop, except that only the frame stays selected after a press: the nodes inside
    are selected while it is dragged (so they move with it), then let go, so that Delete after a click
    on a group deletes the frame alone, and a second drag of the still-selected frame carries them again."""

    def mousePressEvent(self, event: Any) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.selected:
            self.setSelected(False)  # NodeGraphQt's press selects the nodes inside only for an unselected frame
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: Any) -> None:
        carried = [item for item in self._nodes if item is not self]
        super().mouseReleaseEvent(event)
        for item in carried:
            item.setSelected(False)


class GroupFrame(BackdropNode):
    """A group: a titled frame that carries the nodes inside it when dragged."""

    __identifier__ = IDENTIFIER
    NODE_NAME = "Group"

    def __init__(self) -> None:
        super().__init__(_GroupItem)


class _NoteItem(BackdropNodeItem):
    """A backdrop whose press selects only itself: a note moves alone, over or under nodes."""

    def mousePressEvent(self, event: Any) -> None:
        AbstractNodeItem.mousePressEvent(self, event)

    def mouseReleaseEvent(self, event: Any) -> None:
        AbstractNodeItem.mouseReleaseEvent(self, event)


class NoteFrame(BackdropNode):
    """A note: a titled text on the canvas."""

    __identifier__ = IDENTIFIER
    NODE_NAME = "Note"

    def __init__(self) -> None:
        super().__init__(_NoteItem)


class AnnotationView:
    """The annotation part of the `CanvasAdapter` (which provides ``node_graph``, ``editor`` and ``graph``)."""

    node_graph: Any
    editor: Any

    def _setup_annotations(self) -> None:
        self._frames: dict[int, Any] = {}  # id(annotation) -> its canvas backdrop (a lookup index)
        self.node_graph.register_node(GroupFrame)
        self.node_graph.register_node(NoteFrame)

    # -- lookups -----------------------------------------------------------------------------
    def frame_of(self, annotation: Annotation) -> Any:
        """The canvas backdrop drawing ``annotation`` (None when absent)."""
        return self._frames.get(id(annotation))

    def annotation_of_view(self, view_id: str) -> Annotation | None:
        """The annotation drawn by the backdrop item ``view_id`` (None for anything else)."""
        for annotation in self.editor.graph.annotations:
            frame = self._frames.get(id(annotation))
            if frame is not None and frame.id == view_id:
                return annotation
        return None

    def selected_annotations(self) -> list[Annotation]:
        """The selected notes and groups, in model order."""
        chosen = {n.id for n in self.node_graph.selected_nodes()}
        return [a for a in self.editor.graph.annotations if id(a) in self._frames and self._frames[id(a)].id in chosen]

    def nodes_in(self, group: Annotation) -> list[str]:
        """The ids of the nodes inside ``group``'s frame (those a drag of the frame carries)."""
        frame = self._frames.get(id(group))
        if frame is None:
            return []
        found = [self.node_graph.get_node_by_id(item.id) for item in frame.view.get_nodes()]
        return [n.name() for n in found if n is not None and n.name() in self.editor.graph.nodes]

    # -- observer: the canvas follows the model ----------------------------------------------
    def annotation_added(self, annotation: Annotation) -> None:
        """Draw ``annotation``."""
        kind = NoteFrame if annotation.kind == "note" else GroupFrame
        frame = self.node_graph.create_node(f"{IDENTIFIER}.{kind.__name__}", name=kind.NODE_NAME, selected=False,
                                            pos=[annotation.x, annotation.y], push_undo=False)
        frame.model.color = frame.view.color = NOTE_COLOUR if annotation.kind == "note" else GROUP_COLOUR
        frame.view.minimum_size = (MIN_SIZE, MIN_SIZE)
        self._frames[id(annotation)] = frame
        self.annotation_changed(annotation)

    def annotation_removed(self, annotation: Annotation) -> None:
        """Remove the drawing of ``annotation``."""
        frame = self._frames.pop(id(annotation), None)
        if frame is not None and self.node_graph.get_node_by_id(frame.id) is frame:
            self.node_graph.remove_node(frame, push_undo=False)

    def annotation_changed(self, annotation: Annotation) -> None:
        """Show the model's title, text, place and size (NodeGraphQt's setters would push its own undo)."""
        frame = self._frames.get(id(annotation))
        if frame is None:
            return
        frame.model.name = frame.view.name = annotation.title
        frame.model.set_property("backdrop_text", annotation.text)
        frame.view.backdrop_text = annotation.text
        frame.model.width, frame.model.height = annotation.w, annotation.h
        frame.view.width, frame.view.height = annotation.w, annotation.h
        frame.model.pos = [annotation.x, annotation.y]
        frame.view.xy_pos = [annotation.x, annotation.y]
        frame.view.setToolTip(f"{annotation.kind.title()}: {annotation.title}\n{annotation.text}".strip()
                              + "\nDouble-click to edit the title and text")
        frame.view.update()

    def _clear_annotations(self) -> None:
        self._frames.clear()

    # -- user actions become commands --------------------------------------------------------
    def annotation_moves(self, view_ids: list[str]) -> dict[Annotation, tuple[float, float]]:
        """The new places (rounded to 1/100) of the annotations among the dragged items ``view_ids``."""
        moves = {}
        for view_id in view_ids:
            annotation = self.annotation_of_view(view_id)
            if annotation is not None:
                x, y = self._frames[id(annotation)].view.xy_pos
                moves[annotation] = (round(float(x), 2), round(float(y), 2))
        return moves

    def request_resize(self, view_id: str, geometry: dict[str, Any]) -> None:
        """The frame's corner was dragged (or double-clicked to fit its nodes): one change of place and size."""
        annotation = self.annotation_of_view(view_id)
        if annotation is None:
            return
        x, y = geometry["pos"]
        values = {"x": round(float(x), 2), "y": round(float(y), 2),
                  "w": round(max(float(geometry["width"]), MIN_SIZE), 2),
                  "h": round(max(float(geometry["height"]), MIN_SIZE), 2)}
        self.editor.change_annotation(annotation, **values)
        self.annotation_changed(annotation)  # the rounded model values are the truth, changed or not

    def add_note(self, at: tuple[float, float], title: str = "Note", text: str = "") -> Annotation:
        """Add a note with its top-left corner at ``at`` (one undo step)."""
        return self.editor.add_annotation(Annotation("note", title, text, round(at[0], 2), round(at[1], 2), 260, 140))

    def group_nodes(self, node_ids: list[str], at: tuple[float, float] | None = None,
                    title: str = "Group") -> Annotation:
        """Add a group framing ``node_ids`` (with a margin), or an empty one at ``at`` (one undo step)."""
        found = [self.canvas_node(i) for i in node_ids]  # type: ignore[attr-defined]
        drawn = [canvas_node.view for canvas_node in found if canvas_node is not None]
        if drawn:
            rect = drawn[0].sceneBoundingRect()
            for view in drawn[1:]:
                rect = rect.united(view.sceneBoundingRect())
            rect.adjust(-GROUP_PADDING, -GROUP_PADDING - 20, GROUP_PADDING, GROUP_PADDING)
            box = (rect.x(), rect.y(), rect.width(), rect.height())
        else:
            x, y = at or (0.0, 0.0)
            box = (x, y, 400.0, 260.0)
        annotation = Annotation("group", title, "", *(round(v, 2) for v in box))
        return self.editor.add_annotation(annotation)

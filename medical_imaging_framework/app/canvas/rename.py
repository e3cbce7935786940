"""Renaming a node in place: its title becomes a text field (double-click on the title, F2, or the context
menu's Rename…); Return or a click elsewhere renames the node in the model, Esc keeps the old id.

The title edit is NodeGraphQt's own (`NodeTextItem`); what it reports goes to `GraphEditor.rename_node`,
the one undoable rename of the model (its links follow). A refused id (the id rule of `core.node_ids`)
leaves the node as it was and says why through ``refused``.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QTextCursor


class NodeRenamer(QObject):
    """Starts the in-place edit of a node's title and turns the edited text into a rename command.

    Args:
        adapter: the `CanvasAdapter` (its editor renames, its canvas shows the titles).
    """

    refused = Signal(str)
    renamed = Signal(str, str)

    def __init__(self, adapter: Any) -> None:
        super().__init__(adapter)
        self.adapter = adapter

    def prepare(self, canvas_node: Any) -> None:
        """Let the title of a newly drawn node be edited (double-click on it; the I-beam cursor says so)."""
        text_item = canvas_node.view.text_item
        text_item.set_locked(False)
        text_item.setToolTip("")  # the node's own tooltip (type, errors) shows over the title too

    def start(self, node_id: str) -> bool:
        """Turn the title of ``node_id`` into a text field with the whole id selected; False if not drawn.

        Args:
            node_id: the core node id.
        """
        canvas_node = self.adapter.canvas_node(node_id)
        if canvas_node is None:
            return False
        viewer = self.adapter.node_graph.viewer()
        viewer.setFocus(Qt.FocusReason.OtherFocusReason)
        text_item = canvas_node.view.text_item
        text_item.set_editable(True)
        text_item.setFocus(Qt.FocusReason.OtherFocusReason)
        cursor = text_item.textCursor()
        cursor.select(QTextCursor.SelectionType.Document)
        text_item.setTextCursor(cursor)
        return True

    def editing(self) -> str:
        """The id of the node whose title is being edited ("" when none)."""
        item = self.adapter.node_graph.scene().focusItem()
        node_item = item.parentItem() if item is not None else None
        if node_item is None or getattr(node_item, "text_item", None) is not item:
            return ""
        editable = item.textInteractionFlags() & Qt.TextInteractionFlag.TextEditable
        return node_item.name if editable else ""

    def title_edited(self, view_id: str, text: str) -> None:
        """NodeGraphQt reports an edited title: rename once its key handler has returned (the rename
        redraws the node, and the title item must outlive the handler that reported it)."""
        QTimer.singleShot(0, lambda: self._finish(view_id, text))

    def _finish(self, view_id: str, text: str) -> None:
        canvas_node = self.adapter.node_graph.get_node_by_id(view_id)
        if canvas_node is None:
            return  # already renamed (the title lost the focus after Return) or deleted
        old_id = canvas_node.name()
        new_id = text.strip()
        try:
            changed = self.adapter.editor.rename_node(old_id, new_id)
        except ValueError as error:
            changed = False
            self.refused.emit(f"Cannot rename '{old_id}': {error}")
        if changed:
            self.adapter.select([new_id])
            self.renamed.emit(old_id, new_id)
        else:  # the title shows the model's id again
            canvas_node.view.text_item.setPlainText(old_id)
            canvas_node.view.name = old_id
            canvas_node.view.draw_node()

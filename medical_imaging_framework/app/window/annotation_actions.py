"""The window's commands on notes and groups: add, group the selection, edit title and text."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF

from medical_imaging_framework.app.widgets.annotation_dialog import AnnotationDialog
from medical_imaging_framework.core.annotations import Annotation

# The window is typed as Any: main_window imports this module, and sibling modules never import each other
# both ways (the import-linter contract), not even for type checking.
MainWindow = Any


def edit_annotation(window: MainWindow, annotation: Annotation) -> AnnotationDialog:
    """Open (window-modal, non-blocking) the title-and-text dialog of ``annotation``; OK is one undo step.

    Args:
        window: the main window.
        annotation: the note or group.
    """
    dialog = AnnotationDialog(annotation, window)

    def apply() -> None:
        try:
            window.canvas.editor.change_annotation(annotation, title=dialog.title(), text=dialog.text())
        except ValueError as error:
            window.statusBar().showMessage(f"Not changed: {error}", 10000)

    dialog.accepted.connect(apply)
    dialog.finished.connect(dialog.deleteLater)
    dialog.finished.connect(window.restore_focus)
    window.annotation_dialog = dialog
    dialog.open()
    return dialog


def group_selection(window: MainWindow, at: QPointF | None = None) -> Annotation:
    """Frame the selected nodes in a new group (an empty group at ``at`` when none is selected).

    Args:
        window: the main window.
        at: canvas point for an empty group (the canvas centre when None).
    """
    canvas = window.canvas
    if at is None:
        viewer = window.node_graph.viewer()
        at = viewer.mapToScene(viewer.viewport().rect().center())
    group = canvas.group_nodes(canvas.selected_ids(), (at.x(), at.y()))
    edit_annotation(window, group)  # a group is named at once, as a new folder is
    return group


def add_note(window: MainWindow, at: QPointF) -> Annotation:
    """Add a note at ``at`` and open its dialog to type the text.

    Args:
        window: the main window.
        at: canvas point of its top-left corner.
    """
    note = window.canvas.add_note((at.x(), at.y()))
    edit_annotation(window, note)
    return note

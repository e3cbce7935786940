"""The dialog that edits a note's or group's title and text."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLineEdit, QPlainTextEdit, QWidget

from medical_imaging_framework.core.annotations import Annotation


class AnnotationDialog(QDialog):
    """Title (one line) and text (several lines) of a note or group; OK applies them as one undo step.

    Args:
        annotation: the note or group (left unchanged: the caller applies ``title()`` and ``text()``).
        parent: the window.
    """

    def __init__(self, annotation: Annotation, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("annotation_dialog")
        self.setWindowTitle(f"Edit {annotation.kind}")
        self.title_edit = QLineEdit(annotation.title)
        self.text_edit = QPlainTextEdit(annotation.text)
        self.text_edit.setTabChangesFocus(True)
        self.text_edit.setMinimumSize(360, 140)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QFormLayout(self)
        layout.addRow("Title", self.title_edit)
        layout.addRow("Text", self.text_edit)
        layout.addRow(buttons)
        self.title_edit.selectAll()

    def title(self) -> str:
        """The title as typed (one line)."""
        return " ".join(self.title_edit.text().split())

    def text(self) -> str:
        """The text as typed."""
        return self.text_edit.toPlainText()

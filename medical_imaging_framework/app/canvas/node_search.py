"""Tab search: a popup listing node types by their readable title, category and description (all of them,
or only those that can take a link being dragged)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QFrame, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from medical_imaging_framework.core import NodeSpec

SPEC_ROLE = Qt.ItemDataRole.UserRole + 1
ALL_NODES = "Search nodes: title, category or description"


def search_label(spec: NodeSpec) -> str:
    """``Title — Category`` and, on a second line, the first sentence of the description."""
    summary = spec.description.split(". ")[0].strip().rstrip(".")
    return f"{spec.title} — {spec.category}" + (f"\n    {summary}" if summary else "")


def matches(spec: NodeSpec, text: str) -> bool:
    """Whether every word of ``text`` occurs in the title, category or description of ``spec``."""
    haystack = f"{spec.title} {spec.category} {spec.description}".lower()
    return all(word in haystack for word in text.lower().split())


class NodeSearchPopup(QFrame):
    """Type to filter; Return (or a click) adds the highlighted node type; Esc closes.

    Args:
        specs: the node types offered.
        parent: the widget the popup belongs to.
    """

    chosen = Signal(object)

    def __init__(self, specs: list[NodeSpec], parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("node_search")
        self.specs = specs
        self.offered = specs
        self.line_edit = QLineEdit()
        self.line_edit.setPlaceholderText(ALL_NODES)
        self.list = QListWidget()
        self.list.setMinimumWidth(420)
        self.list.setMinimumHeight(320)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.line_edit)
        layout.addWidget(self.list)
        self.line_edit.textChanged.connect(self.refilter)
        self.line_edit.returnPressed.connect(self.choose_current)
        self.line_edit.installEventFilter(self)
        self.list.itemActivated.connect(lambda _item: self.choose_current())
        self.list.itemClicked.connect(lambda _item: self.choose_current())
        self.refilter("")

    def refilter(self, text: str) -> None:
        """Show the node types matching ``text`` (titles that start with it first) and highlight the first."""
        self.list.clear()
        found = [spec for spec in self.offered if matches(spec, text)]
        lowered = text.lower().strip()
        found.sort(key=lambda s: (not s.title.lower().startswith(lowered), lowered not in s.title.lower(),
                                  s.category, s.title))
        for spec in found:
            item = QListWidgetItem(search_label(spec))
            item.setData(SPEC_ROLE, spec.type_id)
            item.setToolTip(spec.description or spec.title)
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)

    def labels(self) -> list[str]:
        """The entries as shown, in order."""
        return [self.list.item(i).text() for i in range(self.list.count())]

    def choose_current(self) -> None:
        """Emit the highlighted node type and close."""
        item = self.list.currentItem()
        if item is not None:
            spec = next(s for s in self.offered if s.type_id == item.data(SPEC_ROLE))
            self.hide()
            self.chosen.emit(spec)

    def popup_at(self, global_pos: QPoint, offered: list[NodeSpec] | None = None, heading: str = "") -> None:
        """Open empty at ``global_pos`` with the text field focused.

        Args:
            global_pos: the top-left corner, in screen coordinates.
            offered: the node types to list (all when None), e.g. those that accept a dragged link.
            heading: the text field's placeholder saying what is listed (the default one when empty).
        """
        self.offered = self.specs if offered is None else offered
        self.line_edit.setPlaceholderText(heading or ALL_NODES)
        self.line_edit.clear()
        self.refilter("")
        self.move(global_pos)
        self.show()
        self.line_edit.setFocus()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Up/Down in the text field move through the list."""
        arrows = (Qt.Key.Key_Down, Qt.Key.Key_Up)
        if watched is self.line_edit and isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress \
                and event.key() in arrows:
            step = 1 if event.key() == Qt.Key.Key_Down else -1
            self.list.setCurrentRow(max(0, min(self.list.count() - 1, self.list.currentRow() + step)))
            return True
        return super().eventFilter(watched, event)

"""The parameter dialog: one field per `Param` of a node, validated by the same rules as the CLI."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from medical_imaging_framework.app.widgets.node_help import NodeHelpDialog, show_node_help
from medical_imaging_framework.core import Node, Param, ParamError, ParamKind

ERROR_STYLE = "color: #d32f2f;"
FIXED_STYLE = "color: #2e7d32;"
LOCKED_TEXT = "The pipeline is running: parameters cannot be changed until it ends."


class ParamDialog(QDialog):
    """Edits a copy of a node's config; `new_config` holds the validated result after OK.

    Args:
        node: the core node (left untouched; the caller applies `new_config`).
        read_only: show the values without letting them change (while the pipeline runs).
        parent: the owning window.
    """

    def __init__(self, node: Node, read_only: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.node = node
        self.read_only = read_only
        self.new_config: dict[str, Any] | None = None
        self.fields: dict[str, QWidget] = {}
        self.labels: dict[str, QLabel] = {}
        self.errors: dict[str, QLabel] = {}
        self.help_dialog: NodeHelpDialog | None = None
        self.fixed: set[str] = set()  # fields whose refused value was corrected since the last OK
        self.setObjectName(f"param_dialog_{node.id}")
        self.setWindowTitle(f"{node.spec.title} — {node.id}")
        self.setMinimumWidth(460)
        layout = QVBoxLayout(self)
        header = QLabel(f"<b>{node.spec.title}</b> <span style='color:gray'>({node.type_id})</span>"
                        f"<br>{node.spec.description}")
        header.setWordWrap(True)
        layout.addWidget(header)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        for param in node.spec.params:
            self._add_row(form, param, node.config.get(param.name, param.default))
        for param in node.spec.params:
            if param.fills and isinstance(self.fields.get(param.name), QComboBox):
                self.fields[param.name].currentTextChanged.connect(lambda text, p=param: self._fill(p, text))
        layout.addLayout(form)
        layout.addStretch(1)  # height the rows do not need goes below them: fields never slide down
        self.locked_label = QLabel(LOCKED_TEXT)
        self.locked_label.setStyleSheet("color: #e65100;")
        self.locked_label.setVisible(read_only)
        layout.addWidget(self.locked_label)
        buttons = QDialogButtonBox.StandardButton.Cancel | QDialogButtonBox.StandardButton.Help
        if not read_only:
            buttons |= QDialogButtonBox.StandardButton.Ok
        self.button_box = QDialogButtonBox(buttons)
        self.button_box.accepted.connect(self.accept)
        self.button_box.rejected.connect(self.reject)
        self.button_box.helpRequested.connect(self.show_help)
        QShortcut(QKeySequence(QKeySequence.StandardKey.HelpContents), self, self.show_help)
        layout.addWidget(self.button_box)

    def _add_row(self, form: QFormLayout, param: Param, value: Any) -> None:
        field = self._make_field(param, value)
        field.setObjectName(f"field_{param.name}")
        field.setToolTip(param.help)
        field.setEnabled(not self.read_only)
        label = QLabel(param.title)
        label.setToolTip(param.help)
        label.setBuddy(field)
        error = QLabel("")
        error.setObjectName(f"error_{param.name}")
        error.setStyleSheet(ERROR_STYLE)
        error.setWordWrap(True)
        error.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        error.setVisible(False)
        column = QVBoxLayout()
        column.setSpacing(2)
        if param.kind is ParamKind.PATH:
            row = QHBoxLayout()
            row.addWidget(field)
            browse = QToolButton()
            browse.setText("Browse…")
            browse.setObjectName(f"browse_{param.name}")
            browse.setEnabled(not self.read_only)
            browse.clicked.connect(lambda _=False, p=param, f=field: self._browse(p, f))
            row.addWidget(browse)
            column.addLayout(row)
        else:
            column.addWidget(field)
        column.addWidget(error)
        form.addRow(label, column)
        self.fields[param.name], self.labels[param.name], self.errors[param.name] = field, label, error
        self._watch(param.name, field)

    def _watch(self, name: str, field: QWidget) -> None:
        """Re-check a field whose error is shown each time it changes, so the message goes once it is valid."""
        if isinstance(field, QCheckBox):
            field.toggled.connect(lambda _=False, n=name: self._recheck(n))
        elif isinstance(field, QComboBox):
            field.currentTextChanged.connect(lambda _="", n=name: self._recheck(n))
        elif isinstance(field, QLineEdit):
            field.textChanged.connect(lambda _="", n=name: self._recheck(n))

    def _fill(self, param: Param, choice: str) -> None:
        """Show the values ``choice`` of ``param`` gives other fields (`Param.fills`), e.g. a preset's window."""
        for name, value in dict(param.fills).get(choice, ()):
            target, field = self.node.spec.param(name), self.fields.get(name)
            if target is not None and isinstance(field, QLineEdit):
                field.setText(target.to_text(value))

    def _recheck(self, name: str) -> None:
        """While the user types, a shown message changes in place: a corrected value turns it into a green line
        and a new refusal rewrites it, so no field moves under the mouse; rows close up at the next OK."""
        if self.errors[name].isHidden():
            return
        self._check(self.node.spec.param(name), Node(id=self.node.id, spec=self.node.spec,
                                                      config=dict(self.node.config)), live=True)
        self._fit(shrink=False)

    @staticmethod
    def _make_field(param: Param, value: Any) -> QWidget:
        if param.kind is ParamKind.BOOL:
            box = QCheckBox()
            box.setChecked(value is True or str(value).strip().lower() in ("true", "1", "yes", "on"))
            return box
        if param.kind is ParamKind.CHOICE:
            combo = QComboBox()
            combo.addItems(list(param.choices))
            text = param.to_text(value)
            if combo.findText(text) < 0:
                combo.addItem(text)
            combo.setCurrentText(text)
            return combo
        edit = QLineEdit(param.to_text(value))
        if param.kind not in (ParamKind.STR, ParamKind.PATH):
            edit.setPlaceholderText(param.rule())
        # the red outline of a refused value is a style sheet, which drops the native frame and with it a few
        # pixels of height: a fixed height keeps the rows below from moving when it comes and goes
        edit.setFixedHeight(edit.sizeHint().height())
        return edit

    def _browse(self, param: Param, field: QLineEdit) -> None:
        if "dir" in param.name or "folder" in param.name:
            chosen = QFileDialog.getExistingDirectory(self, param.title, field.text())
        else:
            chosen, _ = QFileDialog.getOpenFileName(self, param.title, field.text())
        if chosen:
            field.setText(chosen)

    def raw_value(self, name: str) -> Any:
        """What the field for ``name`` holds: text, a bool (checkbox) or the chosen item."""
        field = self.fields[name]
        if isinstance(field, QCheckBox):
            return field.isChecked()
        if isinstance(field, QComboBox):
            return field.currentText()
        return field.text()

    def validate(self) -> dict[str, Any] | None:
        """Parse every field through the node's rules; show each refusal under its field.

        Returns:
            the full new config, or None when any field is invalid.
        """
        scratch = Node(id=self.node.id, spec=self.node.spec, config=dict(self.node.config))
        failed = False
        for param in self.node.spec.params:
            failed = not self._check(param, scratch) or failed
        self._fit(shrink=True)
        return None if failed else scratch.config

    def _check(self, param: Param, scratch: Node, live: bool = False) -> bool:
        """Parse one field into ``scratch``; show or hide its error. True when valid.

        Args:
            param: the field's parameter.
            scratch: a copy of the node that takes the parsed value.
            live: the user is typing: a shown message becomes a green "valid" line instead of going away.
        """
        error = self.errors[param.name]
        # typing: a message keeps at least the height it had, so the fields below it stay put; OK lays out anew
        error.setMinimumHeight(error.height() if live else 0)
        try:
            scratch.set_param(param.name, self.raw_value(param.name))
        except ParamError as problem:
            self.fixed.discard(param.name)
            error.setText(f"{param.title} {problem.rule}")
            error.setStyleSheet(ERROR_STYLE)
            error.setVisible(True)
            self._mark(param.name, True)
            return False
        if live and error.isVisible():
            self.fixed.add(param.name)
            error.setText(f"✓ {param.title}: valid")
            error.setStyleSheet(FIXED_STYLE)
        else:
            self.fixed.discard(param.name)
            error.setVisible(False)
        self._mark(param.name, False)
        return True

    def _fit(self, shrink: bool) -> None:
        """Make the dialog as tall as its rows need, so no message is cut or drawn over the next field.

        Args:
            shrink: also shrink to that height (after OK, when messages went), leaving no empty band.
        """
        layout = self.layout()
        layout.invalidate()
        layout.activate()
        needed = layout.totalHeightForWidth(self.width()) if layout.hasHeightForWidth() else -1
        needed = max(needed, layout.totalMinimumSize().height())
        self.setMinimumHeight(needed)
        target = needed if shrink else max(needed, self.height())
        if target != self.height():
            self.resize(self.width(), target)

    def show_help(self) -> NodeHelpDialog:
        """Open the node type's documentation (F1 or the Help button)."""
        self.help_dialog = show_node_help(self.node.spec, self)
        return self.help_dialog

    def _mark(self, name: str, bad: bool) -> None:
        field = self.fields[name]
        field.setStyleSheet("border: 1px solid #d32f2f;" if bad and isinstance(field, QLineEdit) else "")

    def accept(self) -> None:
        """Keep the dialog open while any value is invalid; otherwise store `new_config` and close."""
        if self.read_only:
            return
        config = self.validate()
        if config is None:
            return
        self.new_config = config
        super().accept()

    def error_text(self, name: str) -> str:
        """The visible error under ``name``'s field ("" when none)."""
        label = self.errors[name]
        return label.text() if not label.isHidden() and name not in self.fixed else ""

    def keyPressEvent(self, event: Any) -> None:
        """Return in a field presses OK (as usual); Escape cancels; keys reaching it once closed are ignored."""
        if not self.isVisible():
            event.ignore()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not self.read_only:
            self.accept()
            return
        super().keyPressEvent(event)

"""A node type's documentation, generated from its `NodeSpec`: description, ports, parameters with
defaults and allowed values. Shown by F1 or the Help button of the parameter dialog, and by F1 on the canvas.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from medical_imaging_framework.core import NodeSpec, Param, ParamKind, Port


def allowed_values(param: Param) -> str:
    """The rule in words without "must be", e.g. ``a whole number >= 1`` or ``one of: auto, cpu, cuda``.

    Args:
        param: the parameter.
    """
    rule = param.rule()
    return rule.removeprefix("must be ").removeprefix("must ")


def _port_rows(ports: tuple[Port, ...], inputs: bool) -> str:
    rows = []
    for port in ports:
        note = "" if not inputs else (" (required)" if port.required else " (optional)")
        rows.append(f"<tr><td><code>{escape(port.name)}</code></td><td>{escape(str(port.kind))}{note}</td>"
                    f"<td>{escape(port.help)}</td></tr>")
    return "".join(rows) or "<tr><td colspan='3'><i>none</i></td></tr>"


def node_help_html(spec: NodeSpec) -> str:
    """The help page of ``spec`` as HTML (a heading, the description, then tables of ports and parameters).

    Args:
        spec: the node type.
    """
    params = []
    for param in spec.params:
        default = param.to_text(param.default)
        shown = f"<code>{escape(default)}</code>" if default != "" else "<i>empty</i>"
        kind = "path" if param.kind is ParamKind.PATH else param.kind.value
        params.append(
            f"<tr><td><b>{escape(param.title)}</b><br><code>{escape(param.name)}</code></td>"
            f"<td>{escape(kind)}</td><td>{shown}</td><td>{escape(allowed_values(param))}</td>"
            f"<td>{escape(param.help)}</td></tr>"
        )
    table = "<table border='1' cellspacing='0' cellpadding='4' width='100%'>"
    return (
        f"<h2>{escape(spec.title)}</h2>"
        f"<p><code>{escape(spec.type_id)}</code> · category {escape(spec.category)}</p>"
        f"<p>{escape(spec.description)}</p>"
        f"<h3>Inputs</h3>{table}<tr><th>Port</th><th>Kind</th><th></th></tr>{_port_rows(spec.inputs, True)}</table>"
        f"<h3>Outputs</h3>{table}<tr><th>Port</th><th>Kind</th><th></th></tr>"
        f"{_port_rows(spec.outputs, False)}</table>"
        f"<h3>Parameters</h3>{table}<tr><th>Parameter</th><th>Type</th><th>Default</th><th>Allowed</th>"
        f"<th>Meaning</th></tr>{''.join(params) or '<tr><td colspan=5><i>none</i></td></tr>'}</table>"
    )


class NodeHelpDialog(QDialog):
    """The help page of one node type in a read-only text view; Close or Esc closes it.

    Args:
        spec: the node type.
        parent: the dialog or window it belongs to.
    """

    def __init__(self, spec: NodeSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self.setObjectName("node_help")
        self.setWindowTitle(f"Help — {spec.title}")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.text = QTextBrowser()
        self.text.setObjectName("node_help_text")
        self.text.setHtml(node_help_html(spec))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.resize(720, 520)

    def plain_text(self) -> str:
        """The page as plain text (for tests and copying)."""
        return self.text.toPlainText()


def show_node_help(spec: NodeSpec, parent: QWidget | None = None) -> NodeHelpDialog:
    """Open (non-blocking) the help page of ``spec``.

    Args:
        spec: the node type.
        parent: owner of the help window.
    """
    dialog = NodeHelpDialog(spec, parent)
    dialog.show()
    dialog.raise_()
    return dialog


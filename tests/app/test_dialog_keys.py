"""The parameter dialog's error layout and live messages, node help (F1 / Help), and shortcuts that work
right after a dialog closes."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QFileDialog, QToolButton, QWidget

from medical_imaging_framework.app.widgets.param_dialog import ParamDialog
from medical_imaging_framework.core import NodeRegistry
from tests.support.gui import activate, double_click_node, set_text

BAD = {"num_epochs": "0", "save_every_n_epochs": "every few epochs please", "keep_last_n": "-3"}


def box(widget: QWidget, dialog: ParamDialog) -> QRect:
    return QRect(widget.mapTo(dialog, widget.rect().topLeft()), widget.size())


def test_three_errors_are_laid_out_in_full_under_their_fields(qtbot: Any, registry: NodeRegistry) -> None:
    dialog = _trainer_dialog_with_three_errors(qtbot, registry)
    errors = [dialog.errors[name] for name in BAD]
    assert all(label.isVisible() for label in errors) and dialog.isVisible()
    assert "(got 'every few epochs please')" in dialog.error_text("save_every_n_epochs")
    others = [w for w in dialog.findChildren(QWidget) if w.isVisible() and w.parent() is dialog
              and w not in errors and not isinstance(w, QDialogButtonBox)]
    others += [dialog.button_box]
    for label in errors:
        area = box(label, dialog)
        assert dialog.rect().contains(area), label.objectName()
        assert label.height() >= label.heightForWidth(label.width()), f"{label.objectName()} is cut"
        assert label.width() >= min(label.sizeHint().width(), dialog.width() // 2), label.objectName()
        for other in [*errors, *others]:
            if other is not label:
                assert not area.intersects(box(other, dialog)), (label.objectName(), other.objectName())
    field_boxes = [box(dialog.fields[name], dialog) for name in BAD]
    error_boxes = [box(label, dialog) for label in errors]
    for field_area, error_area in zip(field_boxes, error_boxes, strict=True):
        assert error_area.top() >= field_area.bottom()  # under its own field


def test_a_message_goes_as_soon_as_its_field_is_valid(qtbot: Any, registry: NodeRegistry) -> None:
    dialog = ParamDialog(registry.create("training.Trainer"))
    qtbot.addWidget(dialog)
    dialog.show()
    for name, text in BAD.items():
        set_text(qtbot, dialog.fields[name], text)
    dialog.accept()
    assert all(dialog.error_text(name) for name in BAD)
    set_text(qtbot, dialog.fields["num_epochs"], "4")
    assert dialog.error_text("num_epochs") == "" and dialog.fields["num_epochs"].styleSheet() == ""
    assert dialog.error_text("keep_last_n") and dialog.error_text("save_every_n_epochs")
    QTest.keyClick(dialog.fields["keep_last_n"], Qt.Key.Key_Backspace)  # "-3" -> "-": still invalid, new message
    assert "(got '-')" in dialog.error_text("keep_last_n")


def _trainer_dialog_with_three_errors(qtbot: Any, registry: NodeRegistry) -> ParamDialog:
    dialog = ParamDialog(registry.create("training.Trainer"))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    for name, text in BAD.items():
        set_text(qtbot, dialog.fields[name], text)
    qtbot.mouseClick(dialog.button_box.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    QApplication.processEvents()
    assert all(dialog.error_text(name) for name in BAD)
    return dialog


def test_fields_stay_put_while_messages_change_and_the_dialog_shrinks_back_at_ok(
    qtbot: Any, registry: NodeRegistry
) -> None:
    """Issue 20 point 13: fields jumped under the mouse as error lines came and went; after the errors were fixed
    the dialog stayed tall with empty bands."""
    dialog = _trainer_dialog_with_three_errors(qtbot, registry)
    tall = dialog.height()
    where = {name: box(field, dialog) for name, field in dialog.fields.items()}
    set_text(qtbot, dialog.fields["num_epochs"], "4")  # passes through "" (refused) on the way
    set_text(qtbot, dialog.fields["keep_last_n"], "2")
    QApplication.processEvents()
    assert {name: box(field, dialog) for name, field in dialog.fields.items()} == where  # nothing moved
    assert dialog.error_text("num_epochs") == "" and dialog.error_text("keep_last_n") == ""
    assert dialog.errors["num_epochs"].text() == "✓ Epochs: valid"
    qtbot.mouseClick(dialog.button_box.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    QApplication.processEvents()
    assert dialog.isVisible() and dialog.error_text("save_every_n_epochs")
    assert dialog.errors["num_epochs"].isHidden() and dialog.errors["keep_last_n"].isHidden()
    assert dialog.height() < tall and dialog.height() == dialog.minimumHeight()  # no empty band left
    assert box(dialog.fields["keep_last_n"], dialog).top() < where["keep_last_n"].top()


def test_checkpoint_directory_has_a_browse_button_that_picks_a_folder(
    qtbot: Any, registry: NodeRegistry, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    dialog = ParamDialog(registry.create("training.Trainer"))
    qtbot.addWidget(dialog)
    dialog.show()
    asked: list[str] = []

    def pick(parent: Any, title: str, start: str) -> str:
        asked.append(title)
        return str(tmp_path)

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(pick))
    button = dialog.findChild(QToolButton, "browse_checkpoint_dir")
    assert button is not None and button.text() == "Browse…"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert asked == ["Checkpoint Directory"] and dialog.fields["checkpoint_dir"].text() == str(tmp_path)


def test_f1_and_help_button_show_the_node_documentation(qtbot: Any, registry: NodeRegistry) -> None:
    node = registry.create("training.Trainer")
    dialog = ParamDialog(node, read_only=True)
    qtbot.addWidget(dialog)
    dialog.show()
    activate(qtbot, dialog)
    QTest.keyClick(dialog, Qt.Key.Key_F1)
    qtbot.waitUntil(lambda: dialog.help_dialog is not None and dialog.help_dialog.isVisible())
    text = dialog.help_dialog.plain_text()
    spec = node.spec
    assert spec.title in text and spec.description in text and spec.type_id in text
    for port in (*spec.inputs, *spec.outputs):
        assert port.name in text and str(port.kind) in text
    assert "val_data" in text and "(optional)" in text
    for param in spec.params:
        assert param.title in text and param.help in text
    assert "a whole number >= 1" in text and "one of: auto, cpu, cuda" in text
    rows = [line for line in text.splitlines() if "save_every_n_epochs" in line or "Save Every N Epochs" in line]
    assert rows
    dialog.help_dialog.close()
    qtbot.mouseClick(dialog.button_box.button(QDialogButtonBox.StandardButton.Help), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.help_dialog is not None and dialog.help_dialog.isVisible())


def key_on_focus(key: Qt.Key, modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """Press ``key`` on the widget that has the keyboard focus, as a user's key press would go."""
    target = QApplication.focusWidget()
    assert target is not None, "no widget has the keyboard focus: shortcuts would go nowhere"
    QTest.keyClick(target, key, modifiers)


@pytest.mark.parametrize("close_with", ["Return", "Escape", "help"])
def test_shortcuts_work_right_after_a_dialog_closes(
    qtbot: Any, window: Any, close_with: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    activate(qtbot, window)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: ("", "")))
    started: list[Any] = []
    monkeypatch.setattr(window.runner, "start", started.append)
    fired: dict[str, int] = {"stop": 0, "open": 0, "save": 0}
    window.action_stop.triggered.connect(lambda: fired.__setitem__("stop", fired["stop"] + 1))
    window.action_open.triggered.connect(lambda: fired.__setitem__("open", fired["open"] + 1))
    window.action_save.triggered.connect(lambda: fired.__setitem__("save", fired["save"] + 1))
    dialog = activate(qtbot, double_click_node(qtbot, window, "trainer"))  # a window manager activates it
    if close_with == "help":
        window.node_graph.select_all()
        dialog.reject()
        qtbot.waitUntil(lambda: not dialog.isVisible())
        qtbot.waitUntil(lambda: QApplication.focusWidget() is not None, timeout=2000)
        key_on_focus(Qt.Key.Key_F1)
        help_dialog = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "node_help"
                           and w.isVisible())
        QTest.keyClick(help_dialog, Qt.Key.Key_Escape)
        qtbot.waitUntil(lambda: not help_dialog.isVisible())
    else:
        set_text(qtbot, dialog.fields["num_epochs"], "3")
        key_on_focus(getattr(Qt.Key, f"Key_{close_with}"))
        qtbot.waitUntil(lambda: not dialog.isVisible())
    qtbot.waitUntil(lambda: QApplication.focusWidget() is not None, timeout=2000)
    key_on_focus(Qt.Key.Key_F5)
    assert len(started) == 1, "F5 right after the dialog closed did not start the run"
    key_on_focus(Qt.Key.Key_Escape)
    assert fired["stop"] == 1
    window.action_stop.setEnabled(False)
    window.action_run.setEnabled(True)
    key_on_focus(Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert len(started) == 2
    key_on_focus(Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    key_on_focus(Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    assert fired["save"] == 1 and fired["open"] == 1

"""The parameter dialog: opened by a real double-click, validated by the CLI's rules, undoable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QDialogButtonBox, QLabel, QLineEdit, QToolButton

from medical_imaging_framework.app.widgets.param_dialog import ParamDialog
from medical_imaging_framework.core import Node, NodeRegistry, ParamKind
from tests.support.gui import double_click_node, set_text


def field(dialog: ParamDialog, label: str) -> Any:
    """The widget whose QLabel buddy reads ``label``."""
    labels = [w for w in dialog.findChildren(QLabel) if w.text() == label]
    assert len(labels) == 1, f"no single label '{label}'"
    return labels[0].buddy()


def press(qtbot: Any, dialog: ParamDialog, button: QDialogButtonBox.StandardButton) -> None:
    qtbot.mouseClick(dialog.button_box.button(button), Qt.MouseButton.LeftButton)


def test_double_click_opens_trainer_dialog_with_checkpoint_fields(qtbot: Any, window: Any) -> None:
    dialog = double_click_node(qtbot, window, "trainer")
    assert dialog.node.id == "trainer"
    checkpoint_dir, every = field(dialog, "Checkpoint Directory"), field(dialog, "Save Every N Epochs")
    assert isinstance(checkpoint_dir, QLineEdit) and isinstance(every, QLineEdit)
    spec = window.canvas.graph.nodes["trainer"].spec
    assert checkpoint_dir.text() == window.canvas.graph.nodes["trainer"].config["checkpoint_dir"]
    assert every.text() == "1"
    assert checkpoint_dir.toolTip() == spec.param("checkpoint_dir").help
    assert every.toolTip() == spec.param("save_every_n_epochs").help
    assert isinstance(field(dialog, "Device"), QComboBox)
    assert isinstance(field(dialog, "Mixed Precision"), QCheckBox)
    assert dialog.findChild(QToolButton, "browse_resume_from") is not None


def test_ok_sets_checkpoint_settings_marks_modified_and_undoes(qtbot: Any, window: Any, tmp_path: Path) -> None:
    dialog = double_click_node(qtbot, window, "trainer")
    set_text(qtbot, field(dialog, "Checkpoint Directory"), str(tmp_path / "my_ckpt"))
    set_text(qtbot, field(dialog, "Save Every N Epochs"), "3")
    press(qtbot, dialog, QDialogButtonBox.StandardButton.Ok)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    config = window.canvas.graph.nodes["trainer"].config
    assert config["checkpoint_dir"] == str(tmp_path / "my_ckpt")
    assert config["save_every_n_epochs"] == 3
    assert window.isWindowModified()
    window.action_undo.trigger()
    assert window.canvas.graph.nodes["trainer"].config["save_every_n_epochs"] == 1
    assert not window.isWindowModified()
    window.action_redo.trigger()
    assert window.canvas.graph.nodes["trainer"].config["save_every_n_epochs"] == 3


def test_invalid_value_is_refused_in_red_and_dialog_stays(qtbot: Any, window: Any) -> None:
    before = dict(window.canvas.graph.nodes["trainer"].config)
    dialog = double_click_node(qtbot, window, "trainer")
    set_text(qtbot, field(dialog, "Save Every N Epochs"), "0")
    set_text(qtbot, field(dialog, "Checkpoint Directory"), "elsewhere")
    press(qtbot, dialog, QDialogButtonBox.StandardButton.Ok)
    assert dialog.isVisible()
    error = dialog.errors["save_every_n_epochs"]
    assert error.isVisible()
    assert "must be a whole number >= 1" in error.text()
    assert "d32f2f" in error.styleSheet()
    assert dialog.error_text("checkpoint_dir") == ""
    assert window.canvas.graph.nodes["trainer"].config == before
    assert not window.isWindowModified()
    for bad in ("abc", "-1", "2.5", "", "  "):  # every value issue 3 names, refused as the CLI refuses it
        set_text(qtbot, field(dialog, "Save Every N Epochs"), bad)
        press(qtbot, dialog, QDialogButtonBox.StandardButton.Ok)
        assert dialog.isVisible() and f"(got '{bad}')" in dialog.error_text("save_every_n_epochs")
        assert window.canvas.graph.nodes["trainer"].config == before
    set_text(qtbot, field(dialog, "Save Every N Epochs"), "2")
    press(qtbot, dialog, QDialogButtonBox.StandardButton.Ok)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert window.canvas.graph.nodes["trainer"].config["save_every_n_epochs"] == 2
    assert window.canvas.graph.nodes["trainer"].config["checkpoint_dir"] == "elsewhere"


def test_cancel_changes_nothing(qtbot: Any, window: Any) -> None:
    before = dict(window.canvas.graph.nodes["trainer"].config)
    dialog = double_click_node(qtbot, window, "trainer")
    set_text(qtbot, field(dialog, "Save Every N Epochs"), "7")
    set_text(qtbot, field(dialog, "Checkpoint Directory"), "other")
    press(qtbot, dialog, QDialogButtonBox.StandardButton.Cancel)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert window.canvas.graph.nodes["trainer"].config == before
    assert not window.isWindowModified()
    assert not window.canvas.editor.history.can_undo()


def test_every_node_type_gets_a_widget_per_parameter(qtbot: Any, registry: NodeRegistry) -> None:
    kinds = {ParamKind.BOOL: QCheckBox, ParamKind.CHOICE: QComboBox}
    for spec in registry.specs():
        dialog = ParamDialog(registry.create(spec.type_id))
        qtbot.addWidget(dialog)
        for param in spec.params:
            widget = field(dialog, param.title)
            assert isinstance(widget, kinds.get(param.kind, QLineEdit)), (spec.type_id, param.name)
            assert widget.toolTip() == param.help
        assert dialog.validate() is not None, f"{spec.type_id} defaults do not validate"


def test_read_only_dialog_refuses_changes(qtbot: Any, registry: NodeRegistry) -> None:
    node: Node = registry.create("training.Trainer")
    dialog = ParamDialog(node, read_only=True)
    qtbot.addWidget(dialog)
    assert dialog.button_box.button(QDialogButtonBox.StandardButton.Ok) is None
    assert not field(dialog, "Checkpoint Directory").isEnabled()
    assert dialog.locked_label.text().startswith("The pipeline is running")
    dialog.accept()
    assert dialog.new_config is None


def test_ct_window_dialog_offers_the_presets(qtbot: Any, registry: NodeRegistry) -> None:
    dialog = ParamDialog(registry.create("transforms.CTWindow"))
    qtbot.addWidget(dialog)
    preset = field(dialog, "Preset")
    assert isinstance(preset, QComboBox)
    assert [preset.itemText(i) for i in range(preset.count())] == ["custom", "soft_tissue", "lung", "bone", "brain"]
    assert "lung 1500/-600" in preset.toolTip()
    preset.setCurrentText("lung")  # the fields show the preset's window
    assert (field(dialog, "Window min (HU)").text(), field(dialog, "Window max (HU)").text()) == ("-1350.0", "150.0")
    assert dialog.validate() == {"preset": "lung", "window_min": -1350.0, "window_max": 150.0}
    set_text(qtbot, field(dialog, "Window max (HU)"), "-2000")  # below window min: only custom uses them
    assert dialog.validate() == {"preset": "lung", "window_min": -1350.0, "window_max": -2000.0}

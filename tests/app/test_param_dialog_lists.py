"""The parameter dialog edits number lists (a voxel spacing, class ratios) by the rule ``mif --set`` uses."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLineEdit

from medical_imaging_framework.app.widgets.param_dialog import ParamDialog
from medical_imaging_framework.core import NodeRegistry
from tests.app.test_param_dialog import field
from tests.support.gui import set_text


def test_spacing_dialog_shows_refuses_and_takes_a_float_list(qtbot: Any, registry: NodeRegistry) -> None:
    dialog = ParamDialog(registry.create("transforms.Spacing", pixdim=[0.8, 0.8, 2.5]))
    qtbot.addWidget(dialog)
    pixdim = field(dialog, "Voxel spacing (mm)")
    assert isinstance(pixdim, QLineEdit) and pixdim.text() == "0.8, 0.8, 2.5"
    for bad in ("1.5, 0, 2", "1.5, abc", ""):
        set_text(qtbot, pixdim, bad)
        assert dialog.validate() is None
        assert "must be a comma-separated list of numbers above 0" in dialog.error_text("pixdim")
        assert f"(got '{bad}')" in dialog.error_text("pixdim")
    set_text(qtbot, pixdim, "1.5,1.5, 3")
    assert dialog.validate() == {"pixdim": [1.5, 1.5, 3.0]}


def test_class_ratios_may_be_left_empty(qtbot: Any, registry: NodeRegistry) -> None:
    dialog = ParamDialog(registry.create("transforms.RandCropByLabelClasses"))
    qtbot.addWidget(dialog)
    ratios = field(dialog, "Class ratios")
    assert ratios.text() == "" and "(or empty)" in ratios.placeholderText()
    assert dialog.validate()["ratios"] == []
    set_text(qtbot, ratios, "1, 2, 2")
    assert dialog.validate()["ratios"] == [1.0, 2.0, 2.0]

"""The image viewer draws each class of a multi-class label or prediction in its own colour, named.

Issue 19 point 5: class names (dataset.json 'labels') appear in the viewer; classes share the report's colours.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from medical_imaging_framework.app.widgets.image_view import ImageViewer, class_rgb


def test_each_class_has_its_colour_and_name(qtbot: Any, tmp_path: Path) -> None:
    viewer = ImageViewer()
    qtbot.addWidget(viewer)
    viewer.resize(360, 360)
    viewer.show()
    image = np.zeros((1, 16, 16, 4), np.float32)
    label = np.zeros((1, 16, 16, 4), np.float32)
    label[0, 2:8, 2:8, :] = 1
    label[0, 10:14, 10:14, :] = 2
    viewer.overlay_choice.setCurrentText("Label")
    viewer.show_sample(image, label=label, title="sample", class_names=("background", "liver", "liver lesion"))
    assert viewer.caption.text() == ('sample — <span style="color:#1f77b4">■</span> 1 liver, '
                                     '<span style="color:#ff7f0e">■</span> 2 liver lesion')
    overlay = viewer.overlay_item.image
    assert tuple(overlay[4, 4, :3]) == class_rgb(1) and tuple(overlay[12, 12, :3]) == class_rgb(2)
    assert class_rgb(1) != class_rgb(2) and overlay[0, 0, 3] == 0
    viewer.grab().save(str(tmp_path / "viewer.png"))
    binary = np.zeros((1, 16, 16), np.float32)
    binary[0, 2:8, 2:8] = 1
    viewer.show_sample(binary, label=binary, title="binary")
    assert viewer.caption.text() == "binary", "a binary mask keeps its one overlay colour and no legend"


def test_the_legend_shows_each_colour_not_its_hex_code(qtbot: Any) -> None:
    """A reader sees a square of each class's colour before its name; '(#1f77b4)' told no one which is which."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QTextDocument

    viewer = ImageViewer()
    qtbot.addWidget(viewer)
    label = np.zeros((1, 16, 16), np.float32)
    label[0, 2:8, 2:8], label[0, 10:14, 10:14] = 1, 3
    viewer.show_sample(np.zeros((1, 16, 16), np.float32), label=label, title="case <1> & co",
                       class_names=("background", "liver"))
    assert viewer.caption.textFormat() == Qt.TextFormat.RichText
    shown = QTextDocument()
    shown.setHtml(viewer.caption.text())
    assert shown.toPlainText() == "case <1> & co — ■ 1 liver, ■ 3 class 3"  # the title shown as written
    for value in (1, 3):
        colour = "#" + "".join(f"{part:02x}" for part in class_rgb(value))
        assert f'<span style="color:{colour}">■</span>' in viewer.caption.text()
    viewer.show_sample(np.zeros((1, 16, 16), np.float32), title="a <b>plain</b> title")
    assert viewer.caption.textFormat() == Qt.TextFormat.PlainText
    assert viewer.caption.text() == "a <b>plain</b> title"

"""One evaluated case: its image with the label (class-coloured outlines) and the prediction (class-coloured
fill) over it, an opacity slider, and a slice slider for 3D (pyqtgraph ImageItems in one ViewBox).

The label is drawn as outlines and the prediction filled, both in the class colours the report and the
Image View use, so where they disagree is seen at once on the same picture (ITK-SNAP and most papers show a
reference segmentation the same way).
"""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from medical_imaging_framework.app.widgets.case_summary import CaseSummary, summarize
from medical_imaging_framework.app.widgets.case_table import EMPTY_TEXT
from medical_imaging_framework.app.widgets.image_view import class_rgb, layered_image_view


def class_rgba(classes: np.ndarray, outline: bool = False) -> np.ndarray:
    """An RGBA picture of a 2D class map: each class > 0 in its colour, background transparent.

    Args:
        classes: class indices (H, W).
        outline: draw only each class region's border (pixels with a neighbour of another class).
    """
    from scipy.ndimage import binary_erosion  # scipy comes with MONAI; the border of each class region

    rgba = np.zeros((*classes.shape, 4), dtype=np.uint8)
    for value in np.unique(classes):
        if value <= 0:
            continue
        mask = classes == value
        if outline:
            mask &= ~binary_erosion(mask, border_value=0)
        rgba[mask] = (*class_rgb(int(value)), 255)
    return rgba


class CaseView(QWidget):
    """Shows one case (`show_case`); the overlays follow the checkboxes, the opacity and the slice sliders.

    Args:
        parent: owning widget.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("case_view")
        self.caption = QLabel(EMPTY_TEXT)
        self.caption.setWordWrap(True)
        self.view, self.box, (self.image_item, self.prediction_item, self.label_item) = layered_image_view(3)
        self.show_label = QCheckBox("label (outline)")
        self.show_label.setObjectName("case_show_label")
        self.show_prediction = QCheckBox("prediction (fill)")
        self.show_prediction.setObjectName("case_show_prediction")
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setObjectName("case_opacity")
        self.opacity.setRange(0, 100)
        self.opacity.setValue(35)  # a light fill: the solid outline of the label stays clear over it
        self.opacity.setToolTip("Opacity of the prediction's fill (the label's outline stays opaque)")
        self.slice_slider = QSlider(Qt.Orientation.Horizontal)
        self.slice_slider.setObjectName("case_slice_slider")
        self.slice_label = QLabel("slice")
        controls = QHBoxLayout()
        for widget in (self.show_label, self.show_prediction, QLabel("opacity"), self.opacity):
            controls.addWidget(widget)
        slices = QHBoxLayout()
        slices.addWidget(self.slice_label)
        slices.addWidget(self.slice_slider, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.caption)
        layout.addWidget(self.view, 1)
        layout.addLayout(controls)
        layout.addLayout(slices)
        self.image: np.ndarray | None = None
        self.label: np.ndarray | None = None
        self.prediction: np.ndarray | None = None
        for box in (self.show_label, self.show_prediction):
            box.setChecked(True)
            box.toggled.connect(self.refresh)
        self.opacity.valueChanged.connect(self.refresh)
        self.slice_slider.valueChanged.connect(self.refresh)
        self._show_slices(False)

    def _show_slices(self, visible: bool) -> None:
        self.slice_slider.setVisible(visible)
        self.slice_label.setVisible(visible)

    def show_case(self, name: str, image: np.ndarray | None, label: np.ndarray, prediction: np.ndarray,
                  class_names: tuple[str, ...] = (), note: str = "", summary: CaseSummary | None = None) -> None:
        """Display one case; arrays are spatial, (H, W) or (H, W, D) (slices along the last axis).

        A 3D case opens at the slice where its label (else its prediction) has the most foreground.

        Args:
            name: the case, for the caption.
            image: the image (None: the maps are drawn on black).
            label: the reference class map.
            prediction: the predicted class map (same shape).
            class_names: names of the classes, background first.
            note: a word on the case after its shape (e.g. which grid).
            summary: the case's classes and opening slice, worked out off the GUI thread (else here, `summarize`).
        """
        summary = summary if summary is not None else summarize(label, prediction)
        self.label, self.prediction = label, prediction
        self.image = image if image is not None else np.zeros(label.shape, np.float32)
        volume = label.ndim == 3
        self._show_slices(volume)
        if volume:
            self.slice_slider.blockSignals(True)
            self.slice_slider.setRange(0, label.shape[2] - 1)
            self.slice_slider.setValue(summary.start_slice)
            self.slice_slider.blockSignals(False)
        present = summary.classes
        legend = ", ".join(f'<span style="color:#{"".join(f"{c:02x}" for c in class_rgb(v))}">■</span> '
                           + html.escape(class_names[v] if v < len(class_names) else f"class {v}") for v in present)
        shape = "×".join(str(size) for size in label.shape)
        details = ", ".join([shape, *([note] if note else []), *([] if image is not None else ["no image"])])
        self.caption.setTextFormat(Qt.TextFormat.RichText)
        text = f"<b>{html.escape(name)}</b> ({html.escape(details)})"
        self.caption.setText(text + (f" — {legend}" if legend else ""))
        self.refresh()
        self.box.autoRange()

    def say(self, text: str) -> None:
        """Put ``text`` in the caption; the case shown stays (a newer one is being read)."""
        self.caption.setTextFormat(Qt.TextFormat.PlainText)
        self.caption.setText(text)

    def show_message(self, text: str) -> None:
        """Show only ``text`` (no case: none selected, or its arrays are not here)."""
        self.image = self.label = self.prediction = None
        for item in (self.image_item, self.prediction_item, self.label_item):
            item.clear()
        self._show_slices(False)
        self.caption.setTextFormat(Qt.TextFormat.PlainText)
        self.caption.setText(text)

    def plane(self, array: np.ndarray) -> np.ndarray:
        """The slice shown of ``array`` (a 2D array is its own slice)."""
        return array[..., self.slice_slider.value()] if array.ndim == 3 else array

    def refresh(self) -> None:
        """Redraw the slice shown with the overlays chosen."""
        if self.image is None or self.label is None or self.prediction is None:
            return
        self.image_item.setImage(self.plane(self.image), autoLevels=True)
        if self.label.ndim == 3:
            self.slice_label.setText(f"slice {self.slice_slider.value() + 1} of {self.label.shape[2]}")
        layers = ((self.prediction_item, self.prediction, self.show_prediction, False),
                  (self.label_item, self.label, self.show_label, True))
        for item, maps, box, outline in layers:
            if box.isChecked():
                item.setImage(class_rgba(self.plane(maps), outline), autoLevels=False, levels=(0, 255))
            else:
                item.clear()
        self.prediction_item.setOpacity(self.opacity.value() / 100.0)

"""The image view dock: a sample image with its label or prediction overlaid (pyqtgraph)."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

OVERLAY_COLOURS = {"Label": (255, 60, 60), "Prediction": (60, 220, 90)}


def class_rgb(value: int) -> tuple[int, int, int]:
    """Class ``value``'s overlay colour: the report's colour for it (`report_figures.class_colour`).

    Args:
        value: the class index (1, 2, ...).
    """
    from medical_imaging_framework.tools.report_figures import class_colour

    colour = class_colour(value)
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def to_numpy(value: Any) -> np.ndarray | None:
    """A numpy array from a tensor or array (None stays None)."""
    if value is None:
        return None
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float32)


def first_channel(array: np.ndarray) -> np.ndarray:
    """(C, *spatial) -> spatial (channel 0); a plain 2-D/3-D array is returned as is."""
    return array[0] if array.ndim in (3, 4) and array.shape[0] <= 4 else array


def as_classes(array: np.ndarray) -> np.ndarray | None:
    """The array as a map of class indices when it holds whole numbers beyond 0/1 (several classes), else None.

    Args:
        array: a label or prediction (spatial).
    """
    if array.dtype == bool or array.size == 0:
        return None
    values = np.unique(array)
    if values.max() <= 1 or values.min() < 0 or not np.all(values == np.round(values)):
        return None
    return array.astype(np.int64)


def as_mask(array: np.ndarray) -> np.ndarray:
    """A boolean mask: values in [0, 1] are thresholded at 0.5, logits at 0."""
    if array.dtype == bool:
        return array
    threshold = 0.5 if array.min() >= 0.0 and array.max() <= 1.0 else 0.0
    return array > threshold


EMPTY_CAPTION = "Run the pipeline, then select a data node to see a sample."


def layered_image_view(layers: int) -> tuple[pg.GraphicsLayoutWidget, pg.ViewBox, list[pg.ImageItem]]:
    """A pyqtgraph view with one aspect-locked box (rows downward) holding ``layers`` stacked image items.

    Args:
        layers: how many image items, bottom first (the image, then its overlays).
    """
    view = pg.GraphicsLayoutWidget()
    box = view.addViewBox(lockAspect=True, invertY=True)
    items = [pg.ImageItem(axisOrder="row-major") for _ in range(layers)]
    for item in items:
        box.addItem(item)
    return view, box, items


class ImageViewer(QWidget):
    """Shows one sample: image, label/prediction overlay with adjustable opacity, slice slider for 3D."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("image_viewer")
        self.caption = QLabel(EMPTY_CAPTION)
        self.caption.setWordWrap(True)
        self.view, self.box, (self.image_item, self.overlay_item) = layered_image_view(2)
        self.overlay_choice = QComboBox()
        self.overlay_choice.setObjectName("overlay_choice")
        self.overlay_choice.addItems(["Label", "Prediction", "None"])
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setObjectName("overlay_opacity")
        self.opacity.setRange(0, 100)
        self.opacity.setValue(45)
        self.slice_slider = QSlider(Qt.Orientation.Horizontal)
        self.slice_slider.setObjectName("slice_slider")
        self.slice_label = QLabel("slice")
        controls = QHBoxLayout()
        controls.addWidget(QLabel("overlay"))
        controls.addWidget(self.overlay_choice)
        controls.addWidget(QLabel("opacity"))
        controls.addWidget(self.opacity)
        slices = QHBoxLayout()
        slices.addWidget(self.slice_label)
        slices.addWidget(self.slice_slider)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.caption)
        layout.addWidget(self.view, 1)
        layout.addLayout(controls)
        layout.addLayout(slices)
        self.image: np.ndarray | None = None
        self.masks: dict[str, np.ndarray | None] = {"Label": None, "Prediction": None}
        self.classes: dict[str, np.ndarray | None] = {"Label": None, "Prediction": None}
        self.class_names: tuple[str, ...] = ()
        self.overlay_choice.currentTextChanged.connect(self.refresh)
        self.opacity.valueChanged.connect(self.refresh)
        self.slice_slider.valueChanged.connect(self.refresh)
        self._show_slices(False)

    def _show_slices(self, visible: bool) -> None:
        self.slice_slider.setVisible(visible)
        self.slice_label.setVisible(visible)

    def show_sample(self, image: Any, label: Any = None, prediction: Any = None, title: str = "",
                    class_names: tuple[str, ...] | list[str] = ()) -> None:
        """Display a sample; arrays are (C, *spatial) numpy arrays or tensors.

        A label or prediction holding several classes is drawn one colour per class (the report's colours),
        and the caption names each class with its colour.

        Args:
            image: the image.
            label: the ground-truth mask, if any.
            prediction: the model output (probabilities or logits), if any.
            title: caption text.
            class_names: names of the classes, background first (when the data names them).
        """
        if image is None:
            image = prediction if prediction is not None else label
        if image is None:
            return
        self.image = first_channel(to_numpy(image))
        self.masks, self.classes = {}, {}
        for key, value in (("Label", label), ("Prediction", prediction)):
            array = None if value is None else first_channel(to_numpy(value))
            self.classes[key] = None if array is None else as_classes(array)
            self.masks[key] = None if array is None else as_mask(array)
        self.class_names = tuple(class_names)
        if self.masks["Prediction"] is not None and self.overlay_choice.currentText() == "Label":
            self.overlay_choice.setCurrentText("Prediction")
        is_volume = self.image.ndim == 3
        self._show_slices(is_volume)
        if is_volume:
            self.slice_slider.blockSignals(True)
            self.slice_slider.setRange(0, self.image.shape[-1] - 1)
            self.slice_slider.setValue(self.image.shape[-1] // 2)
            self.slice_slider.blockSignals(False)
        title = title or f"image {tuple(self.image.shape)}"
        legend = self._legend()
        # the legend is rich text (a square of each class's colour); the title, escaped, reads as written
        self.caption.setTextFormat(Qt.TextFormat.RichText if legend else Qt.TextFormat.PlainText)
        self.caption.setText(html.escape(title) + legend if legend else title)
        self.refresh()
        self.box.autoRange()

    def _legend(self) -> str:
        """`` — ■ 1 liver, ■ 2 lesion`` (HTML, each square in its class's colour) for multi-class maps, else ""."""
        from medical_imaging_framework.tools.report_figures import class_colour

        present = sorted({int(v) for maps in self.classes.values() if maps is not None for v in np.unique(maps)} - {0})
        if not present:
            return ""
        names = [f'<span style="color:{class_colour(v)}">■</span> {v} '
                 f"{html.escape(self.class_names[v] if v < len(self.class_names) else f'class {v}')}"
                 for v in present]
        return " — " + ", ".join(names)

    def clear(self) -> None:
        """Show nothing (another pipeline was opened)."""
        self.image = None
        self.masks = {"Label": None, "Prediction": None}
        self.classes = {"Label": None, "Prediction": None}
        self.image_item.clear()
        self.overlay_item.clear()
        self._show_slices(False)
        self.caption.setText(EMPTY_CAPTION)

    def _plane(self, array: np.ndarray) -> np.ndarray:
        return array[..., self.slice_slider.value()] if array.ndim == 3 else array

    def refresh(self) -> None:
        """Redraw with the current slice, overlay choice and opacity."""
        if self.image is None:
            return
        self.image_item.setImage(self._plane(self.image), autoLevels=True)
        choice = self.overlay_choice.currentText()
        mask = self.masks.get(choice)
        if mask is None:
            self.overlay_item.clear()
            return
        plane = self._plane(mask)
        rgba = np.zeros((*plane.shape, 4), dtype=np.uint8)
        classes = self.classes.get(choice)
        if classes is None:
            rgba[plane] = (*OVERLAY_COLOURS[choice], 255)
        else:  # several classes: each its own colour
            class_plane = self._plane(classes)
            for value in np.unique(class_plane):
                if value > 0:
                    rgba[class_plane == value] = (*class_rgb(int(value)), 255)
        self.overlay_item.setImage(rgba, autoLevels=False, levels=(0, 255))
        self.overlay_item.setOpacity(self.opacity.value() / 100.0)

"""Panels built after the window's first paint: the loss plot and the image view need pyqtgraph (and numpy),
a third of what the editor imports before it can show itself (``python -X importtime``, bench/startup.py).

A `DeferredWidget` stands in the panel's dock from the start and builds the real widget into itself when the
window has painted (the window calls `build`), or earlier the first time anything of it is asked for:
``window.loss_plot.add_epoch(...)`` reaches the real `LossPlot`, built then if need be. Qt has no lazy
widget of its own, hence this small proxy. Emptying calls (``reset``, ``clear``) before the build do nothing:
the real widget starts empty.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget


class DeferredWidget(QWidget):
    """A container that builds its one child with ``factory`` on first use; other attributes reach the child.

    Args:
        factory: makes the real widget (imports its heavy modules itself).
        hint: the size the dock layout gives the panel before it is built (the real widget's own hint after).
        empties: methods that empty the panel: no-ops before the build, which makes an empty panel anyway.
        parent: owning widget.
    """

    def __init__(self, factory: Callable[[], QWidget], hint: QSize, empties: tuple[str, ...] = (),
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._factory, self._hint, self._empties = factory, hint, empties
        self._real: QWidget | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

    @property
    def built(self) -> bool:
        """Whether the real widget exists yet."""
        return self._real is not None

    def build(self) -> QWidget:
        """The real widget, made and laid into this container on the first call."""
        if self._real is None:
            self._real = self._factory()
            self.layout().addWidget(self._real)
        return self._real

    def sizeHint(self) -> QSize:
        return self._real.sizeHint() if self._real is not None else self._hint

    def __getattr__(self, name: str) -> Any:
        # only names the container lacks arrive here: the panel's own methods and fields
        if name.startswith("_"):
            raise AttributeError(name)
        if self._real is None and name in self._empties:
            return _nothing
        return getattr(self.build(), name)


def _nothing(*_args: Any, **_kwargs: Any) -> None:
    """An emptying call on a panel not built yet."""


class PendingArea(QWidget):
    """Where a widget made after the window's first paint goes (the canvas, the palette): until `hold` puts it in,
    the area paints ``background`` and a grey ``caption``, so the first frame already has the window's shape and
    colours. Qt's layouts have no placeholder of their own.

    Args:
        background: the colour of the widget to come (None: the window's own).
        caption: a line centred in the empty area ("" for none).
        parent: owning widget.
    """

    def __init__(self, background: QColor | None = None, caption: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.background, self.caption = background, caption
        self.held: QWidget | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

    def hold(self, widget: QWidget) -> None:
        """Put ``widget`` in the area (once), laid out at once so it has its size before it first paints.

        Args:
            widget: the widget the area waited for.
        """
        if self.held is not None:
            raise RuntimeError("the area holds its widget already")
        self.held = widget
        self.layout().addWidget(widget)
        widget.show()  # a layout shows a new child of a visible widget only from the event loop
        self.layout().activate()
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        if self.held is not None:
            return
        painter = QPainter(self)
        if self.background is not None:
            painter.fillRect(self.rect(), self.background)
        if self.caption:
            painter.setPen(QColor(150, 150, 150))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.caption)


# The modules of the panels built after the paint: `mif gui` imports them on its background import thread, before
# torch, so the GUI thread only builds the widgets (importing pyqtgraph and numpy there froze the new window).
PANEL_MODULES = (
    "medical_imaging_framework.app.widgets.loss_plot",
    "medical_imaging_framework.app.widgets.image_view",
    "medical_imaging_framework.app.widgets.case_view",
)


def make_loss_plot() -> QWidget:
    """The loss plot (imports pyqtgraph)."""
    from medical_imaging_framework.app.widgets.loss_plot import LossPlot

    return LossPlot()


def make_image_viewer() -> QWidget:
    """The image view (imports pyqtgraph and numpy)."""
    from medical_imaging_framework.app.widgets.image_view import ImageViewer

    return ImageViewer()


def deferred_panels() -> tuple[DeferredWidget, DeferredWidget]:
    """The loss plot and the image view, each built on first use (`DeferredWidget`)."""
    return (DeferredWidget(make_loss_plot, QSize(400, 250), ("reset",)),
            DeferredWidget(make_image_viewer, QSize(400, 300), ("clear",)))


__all__ = ["PANEL_MODULES", "DeferredWidget", "PendingArea", "deferred_panels", "make_image_viewer", "make_loss_plot"]

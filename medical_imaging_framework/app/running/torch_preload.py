"""PyTorch and MONAI load in the background once the editor is on screen; a Run pressed before waits for them.

The palette, the canvas and validation need only the node specs, which are torch-free (see
docs/architecture.md), so the window is built and painted first. After its first paint `TorchPreload`
imports torch, MONAI and the node implementation modules on a daemon thread (the GUI-thread garbage
collection guard of `gui_gc` held meanwhile). `QueuedRun` holds a Run pressed while that import is still
going and starts it when the import has finished, so the GUI thread never blocks on torch's import lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QStatusBar, QWidget

from medical_imaging_framework.app.qt.gc_guard import collector

LOADING_TEXT = "Loading PyTorch… the run starts when it is ready (Stop cancels it)"
CANCELLED_TEXT = "Run cancelled before it started (PyTorch was still loading)"
# Start the preload anyway this long after the window was shown, should no paint ever be seen.
FIRST_PAINT_FALLBACK_MS = 3000


class TorchPreload(QObject):
    """The one background import of torch and the modules a run needs; `finished` fires on the GUI thread.

    Args:
        parent: owning QObject.
    """

    finished = Signal()
    first_imported = Signal()  # the modules `start` was given to import first are in (before torch)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thread: threading.Thread | None = None

    @property
    def pending(self) -> bool:
        """Whether the import was started and is still going."""
        return self.thread is not None and self.thread.is_alive()

    def start(self, first: tuple[str, ...] = ()) -> None:
        """Start the import thread (once; later calls do nothing).

        Args:
            first: modules to import before torch (the window's plot panels); `first_imported` says when.
        """
        if self.thread is not None:
            return
        from medical_imaging_framework.app.running import (
            controller as run_controller,  # looked up now, so tests can replace it
        )

        self.thread = run_controller.preload_in_background(first, self.first_imported.emit)
        # only the GUI thread collects garbage while the thread imports (see gui_gc)
        collector().watch(self.thread, on_end=self.finished.emit)


_PRELOAD: TorchPreload | None = None


def torch_preload() -> TorchPreload:
    """The process's one `TorchPreload`."""
    global _PRELOAD
    if _PRELOAD is None:
        _PRELOAD = TorchPreload()
    return _PRELOAD


class _FirstPaint(QObject):
    """Calls ``callback`` once, from the event loop, after ``window`` first paints (or after a fallback delay).

    Until the window is shown it filters the window's own events only; from its Show event on, every object's
    (an application event filter), to see the first paint of whichever widget paints first. An application
    filter installed earlier would run Python for each of the thousands of events the window's construction
    sends (a tenth of the CPU before the first paint). Owned by the window, so neither it nor its timer
    outlives the window.
    """

    def __init__(self, window: QWidget, callback: Callable[[], None]) -> None:
        super().__init__(window)
        self.window, self.callback = window, callback
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self._fire)
        self.timer.start(FIRST_PAINT_FALLBACK_MS)
        self.watching_all = False
        if window.isVisible():
            self._watch_all()
        else:
            window.installEventFilter(self)

    def _watch_all(self) -> None:
        self.window.removeEventFilter(self)
        app = QCoreApplication.instance()
        if app is not None:
            app.installEventFilter(self)
            self.watching_all = True

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if not self.watching_all:
            if kind == QEvent.Type.Show:
                self._watch_all()
        elif kind == QEvent.Type.Paint and isinstance(watched, QWidget) and watched.window() == self.window:
            self._stop_watching()
            self.timer.start(0)  # after this paint has finished
        return False

    def _stop_watching(self) -> None:
        self.window.removeEventFilter(self)
        app = QCoreApplication.instance()
        if app is not None:
            app.removeEventFilter(self)

    def _fire(self) -> None:
        self._stop_watching()
        self.callback()


def after_first_paint(window: QWidget, callback: Callable[[], None]) -> None:
    """Call ``callback`` once ``window`` (or a widget in it) has painted for the first time.

    Call it before ``window.show()``. Should no paint be seen, ``callback`` runs after
    `FIRST_PAINT_FALLBACK_MS`; it never runs once the window is gone.

    Args:
        window: the top-level window about to be shown.
        callback: what to start once the user sees the window.
    """
    if QCoreApplication.instance() is None:
        raise RuntimeError("after_first_paint needs a QApplication")
    _FirstPaint(window, callback)


class QueuedRun(QObject):
    """A Run pressed while the preload is pending: ``start`` is called again once the preload has finished.

    While a run is held, Run is off, Stop is on and the status bar says PyTorch is loading; `cancel` (Stop)
    drops it.

    Args:
        start: what Run does (called again, on the GUI thread, when torch is ready).
        preload: the background import to wait for.
        run_action: the window's Run action.
        stop_action: the window's Stop action.
        status: the window's status bar.
    """

    def __init__(
        self, start: Callable[[], object], preload: TorchPreload, run_action: QAction, stop_action: QAction,
        status: QStatusBar,
    ) -> None:
        super().__init__(status)
        self._start, self.preload = start, preload
        self.run_action, self.stop_action, self.status = run_action, stop_action, status
        self.active = False
        preload.finished.connect(self._on_loaded)

    def queue(self) -> bool:
        """Hold the run if the preload is still going; False (nothing held) when torch is ready."""
        if not self.preload.pending:
            return False
        self.active = True
        self.run_action.setEnabled(False)
        self.stop_action.setEnabled(True)
        self.status.showMessage(LOADING_TEXT)
        return True

    def cancel(self, say_so: bool = False) -> bool:
        """Drop a held run; whether there was one.

        Args:
            say_so: tell the status bar the run was cancelled (Stop pressed).
        """
        was_active, self.active = self.active, False
        if was_active:
            self.run_action.setEnabled(True)
            self.stop_action.setEnabled(False)
            if say_so:
                self.status.showMessage(CANCELLED_TEXT, 10000)
        return was_active

    def _on_loaded(self) -> None:
        if self.cancel():
            self._start()

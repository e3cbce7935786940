"""Python's cyclic garbage collector runs on the GUI thread only while a worker thread runs Python code.

The collector runs on whichever thread happens to allocate when a generation's threshold is crossed. A
run thread importing torch or training allocates the most, so it is usually that thread which collects,
and a collection frees every unreachable cycle, including the wrappers of Qt widgets the editor left
behind (a closed window, a dialog, canvas items). Destroying a QWidget off the GUI thread is forbidden in
Qt: PySide then blocks on the GIL inside ``~QObject`` (a deadlock seen in the tests) or aborts in the GUI
thread's own collection (issue 8). So while any worker runs, automatic collection is off and a timer on the
GUI thread collects instead (`ThresholdCollector`); after the last worker ends, automatic collection is back on
as before.

The timer is ours rather than pyqtgraph's `GarbageCollector`, made for exactly this (the same dozen lines):
importing pyqtgraph for it put pyqtgraph's and numpy's import (a second of a busy machine) on the GUI thread
the moment the background import of torch started, right after the window's first paint.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QThread, QTimer

# How often the GUI thread looks at the allocation counts while a worker runs (it collects only when a
# generation is over its threshold, as the automatic collector would).
COLLECT_INTERVAL_S = 0.2
# How often the GUI thread checks whether a plain Python thread it watches has ended.
WATCH_INTERVAL_MS = 100


class ThresholdCollector:
    """Collects on the GUI thread from a timer, each generation only once its count is over gc's threshold (what
    the automatic collector would do at that allocation).

    Args:
        interval_s: how often the counts are looked at (the timer is started by the caller).
    """

    def __init__(self, interval_s: float) -> None:
        self.thresholds = gc.get_threshold()
        self.timer = QTimer()
        self.timer.setInterval(int(interval_s * 1000))
        self.timer.timeout.connect(self.check)

    def check(self) -> None:
        """Collect the generations whose allocation counts are over their thresholds (the youngest first)."""
        counts = gc.get_count()
        for generation in range(3):
            if counts[generation] <= self.thresholds[generation]:
                return
            gc.collect(generation)


class GuiThreadCollector:
    """Counts the workers running; while there is one, collections happen on the GUI thread only.

    Use one per process: `collector()`. Call `hold`/`release` on the GUI thread.
    """

    def __init__(self) -> None:
        self._holds = 0
        self._was_enabled = True
        self._collector: ThresholdCollector | None = None  # made on the first hold

    @property
    def active(self) -> bool:
        """Whether automatic collection is suspended (a worker is running)."""
        return self._holds > 0

    def hold(self) -> None:
        """A worker starts: from now on only the GUI thread collects."""
        _require_gui_thread()
        self._holds += 1
        if self._holds > 1:
            return
        self._was_enabled = gc.isenabled()
        if self._collector is None:
            self._collector = ThresholdCollector(COLLECT_INTERVAL_S)
        gc.disable()
        self._collector.timer.start()

    def release(self) -> None:
        """A worker has ended; the last one to end turns automatic collection back on."""
        _require_gui_thread()
        if self._holds == 0:
            return
        self._holds -= 1
        if self._holds:
            return
        if self._collector is not None:
            self._collector.timer.stop()
        if self._was_enabled:
            gc.enable()

    def watch(self, thread: threading.Thread, on_end: Callable[[], None] | None = None) -> None:
        """`hold` until the Python ``thread`` has ended (checked from a GUI-thread timer).

        Args:
            thread: a started thread.
            on_end: called on the GUI thread once it has ended.
        """
        self.hold()

        def check() -> None:
            if thread.is_alive():
                QTimer.singleShot(WATCH_INTERVAL_MS, check)
                return
            self.release()
            if on_end is not None:
                on_end()

        QTimer.singleShot(WATCH_INTERVAL_MS, check)


def _require_gui_thread() -> None:
    app = QCoreApplication.instance()
    if app is None or QThread.currentThread() is not app.thread():
        raise RuntimeError("the garbage collection guard is used from the GUI thread only")


_COLLECTOR: GuiThreadCollector | None = None


def collector() -> GuiThreadCollector:
    """The process's one `GuiThreadCollector`."""
    global _COLLECTOR
    if _COLLECTOR is None:
        _COLLECTOR = GuiThreadCollector()
    return _COLLECTOR

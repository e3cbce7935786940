"""The GUI-thread garbage collector (app/qt/gc_guard.py): collects a generation only over its threshold, and
holding it imports no pyqtgraph (issue 23: that import froze the new window right after its first paint)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import weakref
from typing import Any

from medical_imaging_framework.app.qt.gc_guard import ThresholdCollector


class Cycle:
    """An object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


def _garbage_cycle() -> weakref.ref[Cycle]:
    return weakref.ref(Cycle())


def test_a_generation_is_collected_only_once_its_count_is_over_its_threshold(qtbot: Any) -> None:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        collector = ThresholdCollector(0.2)
        collector.thresholds = (10**9, 10**9, 10**9)
        alive = _garbage_cycle()
        collector.check()
        assert alive() is not None, "under the threshold: nothing collected"
        collector.thresholds = (0, 10**9, 10**9)
        collector.check()
        assert alive() is None, "over generation 0's threshold: collected"
    finally:
        if was_enabled:
            gc.enable()


HOLD = """
import gc, sys
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
from medical_imaging_framework.app.qt.gc_guard import collector
collector().hold()
print(gc.isenabled(), collector()._collector.timer.isActive(), "pyqtgraph" in sys.modules, "numpy" in sys.modules)
"""


def test_holding_the_collector_turns_automatic_collection_off_and_imports_no_pyqtgraph() -> None:
    done = subprocess.run([sys.executable, "-c", HOLD], capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False", "True", "False", "False"]

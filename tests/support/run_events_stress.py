"""Stress script for issue 8, run in its own process by tests/app/test_qt_runtime.py.

A real `RunController` runs a one-node pipeline whose node emits EVENTS log lines (each one a Qt signal
from the run thread, re-emitted on the GUI thread) while a timer on the GUI thread forces garbage
collections. Exit 0 and "delivered N" when every event arrived (after "true-references R": ``True``'s
references once the run thread has imported torch); a binding that miscounts references on
emit aborts the process instead (more emits than ``True`` has references).

With ``--widgets`` the GUI thread also leaves QWidget wrappers in reference cycles while the run thread
allocates; every one must be destroyed on the GUI thread (a widget destroyed on the run thread deadlocks
or aborts the process). It prints "widgets N off-gui-thread M".

usage: python -m tests.support.run_events_stress EVENTS [--widgets]
"""

from __future__ import annotations

import faulthandler
import gc
import os
import sys
import threading
import time
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main(events: int, widgets: bool = False) -> int:
    faulthandler.enable()
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QWidget

    destroyed_on: list[str] = []
    true_references: list[int] = []

    class CyclicWidget(QWidget):
        """A widget only the cyclic collector can free; it records the thread that frees it."""

        def __init__(self) -> None:
            super().__init__()
            self.me = self

        def __del__(self) -> None:
            destroyed_on.append(threading.current_thread().name)

    from medical_imaging_framework.app.running.controller import RunController
    from medical_imaging_framework.core import Graph, NodeRegistry, NodeSpec

    def chatter(ctx: Any, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
        import torch  # noqa: F401  (as a real run's first node does: seconds of allocation in the run thread)

        true_references.append(sys.getrefcount(True))  # what a miscounting binding's emits must exceed to abort

        garbage = []
        for number in range(events):
            ctx.log(f"line {number}")
            node = {"number": number}
            node["self"] = node  # a cycle: only the collector frees it
            garbage.append(node)
            if len(garbage) > 100:
                garbage.clear()
        return {}

    app = QApplication.instance() or QApplication([])
    registry = NodeRegistry(discover=False)
    registry.register(NodeSpec("test.Chatter", "Chatter", "Test", chatter))
    graph = Graph("stress")
    graph.add_node(registry.create("test.Chatter", "chatter"))
    runner = RunController(registry)
    delivered = []
    runner.event.connect(lambda event: delivered.append(1))
    ticks = [0]

    def collect() -> None:  # young generations every tick, everything now and then
        ticks[0] += 1
        gc.collect(2 if ticks[0] % 100 == 0 else 0)

    collector = QTimer()
    collector.timeout.connect(collect if not widgets else lambda: CyclicWidget())
    collector.start(1)
    runner.start(graph)
    deadline = time.monotonic() + 300
    while runner.running and time.monotonic() < deadline:
        app.processEvents()
    collector.stop()
    finished = not runner.running
    runner.shutdown()
    gc.collect()
    off_gui = sum(name != "MainThread" for name in destroyed_on)
    print(f"widgets {len(destroyed_on)} off-gui-thread {off_gui}")
    print(f"finished {finished} status {getattr(runner.last_result, 'status', None)} "
          f"true-references {max(true_references, default=0)} delivered {len(delivered)}")
    return 0 if finished else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), "--widgets" in sys.argv[2:]))

"""Stress script for issue 8, run in its own process by tests/app/test_qt_runtime.py.

A real `RunController` runs a one-node pipeline whose node emits EVENTS log lines (each one a Qt signal
from the run thread, re-emitted on the GUI thread) while a timer on the GUI thread forces garbage
collections. Exit 0 and "delivered N" when every event arrived; a binding that miscounts references on
emit aborts the process instead (more emits than ``True`` has references).

usage: python -m tests.app.run_events_stress EVENTS
"""

from __future__ import annotations

import faulthandler
import gc
import os
import sys
import time
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main(events: int) -> int:
    faulthandler.enable()
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from medical_imaging_framework.app.run_controller import RunController
    from medical_imaging_framework.core import Graph, NodeRegistry, NodeSpec

    def chatter(ctx: Any, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
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
    collector.timeout.connect(collect)
    collector.start(1)
    runner.start(graph)
    deadline = time.monotonic() + 300
    while runner.running and time.monotonic() < deadline:
        app.processEvents()
    collector.stop()
    finished = not runner.running
    runner.shutdown()
    print(f"finished {finished} status {getattr(runner.last_result, 'status', None)} delivered {len(delivered)}")
    return 0 if finished else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))

"""The run thread's priority step (`worker_priority`, off by default): it renices that thread only (Linux)."""

from __future__ import annotations

import os
import sys
import threading
from typing import Any, ClassVar

import pytest

from medical_imaging_framework.app.running import controller as run_controller
from medical_imaging_framework.app.running import worker_priority
from medical_imaging_framework.core import Graph, NodeRegistry
from medical_imaging_framework.run import session as run_session
from medical_imaging_framework.run.executor import RunResult
from medical_imaging_framework.run.status import RunStatus

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")


def nice_of(thread_id: int) -> int:
    """The nice value of one thread of this process (Linux: a thread id names one thread)."""
    return os.getpriority(os.PRIO_PROCESS, thread_id)


class RecordingSession:
    """Stands in for `RunSession`: runs nothing, records the priorities seen on the run thread."""

    seen: ClassVar[dict[str, int]] = {}

    def __init__(self, graph: Graph, registry: NodeRegistry, **options: Any) -> None:
        self.sink: Any = None
        self.in_child_processes = False

    def run_here(self) -> RunResult:
        seen = RecordingSession.seen
        seen["run thread"] = nice_of(threading.get_native_id())
        # a thread the run thread starts (as torch's OpenMP pool is started) inherits its nice value
        child = threading.Thread(target=lambda: seen.update(started=nice_of(threading.get_native_id())))
        child.start()
        child.join()
        return RunResult(status=RunStatus.DONE)

    def stop(self) -> None:
        """Nothing to stop."""


def test_the_run_thread_and_the_threads_it_starts_run_niced_while_the_gui_thread_does_not(
    qtbot: Any, registry: NodeRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    step = 5  # off by default (measured: see worker_priority); a step renices the run thread alone
    gui_nice = nice_of(threading.get_native_id())
    if gui_nice >= 19:
        pytest.skip("the test process already runs at the lowest priority")
    monkeypatch.setattr(worker_priority, "RUN_THREAD_NICE", step)
    monkeypatch.setattr(run_session, "RunSession", RecordingSession)  # RunController.start imports it then
    RecordingSession.seen = {}
    runner = run_controller.RunController(registry)
    with qtbot.waitSignal(runner.finished, timeout=20000):
        runner.start(Graph())
    expected = min(19, gui_nice + step)
    assert RecordingSession.seen == {"run thread": expected, "started": expected}
    assert nice_of(threading.get_native_id()) == gui_nice  # only that thread: the editor keeps its priority
    assert runner.last_result is not None and runner.last_result.status == RunStatus.DONE

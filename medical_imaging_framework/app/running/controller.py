"""Runs a pipeline from the editor through a `RunSession`: in a QThread (a QObject worker moved to the thread
re-emits each event as one Qt signal carrying the event object) or in child processes (`process_run`).
Widgets are only ever touched by slots on the GUI thread."""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

from medical_imaging_framework.app.qt.gc_guard import collector
from medical_imaging_framework.app.running import worker_priority
from medical_imaging_framework.core import Graph, NodeRegistry
from medical_imaging_framework.nodes import RUNTIME_MODULES
from medical_imaging_framework.run.cache import ResultCache, reused_nodes
from medical_imaging_framework.run.events import Event
from medical_imaging_framework.run.executor import RunResult
from medical_imaging_framework.run.status import RunStatus

if TYPE_CHECKING:  # imported by `start` (its recorder and launcher are not needed before the window paints)
    from medical_imaging_framework.run.session import RunSession

log = logging.getLogger(__name__)

# Modules a run needs: torch, MONAI and the node implementations (the node specs import none of them, so
# the window opens without them), then what torch imports on first use in a run: ``torch.optim`` imports
# ``torch._dynamo`` (and with it sympy) when the first optimizer is built, ~800 modules, seconds of
# GIL-holding work that would stall the GUI during the first run. `preload_in_background` imports them
# while the user is still editing (`torch_preload` starts it after the window's first paint).
FIRST_RUN_IMPORTS = (*RUNTIME_MODULES, "torch._dynamo")


def preload_in_background(first: tuple[str, ...] = (), first_done: Callable[[], None] | None = None,
                          ) -> threading.Thread:
    """Import ``first``, call ``first_done``, then import `FIRST_RUN_IMPORTS`, in a daemon thread; returns it.

    Args:
        first: modules wanted sooner (the window's plot panels).
        first_done: called on the import thread once ``first`` is imported (emit a Qt signal from it).
    """

    def import_all(names: tuple[str, ...]) -> None:
        for name in names:
            try:
                importlib.import_module(name)
            except Exception as error:  # only a warm-up: the run imports it again and reports problems
                log.debug("preloading %s failed: %s", name, error)

    def preload() -> None:
        import_all(first)
        if first_done is not None:
            first_done()
        import_all(FIRST_RUN_IMPORTS)

    thread = threading.Thread(target=preload, name="mif-preload", daemon=True)
    thread.start()
    return thread


class RunWorker(QObject):
    """Lives in the run thread; `run` executes the session there and re-emits its events as a Qt signal.

    Args:
        session: the run (its sink is set to this worker's signal).
    """

    event = Signal(object)
    summarized = Signal(object)  # {(node id, port): PortSummary}, before `done`
    done = Signal(object)

    def __init__(self, session: RunSession) -> None:
        super().__init__()
        self.session = session
        session.sink = self._emit

    def _emit(self, event: Event) -> None:
        self.event.emit(event)
        # hand the GIL over at once: the GUI thread is about to take this event off its queue, and would
        # otherwise wait for the interpreter's switch interval (and for this thread to be scheduled)
        time.sleep(0)

    @Slot()
    def run(self) -> None:
        """Execute the pipeline; emits `summarized` with its outputs' summaries (computed here, off the GUI
        thread), then `done` with the `RunResult` (also when a node fails)."""
        worker_priority.lower_this_thread_priority()  # this thread and the torch threads it starts (off by default)
        try:
            result = self.session.run_here()
        except Exception as error:  # the executor catches node failures; this guards the thread itself
            result = RunResult(status=RunStatus.FAILED, error=f"{type(error).__name__}: {error}")
        from medical_imaging_framework.tools.port_summary import summarize_outputs  # numpy: not before the paint

        self.summarized.emit(summarize_outputs(result.outputs))
        self.done.emit(result)


class RunController(QObject):
    """Starts, stops and waits for pipeline runs; forwards events to the GUI thread.

    Args:
        registry: node types (to copy the graph before a run).
        parent: owning QObject.
    """

    event = Signal(object)
    started = Signal()
    summarized = Signal(object)  # the last run's output summaries (runs in this process), before `finished`
    finished = Signal(object)

    def __init__(self, registry: NodeRegistry, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self.thread: QThread | None = None
        self.worker: RunWorker | None = None
        self.session: RunSession | None = None  # the current or last run
        self.last_result: RunResult | None = None
        self.port_summaries: dict[tuple[str, str], Any] = {}  # the last run's (node, port) -> PortSummary
        # processes > 1 (or separate_process): run `mif run --events jsonl` in child processes (`process_runner`)
        # and follow its events; 1 and not separate: in this process, in a QThread
        self.processes = 1
        self.separate_process = False
        self.process_run: Any = None
        # Reuse results (Run menu, toolbar): the results of earlier runs of this window, kept between its runs
        self.reuse = True
        self.cache = ResultCache()

    @property
    def running(self) -> bool:
        """Whether a run thread exists and has not finished."""
        return self.thread is not None or self.process_run is not None

    def start(self, graph: Graph) -> None:
        """Run a copy of ``graph`` where the run mode says (ignored while a run is in progress).

        Args:
            graph: the pipeline; it must already be valid (see `Graph.validate`).
        """
        if self.running:
            return
        self.port_summaries = {}
        from medical_imaging_framework.run.session import RunSession

        self.session = RunSession(graph, self.registry, processes=self.processes,
                                  separate_process=self.separate_process, validated=True, throttle_progress=True,
                                  cache=self.cache if self.reuse else None)
        self.session.record_mode = "editor"  # a run record (run.json); a child process records its own
        if self.session.in_child_processes:
            self._start_process(self.session)
            return
        self.thread = QThread(self)
        self.thread.setObjectName("mif-run")
        self.worker = RunWorker(self.session)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.event.connect(self._forward)
        self.worker.summarized.connect(self._on_summarized)
        self.worker.done.connect(self._on_done)
        # direct: the thread must end even while the GUI thread is blocked in `wait`
        self.worker.done.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)
        self.thread.finished.connect(self._on_thread_finished)
        collector().hold()  # while the run thread runs Python, only the GUI thread collects garbage
        self.thread.start()
        self.started.emit()

    def reused_nodes(self, graph: Graph) -> set[str]:
        """The nodes of ``graph`` the next run would reuse (none with Reuse results off; `run.cache.reused_nodes`).

        Args:
            graph: the validated pipeline about to run.
        """
        return reused_nodes(graph, self.cache) if self.reuse else set()

    def stop(self) -> None:
        """Ask the run to stop after the current batch; a second Stop aborts a run in child processes at once."""
        if self.process_run is not None:
            self.process_run.stop()
        elif self.session is not None:
            self.session.stop()

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until the run thread ends (events still queued are then delivered by the loop).

        Args:
            timeout_ms: give up after this long; -1 waits for ever.
        """
        if self.process_run is not None:
            return self.process_run.wait(timeout_ms)
        if self.thread is None:
            return True
        deadline = None if timeout_ms < 0 else time.monotonic() + timeout_ms / 1000
        while not self.thread.isFinished():
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.005)  # sleeping releases the GIL the worker needs to finish
        return self.thread.wait()

    def shutdown(self) -> None:
        """Stop a run, wait for its thread and deliver what it left queued (for closing the window)."""
        if self.thread is None and self.process_run is None:
            return
        self.stop()
        self.wait()
        QCoreApplication.sendPostedEvents(self)

    def _start_process(self, session: RunSession) -> None:
        from medical_imaging_framework.app.running.process_run import ProcessRun

        session.sink = self.event.emit
        self.process_run = ProcessRun(session, self._on_process_finished, self)
        self.process_run.start()
        self.started.emit()

    def _on_process_finished(self, result: RunResult) -> None:
        run, self.process_run, self.last_result = self.process_run, None, result
        if run is not None:
            run.deleteLater()
        self.finished.emit(result)

    @Slot(object)
    def _forward(self, event: Event) -> None:
        self.event.emit(event)

    @Slot(object)
    def _on_summarized(self, summaries: dict[tuple[str, str], Any]) -> None:
        self.port_summaries = summaries
        self.summarized.emit(summaries)

    @Slot(object)
    def _on_done(self, result: Any) -> None:
        self.last_result = result

    @Slot()
    def _on_thread_finished(self) -> None:
        if self.thread is None:
            return
        thread, worker = self.thread, self.worker
        self.thread = self.worker = None
        collector().release()
        if worker is not None:
            worker.deleteLater()
        if thread is not None:
            thread.deleteLater()
        self.finished.emit(self.last_result)

"""Runs a pipeline in a QThread: a QObject worker moved to the thread re-emits each core event as one
Qt signal carrying the event object. Widgets are only ever touched by slots on the GUI thread."""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

from medical_imaging_framework.app.qt.gc_guard import collector
from medical_imaging_framework.core import Graph, NodeRegistry
from medical_imaging_framework.core.pipeline_file import graph_from_dict, graph_to_dict
from medical_imaging_framework.nodes import RUNTIME_MODULES
from medical_imaging_framework.run.control import CancelToken
from medical_imaging_framework.run.events import Event, Progress
from medical_imaging_framework.run.executor import Executor, RunResult

log = logging.getLogger(__name__)

# Progress events arrive after every batch; the bar needs far fewer. Coalescing them keeps the GUI
# thread's event queue short (see bench/ui_latency.py).
PROGRESS_INTERVAL_S = 0.1


# Modules a run needs: torch, MONAI and the node implementations (the node specs import none of them, so
# the window opens without them), then what torch imports on first use in a run: ``torch.optim`` imports
# ``torch._dynamo`` (and with it sympy) when the first optimizer is built, ~800 modules, seconds of
# GIL-holding work that would stall the GUI during the first run. `preload_in_background` imports them
# while the user is still editing (`torch_preload` starts it after the window's first paint).
FIRST_RUN_IMPORTS = (*RUNTIME_MODULES, "torch._dynamo")


def preload_in_background() -> threading.Thread:
    """Import `FIRST_RUN_IMPORTS` in a daemon thread; returns it (join it to wait)."""

    def preload() -> None:
        for name in FIRST_RUN_IMPORTS:
            try:
                importlib.import_module(name)
            except Exception as error:  # only a warm-up: the run imports it again and reports problems
                log.debug("preloading %s failed: %s", name, error)

    thread = threading.Thread(target=preload, name="mif-preload", daemon=True)
    thread.start()
    return thread


def training_threads() -> int:
    """Intra-op threads for torch in the worker: one core is left for the GUI thread."""
    return max(1, (os.cpu_count() or 2) - 1)


def copy_graph(graph: Graph, registry: NodeRegistry) -> Graph:
    """An independent copy of ``graph`` (through its file form), so edits never reach a running pipeline.

    Args:
        graph: the pipeline shown in the editor.
        registry: node types.
    """
    return graph_from_dict(graph_to_dict(graph), registry, source=graph.name)


class RunWorker(QObject):
    """Lives in the run thread; `run` executes the graph and re-emits its events.

    Args:
        graph: the pipeline to run (a copy; nobody else touches it).
        cancel: the run's stop flag.
    """

    event = Signal(object)
    done = Signal(object)

    def __init__(self, graph: Graph, cancel: CancelToken) -> None:
        super().__init__()
        self.graph = graph
        self.cancel = cancel
        self._last_progress = 0.0

    @Slot()
    def run(self) -> None:
        """Execute the pipeline; emits `done` with the `RunResult` (also when a node fails)."""
        import torch

        previous_threads = torch.get_num_threads()
        torch.set_num_threads(training_threads())
        try:
            result = Executor(self.graph, self._sink, self.cancel).run()
        except Exception as error:  # the executor catches node failures; this guards the thread itself
            result = RunResult(status="failed", error=f"{type(error).__name__}: {error}")
        finally:
            torch.set_num_threads(previous_threads)
        self.done.emit(result)

    def _sink(self, event: Event) -> None:
        if isinstance(event, Progress):
            now = time.monotonic()
            last_batch = event.batch == event.num_batches
            if not last_batch and now - self._last_progress < PROGRESS_INTERVAL_S:
                return
            self._last_progress = now
        self.event.emit(event)


class RunController(QObject):
    """Starts, stops and waits for pipeline runs; forwards events to the GUI thread.

    Args:
        registry: node types (to copy the graph before a run).
        parent: owning QObject.
    """

    event = Signal(object)
    started = Signal()
    finished = Signal(object)

    def __init__(self, registry: NodeRegistry, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self.thread: QThread | None = None
        self.worker: RunWorker | None = None
        self.cancel_token: CancelToken | None = None
        self.last_result: RunResult | None = None
        # processes > 1 (or separate_process): run `mif run --events jsonl` in child processes (`process_runner`)
        # and follow its events; 1 and not separate: in this process, in a QThread
        self.processes = 1
        self.separate_process = False
        self.process_run: Any = None

    @property
    def running(self) -> bool:
        """Whether a run thread exists and has not finished."""
        return self.thread is not None or self.process_run is not None

    def start(self, graph: Graph) -> None:
        """Run a copy of ``graph`` in a new thread (ignored while a run is in progress).

        Args:
            graph: the pipeline; it must already be valid (see `Graph.validate`).
        """
        if self.running:
            return
        if self.processes > 1 or self.separate_process:
            self._start_process(graph)
            return
        self.cancel_token = CancelToken()
        self.thread = QThread(self)
        self.thread.setObjectName("mif-run")
        self.worker = RunWorker(copy_graph(graph, self.registry), self.cancel_token)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.event.connect(self._forward)
        self.worker.done.connect(self._on_done)
        # direct: the thread must end even while the GUI thread is blocked in `wait`
        self.worker.done.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)
        self.thread.finished.connect(self._on_thread_finished)
        collector().hold()  # while the run thread runs Python, only the GUI thread collects garbage
        self.thread.start()
        self.started.emit()

    def stop(self) -> None:
        """Ask the run to stop after the current batch."""
        if self.process_run is not None:
            self.process_run.stop()
        if self.cancel_token is not None:
            self.cancel_token.cancel()

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

    def _start_process(self, graph: Graph) -> None:
        from medical_imaging_framework.app.running.process_run import ProcessRun

        self.process_run = ProcessRun(graph_to_dict(graph), self.processes, self.event.emit,
                                      self._on_process_finished, self)
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

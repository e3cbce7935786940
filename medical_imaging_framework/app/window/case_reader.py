"""The Results dock's case reads, off the GUI thread: one at a time, the newest request wins.

Reading a case (`CaseSource.read`: image files, inverse transforms, resampling) takes as long as the evaluation
took for it, seconds for a large volume, so it runs in a plain Python thread watched by the GC guard
(`app/qt/gc_guard.py`: only the GUI thread collects while it runs), and so does the case's `summarize` (its
classes and opening slice: every voxel looked at). The thread touches no widget: its outcome reaches the GUI
thread by a queued Qt signal. At most one read runs; a request made meanwhile waits, and a newer one replaces it,
so a user holding N through 50 cases starts 2 reads, not 50. Only the outcome of the newest
request is handed on (`read_done`); an older read that ends later is dropped. Qt's thread pool would do, but a
plain thread is what the GC guard watches (`collector().watch`), as the Report action's thread is.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal, Slot

from medical_imaging_framework.app.qt.gc_guard import collector

if TYPE_CHECKING:  # numpy: not imported before the window's first paint (bench/startup.py)
    from medical_imaging_framework.app.widgets.case_summary import CaseSummary

# the readers whose thread still runs, kept alive here so that none is destroyed off the GUI thread or while its
# thread still emits (the panel that made it may be gone: a closed window)
_RUNNING: dict[threading.Thread, CaseReader] = {}


@dataclass(frozen=True)
class ReadOutcome:
    """One read's outcome: the case's arrays and their `CaseSummary`, or the error's text (``TypeName: message``)."""

    token: int
    name: str
    case: Any = None
    summary: CaseSummary | None = None
    error: str = ""


class CaseReader(QObject):
    """Reads cases from a `CaseSource` in a worker thread, one at a time; the newest request wins.

    Use it from the GUI thread only. It has no parent: it outlives its panel while a read runs.
    """

    read_done = Signal(object)  # the ReadOutcome of the newest request, on the GUI thread
    _delivered = Signal(object)  # emitted by the worker thread, queued to the GUI thread

    def __init__(self) -> None:
        super().__init__()
        self._token = 0  # the newest request's number
        self._running: int | None = None  # the number of the read in progress
        self._waiting: tuple[int, Any, str] | None = None  # the request to start when it ends
        self._delivered.connect(self._on_delivered, Qt.ConnectionType.QueuedConnection)

    @property
    def busy(self) -> bool:
        """Whether a read is running or waiting to start."""
        return self._running is not None or self._waiting is not None

    def request(self, source: Any, name: str) -> None:
        """Read case ``name`` from ``source`` now, or once the read in progress ends.

        Args:
            source: the evaluation's `CaseSource` (any object whose ``read(name)`` gives `CaseArrays`).
            name: the case.
        """
        self._token += 1
        if self._running is not None:
            self._waiting = (self._token, source, name)  # replaces an older waiting request
            return
        self._start(self._token, source, name)

    def cancel(self) -> None:
        """Forget every request: the read in progress ends unseen and the waiting one never starts."""
        self._token += 1
        self._waiting = None

    def _start(self, token: int, source: Any, name: str) -> None:
        sent = threading.Event()

        def work() -> None:
            try:
                from medical_imaging_framework.app.widgets.case_summary import summarize  # numpy: in by now

                case = source.read(name)
                outcome = ReadOutcome(token, name, case, summarize(case.label, case.prediction))
            except Exception as error:  # shown in the viewer, as the editor showed it when it read on its thread
                outcome = ReadOutcome(token, name, error=f"{type(error).__name__}: {error}")
            self._delivered.emit(outcome)
            sent.set()

        thread = threading.Thread(target=work, name=f"mif-case-read-{token}", daemon=True)
        self._running = token
        _RUNNING[thread] = self
        thread.start()
        collector().watch(thread, on_end=lambda: self._thread_ended(thread, token, name, sent))

    def _thread_ended(self, thread: threading.Thread, token: int, name: str, sent: threading.Event) -> None:
        _RUNNING.pop(thread, None)  # the last reference to a reader whose panel is gone: destroyed here
        if shiboken6.isValid(self) and not sent.is_set():  # the thread died without an outcome
            self._on_delivered(ReadOutcome(token, name, error="the read ended without a result"))

    @Slot(object)
    def _on_delivered(self, outcome: ReadOutcome) -> None:
        if outcome.token != self._running:
            return
        self._running = None
        if outcome.token == self._token:
            self.read_done.emit(outcome)
        if self._waiting is not None:
            waiting, self._waiting = self._waiting, None
            self._start(*waiting)

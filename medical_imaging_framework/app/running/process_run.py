"""Runs a `RunSession` in child processes: ``mif run --events jsonl`` (``--nproc N`` for several), whose
JSON lines the session reads back into the same events a QThread run delivers, so every panel works alike.

Stop sends SIGTERM (the run stops after the current batch, as with Ctrl-C); a second Stop kills the
process and its workers. A crash leaves the editor running, with the last lines of stderr in the log.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QProcess, Slot

from medical_imaging_framework.run.executor import RunResult
from medical_imaging_framework.run.process_tree import kill_tree
from medical_imaging_framework.run.session import RunSession

STDERR_TAIL = 4000


class ProcessRun(QObject):
    """One run of ``session`` in a child process (QProcess: its output arrives on the GUI thread's loop).

    Args:
        session: the run (its sink receives each event read back).
        on_finished: called once with the `RunResult`.
        parent: owning QObject.
    """

    def __init__(self, session: RunSession, on_finished: Callable[[RunResult], None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.on_finished = on_finished
        self.folder = tempfile.TemporaryDirectory(prefix="mif-run-")
        self.arguments = session.child_arguments(session.write_pipeline(self.folder.name))
        self.process = QProcess(self)
        self.process.readyReadStandardOutput.connect(self._read_stdout)
        self.process.readyReadStandardError.connect(self._read_stderr)
        self.process.finished.connect(self._on_finished)
        self.process.errorOccurred.connect(self._on_error)
        self._buffer = b""
        self._stderr = ""
        self._done = False

    def start(self) -> None:
        """Start the child process (in the editor's working folder, so relative paths mean the same)."""
        self.process.start(sys.executable, self.arguments)

    @property
    def running(self) -> bool:
        """Whether the child has not finished yet."""
        return not self._done

    def stop(self) -> None:
        """First call: SIGTERM (stop after the current batch); later calls: kill the process tree."""
        request = self.session.stop()
        if self.process.state() == QProcess.ProcessState.NotRunning:
            return
        if request == "graceful":
            self.process.terminate()
        else:
            kill_tree(int(self.process.processId()))

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until the child ends and its result was delivered.

        Args:
            timeout_ms: give up after this long; -1 waits for ever.
        """
        deadline = None if timeout_ms < 0 else time.monotonic() + timeout_ms / 1000
        while not self._done:
            remaining = 100 if deadline is None else max(0, min(100, int((deadline - time.monotonic()) * 1000)))
            self.process.waitForFinished(remaining)
            if self.process.state() == QProcess.ProcessState.NotRunning and not self._done:
                self._on_finished(self.process.exitCode(), self.process.exitStatus())
            if deadline is not None and time.monotonic() > deadline:
                return self._done
        return True

    @Slot()
    def _read_stdout(self) -> None:
        self._buffer += bytes(self.process.readAllStandardOutput().data())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            self.session.take_line(line.decode("utf-8", errors="replace"))

    @Slot()
    def _read_stderr(self) -> None:
        self._stderr = (self._stderr + bytes(self.process.readAllStandardError().data()).decode(
            "utf-8", errors="replace"))[-STDERR_TAIL:]

    @Slot(QProcess.ProcessError)
    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._stderr += f"\ncould not start {sys.executable}: {self.process.errorString()}"
            self._on_finished(-1, QProcess.ExitStatus.CrashExit)

    @Slot(int, QProcess.ExitStatus)
    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        if self._done:
            return
        self._done = True
        self._read_stdout()
        if self._buffer:
            self.session.take_line(self._buffer.decode("utf-8", errors="replace"))
            self._buffer = b""
        self._read_stderr()
        result = self.session.child_result(code, self._stderr)
        self.folder.cleanup()
        self.on_finished(result)

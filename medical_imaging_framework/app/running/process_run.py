"""Runs a pipeline in separate processes: ``mif run --events jsonl`` (``--nproc N`` for several), whose
JSON lines are read back into the same events a QThread run delivers, so every panel works alike.

Stop sends SIGTERM (the run stops after the current batch, as with Ctrl-C); a second Stop kills the
process and its workers. A crash leaves the editor running, with the last lines of stderr in the log.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, Slot

from medical_imaging_framework.run.event_stream import event_from_dict
from medical_imaging_framework.run.events import Event, LogLine, Progress, RunFinished, SampleAvailable
from medical_imaging_framework.run.executor import RunResult
from medical_imaging_framework.run.process_tree import kill_tree

PROGRESS_INTERVAL_S = 0.1
STDERR_TAIL = 4000
EXIT_STOPPED = 130


class ProcessRun(QObject):
    """One run of ``pipeline`` (a JSON-ready dict) in a child process.

    Args:
        pipeline: the pipeline in its file form.
        processes: 1 = one ``mif run`` process; more = ``mif run --nproc N`` (torchrun).
        on_event: called on the GUI thread with each event read back.
        on_finished: called once with the `RunResult`.
        parent: owning QObject.
    """

    def __init__(
        self,
        pipeline: dict[str, Any],
        processes: int,
        on_event: Callable[[Event], None],
        on_finished: Callable[[RunResult], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.on_event = on_event
        self.on_finished = on_finished
        self.folder = tempfile.TemporaryDirectory(prefix="mif-run-")
        self.path = Path(self.folder.name) / "pipeline.json"
        self.path.write_text(json.dumps(pipeline), encoding="utf-8")
        self.arguments = ["-m", "medical_imaging_framework", "run", str(self.path), "--events", "jsonl"]
        if processes > 1:
            self.arguments += ["--nproc", str(processes)]
        self.process = QProcess(self)
        self.process.readyReadStandardOutput.connect(self._read_stdout)
        self.process.readyReadStandardError.connect(self._read_stderr)
        self.process.finished.connect(self._on_finished)
        self.process.errorOccurred.connect(self._on_error)
        self._buffer = b""
        self._stderr = ""
        self._status = ""
        self._stops = 0
        self._last_progress = 0.0
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
        self._stops += 1
        if self.process.state() == QProcess.ProcessState.NotRunning:
            return
        if self._stops == 1:
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
            self._handle_line(line.decode("utf-8", errors="replace"))

    def _handle_line(self, line: str) -> None:
        if not line.strip():
            return
        try:
            event = event_from_dict(json.loads(line))
        except (ValueError, TypeError):
            event = LogLine(line)  # not JSON: show it rather than lose it
        if event is None or isinstance(event, SampleAvailable):  # a sample's pixels are not in the stream
            return
        if isinstance(event, RunFinished):
            self._status = event.status
        if isinstance(event, Progress):
            now = time.monotonic()
            if event.batch != event.num_batches and now - self._last_progress < PROGRESS_INTERVAL_S:
                return
            self._last_progress = now
        self.on_event(event)

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
            self._handle_line(self._buffer.decode("utf-8", errors="replace"))
            self._buffer = b""
        self._read_stderr()
        if self._status:
            result = RunResult(status=self._status)
        elif code == EXIT_STOPPED or self._stops:
            result = RunResult(status="cancelled")
        else:
            detail = self._stderr.strip().splitlines()[-1] if self._stderr.strip() else f"exit code {code}"
            result = RunResult(status="failed", error=f"the run process ended: {detail}")
            self.on_event(LogLine(f"✗ {result.error}\n{self._stderr.strip()}", level="error"))
        self.folder.cleanup()
        self.on_finished(result)

"""One run of a pipeline, the same for every way to run it: in this process (``mif run``, the editor's run
thread), in a separate ``mif run`` process, or in several processes under torchrun (on one or more nodes).

A `RunSession` holds its own copy of the pipeline, validated once per launch; it applies the one progress
throttle, the one stop escalation (first stop: after the current batch; second: at once) and the one
status map (`run.status`), and it fills the parts of the `RunResult` that every way to run can give back:
the checkpoint folders and the evaluation means, read from the event stream itself. The front ends (the
CLI, the editor's QThread and QProcess) only move events and bytes; the torch-side policies (threads,
ranks) belong to the nodes that compute, so they are the same in every mode.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from medical_imaging_framework.core import Graph, NodeRegistry, Problem
from medical_imaging_framework.core.pipeline_file import graph_from_dict, graph_to_dict
from medical_imaging_framework.run.cache import NO_CACHE_FLAG, ResultCache
from medical_imaging_framework.run.control import CancelToken, ProgressThrottle, StopEscalation, StopRequest
from medical_imaging_framework.run.event_stream import event_from_dict
from medical_imaging_framework.run.events import (
    CheckpointSaved,
    CheckpointsConfigured,
    Event,
    EventSink,
    LogLine,
    MetricsReported,
    RunFinished,
    SampleAvailable,
    TrainingReused,
)
from medical_imaging_framework.run.executor import Executor, RunResult
from medical_imaging_framework.run.launch import VALIDATED_FLAG
from medical_imaging_framework.run.recorder import RunRecorder, close_unfinished
from medical_imaging_framework.run.status import RunStatus, exit_code

RECORDS_SWITCH = "MIF_RUN_RECORDS"  # "0": no run record is written (tests; a read-only working folder)


class RunSession:
    """One launch of a pipeline (see the module docstring).

    Args:
        graph: the pipeline.
        registry: node types; given, the session runs its own copy of ``graph`` (the editor: later edits never
            reach the run); None runs ``graph`` itself (``mif run``).
        sink: receives every event of the run, on the thread that runs it or reads the child's output
            (settable later as ``session.sink``).
        processes: 1 = in one process; N > 1 = N processes under torchrun (always in child processes).
        separate_process: run in a child ``mif run`` process even for one process.
        validated: the pipeline was validated by whoever launched this process (``--validated``).
        throttle_progress: coalesce `Progress` events (`ProgressThrottle`); the editor does, the CLI does not.
        cache: reuse what earlier runs computed (`run.cache`); None runs every node. A child process gets
            ``--no-cache`` when it is None, and otherwise its own cache (references in ``.mif/cache`` only).
    """

    def __init__(
        self,
        graph: Graph,
        registry: NodeRegistry | None = None,
        sink: EventSink | None = None,
        processes: int = 1,
        separate_process: bool = False,
        validated: bool = False,
        throttle_progress: bool = False,
        cache: ResultCache | None = None,
    ) -> None:
        self.graph = graph if registry is None else graph_from_dict(graph_to_dict(graph), registry, source=graph.name)
        self.sink: EventSink = sink or _ignore
        self.processes = max(1, processes)
        self.in_child_processes = separate_process or self.processes > 1
        self.cancel = CancelToken()
        self.stops = StopEscalation()
        self.throttle = ProgressThrottle() if throttle_progress else None
        self.cache = cache
        self._problems: list[Problem] | None = [] if validated else None
        self._folders: list[str] = []
        self._metrics: dict[str, dict[str, float]] = {}
        self._finished_status: str = ""
        # a run record (`run.recorder`) for runs executed here: its mode ("" = none) and the --set overrides
        self.record_mode = ""
        self.record_overrides: list[str] = []

    @property
    def problems(self) -> list[Problem]:
        """Every problem of the pipeline (validated once, on first use)."""
        if self._problems is None:
            self._problems = self.graph.validate()
        return self._problems

    def stop(self) -> StopRequest:
        """Ask the run to stop: the first request after the current batch, a second one at once.

        Sets the cancel token either way; the front end aborts a child process on ``"abort"``.
        """
        request = self.stops.request()
        self.cancel.cancel()
        return request

    # -- in this process ----------------------------------------------------------------------------
    def run_here(self) -> RunResult:
        """Execute the pipeline in the calling thread (``mif run``, each torchrun rank, the editor's run thread)."""
        if self.problems:
            return RunResult(status=RunStatus.INVALID, problems=list(self.problems))
        recorder = self._recorder()
        if recorder is None:
            executor = Executor(self.graph, self.observe, self.cancel, validated=True, cache=self.cache)
            return self._completed(executor.run())

        def observe(event: Event) -> None:
            recorder.observe(event)
            self.observe(event)

        try:
            result = Executor(self.graph, observe, self.cancel, validated=True, cache=self.cache).run()
        finally:
            recorder.finish("cancelled")  # an abort (KeyboardInterrupt) ends without RunFinished; else a no-op
        result.record_files = [str(path) for path in recorder.files]
        return self._completed(result)

    def _recorder(self) -> RunRecorder | None:
        """The run's recorder when a record was asked for, on rank 0 only (the one that writes), unless
        ``MIF_RUN_RECORDS=0``."""
        if not self.record_mode or os.environ.get("RANK", "0") != "0" or os.environ.get(RECORDS_SWITCH) == "0":
            return None
        return RunRecorder(graph_to_dict(self.graph), self.record_mode, self.record_overrides, warn=self.observe)

    def observe(self, event: Event) -> None:
        """Note what the result needs from ``event``, then pass it to the sink (unless throttled away)."""
        if isinstance(event, (CheckpointsConfigured, TrainingReused)):  # a reused training's folder: its Report
            self._add_folder(event.directory)
        elif isinstance(event, CheckpointSaved):
            self._add_folder(os.path.dirname(event.path) or ".")
        elif isinstance(event, MetricsReported):
            self._metrics[event.node_id] = dict(event.mean)
        elif isinstance(event, RunFinished):
            self._finished_status = event.status
        if self.throttle is None or self.throttle.admit(event):
            self.sink(event)

    def upstream(self, node_id: str) -> RunSession:
        """A session of ``node_id`` and the nodes it depends on, from this session's pipeline (already validated).

        The editor rebuilds a data node's outputs with it after a run in child processes, whose objects stayed
        there.

        Args:
            node_id: a node of this session's pipeline.
        """
        return RunSession(self.graph.upstream(node_id), validated=True)

    # -- in child processes -------------------------------------------------------------------------
    def child_arguments(self, pipeline_file: str | os.PathLike[str]) -> list[str]:
        """The arguments after ``python`` of the child that runs this session: ``mif run --events jsonl``,
        with ``--no-cache`` when the session reuses nothing and ``--nproc N`` for several processes.

        Args:
            pipeline_file: where `write_pipeline` put the pipeline.
        """
        arguments = ["-m", "medical_imaging_framework", "run", str(pipeline_file), "--events", "jsonl", VALIDATED_FLAG]
        if self.cache is None:
            arguments.append(NO_CACHE_FLAG)
        if self.processes > 1:
            arguments += ["--nproc", str(self.processes)]
        return arguments

    def child_command(self, pipeline_file: str | os.PathLike[str]) -> list[str]:
        """`child_arguments` behind this Python interpreter."""
        return [sys.executable, *self.child_arguments(pipeline_file)]

    def write_pipeline(self, folder: str | os.PathLike[str]) -> Path:
        """Write the session's pipeline for a child process into ``folder``; returns the file.

        Args:
            folder: a private temporary folder.
        """
        path = Path(folder) / "pipeline.json"
        path.write_text(json.dumps(graph_to_dict(self.graph)), encoding="utf-8")
        return path

    def take_line(self, line: str) -> None:
        """One line of the child's standard output (a JSON event, or stray text shown as a log line).

        Args:
            line: the line, without its newline.
        """
        if not line.strip():
            return
        try:
            event = event_from_dict(json.loads(line))
        except (ValueError, TypeError):
            event = LogLine(line)  # not JSON: show it rather than lose it
        if event is None or isinstance(event, SampleAvailable):  # a sample's pixels are not in the stream
            return
        self.observe(event)

    def child_result(self, code: int, stderr_tail: str) -> RunResult:
        """The result of a child that exited with ``code``; a crash is reported as a log line with its stderr.

        Args:
            code: the child's exit code (-1 when it could not start or crashed).
            stderr_tail: the last part of its standard error.
        """
        if self._finished_status:
            return self._completed(RunResult(status=RunStatus(self._finished_status)))
        if self.stops.count or code == exit_code(RunStatus.CANCELLED):
            close_unfinished(self._folders, RunStatus.CANCELLED)  # an aborted child could not end its record
            return self._completed(RunResult(status=RunStatus.CANCELLED))
        tail = stderr_tail.strip()
        detail = tail.splitlines()[-1] if tail else f"exit code {code}"
        result = RunResult(status=RunStatus.FAILED, error=f"the run process ended: {detail}")
        self.observe(LogLine(f"✗ {result.error}\n{tail}", level="error"))
        close_unfinished(self._folders, RunStatus.FAILED)  # the child crashed before it could end its record
        return self._completed(result)

    # -- both ---------------------------------------------------------------------------------------
    def _add_folder(self, directory: str) -> None:
        folder = os.path.abspath(os.path.expanduser(directory.strip()))
        if folder not in self._folders:
            self._folders.append(folder)

    def _completed(self, result: RunResult) -> RunResult:
        result.checkpoint_folders = list(self._folders)
        result.metrics = {node: dict(means) for node, means in self._metrics.items()}
        return result


def _ignore(event: Event) -> None:
    """The sink of a session nobody listens to yet."""


__all__ = ["RunSession"]

"""Writes a run's record (`run.records`) from its event stream: at the start (status ``running``) and at the end.

The `RunSession` feeds a `RunRecorder` every event of a run it executes in this process, when its front end
asked for a record (``mif run``, each torchrun rank 0, the editor's run thread); a run in child processes is
recorded by the child. Where the record goes:

- each Trainer's checkpoint folder, once the Trainer announces it (`CheckpointsConfigured`, which carries the
  Trainer's run id: a resumed run keeps it, and its record there gets one more segment);
- a run whose Trainer was reused (`TrainingReused`: it wrote nothing into that folder) goes to
  ``runs/<its own id>/``, naming the training it reused and taking that training's best validation loss;
- otherwise ``<working folder>/runs/<run id>/`` (no Trainer, checkpoints off, or a run that failed before its
  Trainer started), with an id of the run's own.

A record that cannot be written is a warning line; the run goes on.
"""

from __future__ import annotations

import csv
import math
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medical_imaging_framework.run.events import (
    CheckpointsConfigured,
    EpochEnded,
    Event,
    LogLine,
    MetricsReported,
    RunFinished,
    RunStarted,
    TrainingResumed,
    TrainingReused,
)
from medical_imaging_framework.run.process_identity import current_process
from medical_imaging_framework.run.records import (
    RECORD_NAME,
    Evaluation,
    RecordError,
    ReusedTraining,
    RunRecord,
    Segment,
    read_record,
    write_record,
)
from medical_imaging_framework.run.run_index import add_to_index

RUNS_FOLDER = "runs"
FINAL_STATUS = {"done": "done", "failed": "failed", "cancelled": "stopped", "invalid": "failed"}
_DEVICE_PREFIX = "Training on "
_EVALUATION_PREFIX = "Evaluation written: "


def now_text() -> str:
    """The local time as records hold it (``YYYY-MM-DD HH:MM:SS``)."""
    return time.strftime("%Y-%m-%d %H:%M:%S")


def _uses_checkpoint_folder(pipeline: dict[str, Any]) -> bool:
    """Whether a node of ``pipeline`` will announce a checkpoint folder (a Trainer with ``checkpoint_dir`` set)."""
    return any(isinstance(node, dict) and str((node.get("params") or {}).get("checkpoint_dir", "")).strip()
               for node in pipeline.get("nodes", []))


class RunRecorder:
    """Follows one run's events and keeps its record on disk (see the module docstring).

    Args:
        pipeline: the pipeline as it runs, in its file form.
        mode: how it runs (``mif run``, ``editor``, ``separate process``, ``torchrun, N processes``).
        overrides: the ``--set`` overrides applied.
        working_folder: where relative folders resolve and the index lives (default: the current directory).
        warn: receives a warning line when a record cannot be written.
    """

    def __init__(self, pipeline: dict[str, Any], mode: str, overrides: list[str] | None = None,
                 working_folder: str | os.PathLike[str] | None = None,
                 warn: Callable[[Event], None] | None = None) -> None:
        self.working_folder = Path(working_folder or os.getcwd()).resolve()
        self.record = RunRecord(run_id=uuid.uuid4().hex[:12], pipeline_name=str(pipeline.get("name", "")),
                                mode=mode, working_folder=str(self.working_folder), pipeline=pipeline,
                                overrides=list(overrides or []), process=current_process())
        self.segment = Segment(started=now_text(), overrides=list(overrides or []))
        self.folders: list[Path] = []  # where the record is written (empty: not yet)
        self.files: list[Path] = []
        self.warn = warn
        self._warned = False
        self._finished = False
        self._evaluation_nodes: dict[str, Evaluation] = {}

    # -- events ----------------------------------------------------------------------------------------
    def observe(self, event: Event) -> None:
        """Update the record from ``event`` (written at the start and the end of the run)."""
        if isinstance(event, RunStarted):
            self.segment.started = now_text()
            if not _uses_checkpoint_folder(self.record.pipeline):
                self._settle([self.working_folder / RUNS_FOLDER / self.record.run_id])
        elif isinstance(event, CheckpointsConfigured):
            self._configured(event)
        elif isinstance(event, TrainingReused):
            self._reused(event)
        elif isinstance(event, TrainingResumed):
            self.segment.epoch_from = event.epoch
            self.segment.epoch_to = max(self.segment.epoch_to, event.epoch)
        elif isinstance(event, EpochEnded):
            self._epoch(event)
        elif isinstance(event, LogLine):
            self._log_line(event)
        elif isinstance(event, MetricsReported):
            self._evaluation(event.node_id).mean = {key: float(value) for key, value in event.mean.items()}
        elif isinstance(event, RunFinished):
            self.finish(event.status)

    def finish(self, status: str) -> None:
        """End the segment with ``status`` (``done``, ``failed``, ``cancelled``) and write the record (once)."""
        if self._finished:
            return
        self._finished = True
        if not self.folders:
            self._settle([self.working_folder / RUNS_FOLDER / self.record.run_id])
        self.segment.status = FINAL_STATUS.get(status, status)
        self.segment.ended = now_text()
        self.record.status, self.record.ended = self.segment.status, self.segment.ended
        for evaluation in self.record.evaluations:
            _provenance(evaluation)
        self._write()

    # -- pieces ----------------------------------------------------------------------------------------
    def _configured(self, event: CheckpointsConfigured) -> None:
        folder = (self.working_folder / os.path.expanduser(event.directory.strip())).resolve()
        if not self.folders and event.run_id:
            self.record.run_id = event.run_id
            self._settle([folder], resume=True)
        elif folder not in self.folders:
            self.folders.append(folder)
            self.record.checkpoint_folders.append(str(folder))
            self.record.metrics_csv.append(str(folder / "metrics.csv"))
            self._write()

    def _reused(self, event: TrainingReused) -> None:
        folder = (self.working_folder / os.path.expanduser(event.directory.strip())).resolve()
        self.record.reused.append(ReusedTraining(event.node_id, event.run_id, event.epoch, event.num_epochs,
                                                 str(folder), event.checkpoint))
        trained = None
        for path in (folder / RECORD_NAME, folder / f"run-{event.run_id}.json"):  # a later run's record moved it
            try:
                trained = read_record(path)
            except RecordError:
                continue
            if trained.run_id == event.run_id:
                break
        if trained is not None and trained.run_id == event.run_id and self.record.best_val_loss is None:
            self.record.best_val_loss = trained.best_val_loss  # the weights used are that training's
        if not self.folders:
            self._settle([self.working_folder / RUNS_FOLDER / self.record.run_id])
        else:
            self._write()

    def _settle(self, folders: list[Path], resume: bool = False) -> None:
        """Fix where the record goes; a record of the same run there (a resume) is continued."""
        self.folders = list(folders)
        earlier = None
        if resume:
            try:
                earlier = read_record(folders[0])
            except RecordError:
                earlier = None
        if earlier is not None and earlier.run_id == self.record.run_id:
            for name in ("started", "best_val_loss", "epochs", "num_epochs", "segments", "evaluations"):
                setattr(self.record, name, getattr(earlier, name))
            for segment in self.record.segments:
                if segment.status == "running":  # its process died without ending it (kill, elastic restart)
                    segment.status = "failed"
        else:
            self.record.started = self.segment.started
        self.record.segments.append(self.segment)
        if resume:
            self.record.checkpoint_folders = [str(folder) for folder in folders]
            self.record.metrics_csv = [str(folder / "metrics.csv") for folder in folders]
        self.record.status = "running"
        self._write()

    def _epoch(self, event: EpochEnded) -> None:
        self.segment.epoch_to = event.epoch
        self.record.epochs, self.record.num_epochs = event.epoch, event.num_epochs
        if event.val_loss is not None and math.isfinite(event.val_loss):
            best = self.record.best_val_loss
            self.record.best_val_loss = event.val_loss if best is None else min(best, event.val_loss)

    def _log_line(self, event: LogLine) -> None:
        if event.text.startswith(_DEVICE_PREFIX) and not self.record.device:
            self.record.device = event.text[len(_DEVICE_PREFIX):]
        elif event.text.startswith(_EVALUATION_PREFIX) and event.node_id:
            path = event.text[len(_EVALUATION_PREFIX):].strip()
            self._evaluation(event.node_id).csv = str((self.working_folder / os.path.expanduser(path)).resolve())

    def _evaluation(self, node_id: str) -> Evaluation:
        if node_id not in self._evaluation_nodes:
            self._evaluation_nodes[node_id] = Evaluation(node_id=node_id)
            self.record.evaluations.append(self._evaluation_nodes[node_id])
        return self._evaluation_nodes[node_id]

    def _write(self) -> None:
        for folder in self.folders:
            try:
                path = write_record(self.record, folder)
                kept = sorted(path.parent.glob("run-*.json"))  # earlier runs' records kept beside it
                add_to_index(self.working_folder, *kept, path)
            except OSError as error:
                if self.warn is not None and not self._warned:
                    self._warned = True
                    self.warn(LogLine(f"warning: the run record could not be written in {folder}: "
                                      f"{error.strerror or error}", level="warning"))
            else:
                if path not in self.files:
                    self.files.append(path)


def close_unfinished(folders: list[str], status: str) -> list[Path]:
    """End the records still ``running`` in ``folders``: their run's process ended without writing the end (a
    child process killed by an abort, or that crashed). Returns the records closed.

    Args:
        folders: the run's checkpoint folders (absolute).
        status: how the run ended (``failed``, ``cancelled``).
    """
    closed = []
    for folder in folders:
        try:
            record = read_record(folder)
        except RecordError:
            continue
        if record.status != "running" or not record.segments or record.segments[-1].status != "running":
            continue
        record.status = record.segments[-1].status = FINAL_STATUS.get(status, status)
        record.ended = record.segments[-1].ended = now_text()
        try:
            closed.append(write_record(record, folder))
        except OSError:
            continue  # the folder went read-only or away: the record stays as the child left it
    return closed


def _provenance(evaluation: Evaluation) -> None:
    """Fill the scored checkpoint, its run and epoch from the ``evaluation.csv`` provenance columns."""
    if not evaluation.csv:
        return
    try:
        with open(evaluation.csv, newline="", encoding="utf-8") as handle:
            row = next(csv.DictReader(handle), None)
    except (OSError, csv.Error, UnicodeDecodeError):
        return
    if row:
        evaluation.checkpoint = row.get("checkpoint") or ""
        evaluation.weights_run_id = row.get("run_id") or ""
        epoch = row.get("epoch") or ""
        evaluation.weights_epoch = int(epoch) if epoch.isdigit() else None


__all__ = ["RUNS_FOLDER", "RunRecorder", "close_unfinished", "now_text"]

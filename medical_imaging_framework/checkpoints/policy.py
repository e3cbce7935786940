"""The checkpoint policy: a training callback that decides periodic, best and final saves.

Fed each `EpochResult`, it writes ``checkpoint_epoch_N.pt`` every ``every`` epochs, ``best_model.pt`` when
the monitored loss is strictly lower than the best so far, and ``final_model.pt`` after the last epoch.
Each outcome is an event (`CheckpointSaved`, `CheckpointFailed`); a failed save (any OS error, including
listing or pruning the folder) never stops training unless ``stop_on_error`` is set. A non-finite loss is
never saved as best. On resume, and after a failed best save, ``best_model.pt`` is checked against the best
completed epoch and repaired from that epoch's file (see `best_checkpoint`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medical_imaging_framework.checkpoints.best import best_epoch, repair_best
from medical_imaging_framework.checkpoints.state import build_checkpoint
from medical_imaging_framework.checkpoints.atomic import CheckpointWriteError, clean_temp_files, describe_listing_error, describe_os_error, ensure_directory, write_checkpoint
from medical_imaging_framework.checkpoints.files import BEST_NAME, FINAL_NAME, periodic_files, periodic_name
from medical_imaging_framework.checkpoints.deferred_delete import DeferredDeleter
from medical_imaging_framework.run.events import CheckpointFailed, CheckpointSaved, CheckpointsConfigured, EventSink, LogLine, TrainingCompleted
from medical_imaging_framework.run.control import NodeError
from medical_imaging_framework.core.option_values import checkpoints_enabled as checkpoints_enabled  # torch-free home
from medical_imaging_framework.training.loop import Callback, EpochResult, TrainingState


@dataclass
class CheckpointPolicy(Callback):
    """Saves checkpoints while a `Trainer` runs.

    Args:
        directory: the checkpoint folder as the user typed it ("" or blank: no files at all).
        every: save ``checkpoint_epoch_N.pt`` when N % every == 0 (>= 1).
        emit: the event sink.
        node_id: the Trainer node, named in events.
        config: the Trainer's parameters, stored in each file.
        pipeline: the pipeline JSON being run, stored in each file.
        keep_last_n: periodic files to keep (0 keeps all); best and final are never deleted.
        stop_on_error: raise `NodeError` on a failed save instead of training on.
        resumed_from: the checkpoint file the run resumed from ("" for a fresh run); a source for repairing
            ``best_model.pt``.
    """

    directory: str
    every: int
    emit: EventSink
    node_id: str = "trainer"
    config: Mapping[str, Any] = field(default_factory=dict)
    pipeline: Mapping[str, Any] = field(default_factory=dict)
    keep_last_n: int = 0
    stop_on_error: bool = False
    resumed_from: str = ""
    final_path: str = field(default="", init=False)
    failed_saves: int = field(default=0, init=False)
    best_stale: bool = field(default=False, init=False)
    _deleter: DeferredDeleter = field(default_factory=DeferredDeleter, init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1:
            raise ValueError(f"save_every_n_epochs must be a whole number >= 1 (got {self.every!r})")
        if isinstance(self.keep_last_n, bool) or not isinstance(self.keep_last_n, int) or self.keep_last_n < 0:
            raise ValueError(f"keep_last_n must be a whole number >= 0 (got {self.keep_last_n!r})")

    @property
    def enabled(self) -> bool:
        """Whether any file is written."""
        return checkpoints_enabled(self.directory)

    @property
    def folder(self) -> Path:
        """The folder on disk (``~`` expanded; relative to the current directory)."""
        return Path(os.path.expanduser(self.directory.strip()))

    def shown(self, name: str) -> str:
        """The path of file ``name`` as shown to the user (the folder as typed, joined with ``name``)."""
        return os.path.join(self.directory.strip(), name)

    def on_train_start(self, state: TrainingState) -> None:
        """Announce the folder, create it, and remove temp files left by an interrupted save."""
        if not self.enabled:
            return
        self.emit(CheckpointsConfigured(self.node_id, self.directory.strip()))
        try:
            ensure_directory(self.folder)
        except CheckpointWriteError as error:
            self._failed(self.directory.strip(), error.reason, "directory")
            return
        try:
            clean_temp_files(self.folder)
        except CheckpointWriteError as error:
            self._failed(self.directory.strip(), error.reason, "directory")
        if state.epoch > 0:  # resumed: a crash between the periodic and the best save leaves best stale
            self._check_best(state, state.best_loss)

    def on_epoch_end(self, state: TrainingState, result: EpochResult) -> None:
        """Periodic save when due, then best save when the monitored loss improved."""
        if not self.enabled or not math.isfinite(result.monitored):
            return  # a NaN/inf loss is never saved (the training loop stops the run on one)
        checkpoint: dict[str, Any] | None = None
        if result.epoch % self.every == 0:
            checkpoint = self._build(state, result.monitored, result.val_loss)
            if self._save(checkpoint, periodic_name(result.epoch), "periodic", result.epoch, result.monitored):
                self._prune(result.epoch)
        if result.monitored < state.best_loss:
            checkpoint = checkpoint or self._build(state, result.monitored, result.val_loss)
            self.best_stale = not self._save(checkpoint, BEST_NAME, "best", result.epoch, result.monitored)
        elif self.best_stale:  # an earlier best save failed: copy that epoch's periodic file when there is one
            self._check_best(state, state.best_loss, quiet=True)

    def on_train_end(self, state: TrainingState, completed: bool) -> None:
        """After the last epoch: save the final model and report completion (nothing after a stop).

        Old periodic files being deleted are gone from disk before this returns, so a finished run leaves
        exactly its checkpoint set."""
        self.wait_for_deletes()
        if not completed:
            return
        self.final_path = ""
        if self.enabled and state.epoch_losses:
            loss = state.val_losses[-1] if state.val_losses else state.epoch_losses[-1]
            val_loss = state.val_losses[-1] if state.val_losses else None
            if self._save(self._build(state, loss, val_loss), FINAL_NAME, "final", state.epoch, loss):
                self.final_path = self.shown(FINAL_NAME)
        self.emit(TrainingCompleted(self.node_id, state.epoch, self.final_path, self.failed_saves))

    def wait_for_deletes(self) -> None:
        """Return once the old periodic files handed to the background deleter (``keep_last_n``) are unlinked."""
        self._deleter.wait()

    def _build(self, state: TrainingState, loss: float, val_loss: float | None) -> dict[str, Any]:
        return build_checkpoint(state, loss, val_loss, self.config, self.pipeline)

    def _save(self, checkpoint: dict[str, Any], name: str, kind: str, epoch: int, loss: float) -> bool:
        try:
            write_checkpoint(checkpoint, self.folder / name)
        except OSError as error:  # CheckpointWriteError, or any other OS error on the way
            self._failed(self.shown(name), describe_os_error(error, self.folder / name), kind)
            return False
        self.emit(CheckpointSaved(self.node_id, kind, self.shown(name), epoch, float(loss)))
        return True

    def _prune(self, epoch: int) -> None:
        """Delete the oldest periodic files beyond ``keep_last_n`` (only after the new one is on disk)."""
        if self.keep_last_n <= 0:
            return
        try:
            older = [path for number, path in periodic_files(self.folder) if number <= epoch]
        except OSError as error:
            reason = f"{describe_listing_error(error, self.folder)}; no old checkpoint deleted (keep_last_n)"
            self._failed(self.directory.strip(), reason, "directory")
            return
        for path in older[: max(0, len(older) - self.keep_last_n)]:
            try:
                self._deleter.delete(path)  # out of the set now; its space is freed while training goes on
            except CheckpointWriteError as error:
                self._failed(self.shown(path.name), error.reason, "cleanup")

    def _check_best(self, state: TrainingState, best_loss: float, quiet: bool = False) -> None:
        """Repair ``best_model.pt`` when it does not hold the best completed epoch (see `repair_best`);
        ``quiet``: say nothing when it cannot be repaired (the failed best save was already reported)."""
        monitored = state.val_losses if state.val_losses else state.epoch_losses
        epoch = best_epoch(monitored, best_loss)
        if epoch is None:
            return  # the recorded best matches no epoch's loss (an edited file?): nothing to compare with
        sources = [os.path.expanduser(self.resumed_from)] if self.resumed_from.strip() else []
        check = repair_best(self.folder, epoch, best_loss, state.epoch, sources)
        if check is None:
            self.best_stale = False
            return
        held = (f"epoch {check.held_epoch} (loss {check.held_loss:.4f})" if check.held_epoch is not None
                and check.held_loss is not None else "no readable checkpoint")
        if check.source is None:
            if quiet:
                return
            self.emit(LogLine(f"  ✗ {self.shown(BEST_NAME)} holds {held}, but epoch {epoch} had the lowest loss "
                              f"({best_loss:.4f}): {check.error}; {BEST_NAME} stays as it is",
                              self.node_id, "warning"))
            return
        self.best_stale = False
        self.emit(LogLine(f"  ✓ Repaired {self.shown(BEST_NAME)}: it held {held}, but epoch {epoch} had the "
                          f"lowest loss ({best_loss:.4f}); copied from {check.source.name}", self.node_id))
        self.emit(CheckpointSaved(self.node_id, "best", self.shown(BEST_NAME), epoch, float(best_loss)))

    def _failed(self, path: str, reason: str, kind: str) -> None:
        if kind in ("periodic", "best", "final"):  # a file not deleted, or the folder, is counted by its saves
            self.failed_saves += 1
        self.emit(CheckpointFailed(self.node_id, path, reason, kind))
        if self.stop_on_error:
            raise NodeError(f"could not save checkpoint {path}: {reason} (training stopped: stop_on_checkpoint_error)")

"""The checkpoint policy: a training callback that decides periodic, best and final saves.

Fed each `EpochResult`, it decides that ``checkpoint_epoch_N.pt`` is due every ``every`` epochs,
``best_model.pt`` when the monitored loss is strictly lower than the best so far, and ``final_model.pt``
after the last epoch, and hands each save to its writer (`CheckpointWriter` writes on the training thread,
`BackgroundWriter` on a worker thread). It learns each save's outcome from the writer and reports it as an
event (`CheckpointSaved`, `CheckpointFailed`); a failed save (any OS error, including listing or pruning the
folder) never stops training unless ``stop_on_error`` is set. Old periodic files beyond ``keep_last_n`` are
dropped only once a newer one is on disk. A non-finite loss is never saved. On resume, and after a best save
that really failed, ``best_model.pt`` is checked against the best completed epoch and repaired from that
epoch's file (see `best`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medical_imaging_framework.checkpoints.atomic import (
    CheckpointWriteError,
    clean_temp_files,
    describe_listing_error,
    ensure_directory,
)
from medical_imaging_framework.checkpoints.best import best_epoch, repair_best
from medical_imaging_framework.checkpoints.files import BEST_NAME, FINAL_NAME, periodic_files, periodic_name
from medical_imaging_framework.checkpoints.state import build_checkpoint
from medical_imaging_framework.checkpoints.writer import CheckpointWriter, Save, SaveOutcome
from medical_imaging_framework.core.option_values import checkpoints_enabled as checkpoints_enabled  # torch-free home
from medical_imaging_framework.run.control import NodeError
from medical_imaging_framework.run.events import (
    CheckpointFailed,
    CheckpointSaved,
    CheckpointsConfigured,
    EventSink,
    LogLine,
    TrainingCompleted,
)
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
        writer: writes the saves (`CheckpointWriter`: on the training thread; `BackgroundWriter`: in the
            background, outcomes reported at the next epoch boundary or at the end).
        extra: called for each checkpoint built; its entries are added to the file (e.g. every rank's
            random state, `ranks.RankRngStates`).
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
    writer: CheckpointWriter = field(default_factory=CheckpointWriter, repr=False)
    extra: Callable[[], Mapping[str, Any]] | None = field(default=None, repr=False)
    final_path: str = field(default="", init=False)
    failed_saves: int = field(default=0, init=False)
    best_stale: bool = field(default=False, init=False)
    _latest_best: int = field(default=0, init=False, repr=False)

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
        self.emit(CheckpointsConfigured(self.node_id, self.directory.strip(), state.run_id))
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
        """Report the writes finished since the last epoch; then hand over the periodic save when due, and the
        best save when the monitored loss improved."""
        if not self.enabled:
            return
        self._report(self.writer.finished())
        if not math.isfinite(result.monitored):
            return  # a NaN/inf loss is never saved (the training loop stops the run on one)
        checkpoint: Mapping[str, Any] | None = None
        if result.epoch % self.every == 0:
            checkpoint = self._build(state, result.monitored, result.val_loss)
            self._save(checkpoint, Save(periodic_name(result.epoch), "periodic", result.epoch, result.monitored))
        if result.monitored < state.best_loss:
            checkpoint = checkpoint or self._build(state, result.monitored, result.val_loss)
            self._latest_best = result.epoch
            self._save(checkpoint, Save(BEST_NAME, "best", result.epoch, result.monitored))
        elif self.best_stale:  # the latest best save failed: copy that epoch's periodic file when there is one
            self._check_best(state, state.best_loss, quiet=True)

    def on_train_end(self, state: TrainingState, completed: bool) -> None:
        """After the last epoch: save the final model and report completion (nothing after a stop).

        Every write and delete handed to the writer is finished (and reported) before this returns, so a
        finished run leaves exactly its checkpoint set."""
        try:
            self.flush()
            self.wait_for_deletes()
            if not completed:
                return
            self.final_path = ""
            if self.enabled and state.epoch_losses:
                loss = state.val_losses[-1] if state.val_losses else state.epoch_losses[-1]
                val_loss = state.val_losses[-1] if state.val_losses else None
                self._save(self._build(state, loss, val_loss), Save(FINAL_NAME, "final", state.epoch, loss))
                self.flush()
            self.emit(TrainingCompleted(self.node_id, state.epoch, self.final_path, self.failed_saves))
        finally:
            self.writer.close()

    def flush(self) -> None:
        """Wait for the writes in flight and report their outcomes (on the calling thread)."""
        self._report(self.writer.wait())

    def wait_for_deletes(self) -> None:
        """Return once the old periodic files handed to the writer for deleting (``keep_last_n``) are unlinked."""
        self.writer.wait_for_deletes()

    def _build(self, state: TrainingState, loss: float, val_loss: float | None) -> Mapping[str, Any]:
        checkpoint = build_checkpoint(state, loss, val_loss, self.config, self.pipeline)
        if self.extra is not None:
            checkpoint.update(self.extra())
        prepared = self.writer.prepare(checkpoint)
        self._report(self.writer.finished())  # a background writer waited for its writes in flight
        return prepared

    def _save(self, checkpoint: Mapping[str, Any], save: Save) -> None:
        self._report(self.writer.write(checkpoint, self.folder, save))

    def _report(self, outcomes: list[SaveOutcome]) -> None:
        """Emit each outcome's event; drop old periodic files after a periodic save, and note whether the
        latest best save failed (``best_stale``: repaired at a later epoch)."""
        for outcome in outcomes:
            save = outcome.save
            if save.kind == "best" and save.epoch == self._latest_best:
                self.best_stale = outcome.error is not None
            if outcome.error is not None:
                self._failed(self.shown(save.name), outcome.error, save.kind)
                continue
            self.emit(CheckpointSaved(self.node_id, save.kind, self.shown(save.name), save.epoch, float(save.loss)))
            if save.kind == "final":
                self.final_path = self.shown(FINAL_NAME)
            elif save.kind == "periodic":
                self._prune(save.epoch)

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
                self.writer.delete(path)  # out of the set now; its space is freed while training goes on
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
            self.writer.close()  # training ends here without on_train_end: the writer's thread ends with it
            raise NodeError(f"could not save checkpoint {path}: {reason} (training stopped: stop_on_checkpoint_error)")

"""Checkpoints written in the background, so that a save does not stall training.

The training thread only copies the checkpoint's tensors into CPU buffers (page-locked on CUDA, reused
from save to save); a background thread then writes the copy with the same atomic writer as a synchronous
save (`write_checkpoint`). At most one write is in flight: a new save first waits for the previous one.
Every outcome (saved, failed) is reported on the training thread, at the next epoch boundary or at the
end, as the same events a synchronous save emits. The final save and a stop wait for the write in flight,
so a finished run never leaves a file missing.
"""

from __future__ import annotations

import atexit
import queue
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from medical_imaging_framework.checkpoints.policy import CheckpointPolicy
from medical_imaging_framework.checkpoints.atomic import CheckpointWriteError, write_checkpoint
from medical_imaging_framework.run.events import CheckpointSaved
from medical_imaging_framework.core.option_values import ASYNC_CHOICES as ASYNC_CHOICES  # torch-free home
from medical_imaging_framework.training.loop import EpochResult, TrainingState


def async_checkpoint_enabled(choice: Any, device: torch.device | None) -> bool:
    """Whether ``async_checkpoint`` (``auto``/``on``/``off`` or a bool) turns background writes on.

    Args:
        choice: the Trainer parameter; ``auto`` means on when training on CUDA.
        device: the training device (None: unknown, treated as CPU).
    """
    if isinstance(choice, bool):
        return choice
    text = str(choice).strip().lower()
    if text == "auto":
        return device is not None and device.type == "cuda"
    return text in ("on", "true", "yes", "1")


class CpuSnapshot:
    """Copies a checkpoint dict's tensors into reusable CPU buffers (pinned when ``pin_memory``).

    Args:
        pin_memory: allocate page-locked buffers (only useful when tensors live on CUDA).
    """

    def __init__(self, pin_memory: bool = False) -> None:
        self.pin_memory = pin_memory
        self._buffers: dict[tuple[Any, ...], torch.Tensor] = {}

    def copy(self, value: Any) -> Any:
        """A copy of ``value`` whose tensors are CPU buffers no training step can change.

        Args:
            value: nested dicts/lists/tuples of tensors and plain values (a checkpoint dict).
        """
        copied = self._copy(value, ())
        if self.pin_memory and torch.cuda.is_available():
            torch.cuda.synchronize()  # the non-blocking device-to-host copies are complete after this
        return copied

    def _copy(self, value: Any, path: tuple[Any, ...]) -> Any:
        if isinstance(value, torch.Tensor):
            return self._copy_tensor(value, path)
        if isinstance(value, Mapping):
            return {key: self._copy(item, (*path, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [self._copy(item, (*path, index)) for index, item in enumerate(value)]
        if isinstance(value, tuple):
            return tuple(self._copy(item, (*path, index)) for index, item in enumerate(value))
        return value  # numbers, strings, None: immutable

    def _copy_tensor(self, tensor: torch.Tensor, path: tuple[Any, ...]) -> torch.Tensor:
        source = tensor.detach()
        buffer = self._buffers.get(path)
        if buffer is None or buffer.shape != source.shape or buffer.dtype != source.dtype:
            pin = self.pin_memory and source.device.type == "cuda"
            buffer = torch.empty(source.shape, dtype=source.dtype, device="cpu", pin_memory=pin)
            self._buffers[path] = buffer
        if source.device.type == "cpu" and source.dtype in _NUMPY_DTYPES:
            # a plain single-threaded memcpy: copy_ would wake torch's intra-op thread pool for every tensor
            buffer.numpy()[...] = source.numpy()
        else:
            buffer.copy_(source, non_blocking=source.device.type == "cuda" and buffer.is_pinned())
        return buffer


_NUMPY_DTYPES = {torch.float64, torch.float32, torch.float16, torch.int64, torch.int32, torch.int16, torch.int8,
                 torch.uint8, torch.bool}


@dataclass(frozen=True)
class WriteOutcome:
    """One file of a background save: ``error`` is None when it was written."""

    name: str
    kind: str
    epoch: int
    loss: float
    error: CheckpointWriteError | None = None


_LIVE_WRITERS: weakref.WeakSet[BackgroundWriter] = weakref.WeakSet()


@atexit.register
def _finish_writes_at_exit() -> None:
    """An interpreter that exits while a write is in flight first lets it finish (no half-written run)."""
    for writer in list(_LIVE_WRITERS):
        writer.wait()


class BackgroundWriter:
    """Writes one checkpoint (to one or more files) at a time on a background thread.

    The thread is started on the first write and kept (a hand-off is a queue put, not a thread start);
    `close` ends it.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Mapping[str, Any], list[tuple[Any, WriteOutcome]]] | None] = (
            queue.SimpleQueue())
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        self._outcomes: list[WriteOutcome] = []
        self._lock = threading.Lock()
        _LIVE_WRITERS.add(self)

    @property
    def busy(self) -> bool:
        """Whether a write is in flight."""
        return not self._idle.is_set()

    def submit(self, checkpoint: Mapping[str, Any], files: list[tuple[Any, WriteOutcome]]) -> None:
        """Write ``checkpoint`` to each ``(path, outcome)`` in order, after waiting for the previous write.

        Args:
            checkpoint: a snapshot no one changes while it is written.
            files: the target paths with the outcome to record for each (its ``error`` filled on failure).
        """
        self.wait()
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="mif-checkpoint-writer", daemon=True)
            self._thread.start()
        self._idle.clear()
        self._jobs.put((checkpoint, files))

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                self._write(*job)
            finally:
                self._idle.set()

    def _write(self, checkpoint: Mapping[str, Any], files: list[tuple[Any, WriteOutcome]]) -> None:
        for path, outcome in files:
            try:
                write_checkpoint(checkpoint, path)
            except CheckpointWriteError as error:
                outcome = WriteOutcome(outcome.name, outcome.kind, outcome.epoch, outcome.loss, error)
            except Exception as error:  # never lose a failure on the background thread
                reason = f"writing failed: {type(error).__name__}: {error}"
                outcome = WriteOutcome(outcome.name, outcome.kind, outcome.epoch, outcome.loss,
                                       CheckpointWriteError(path, reason))
            with self._lock:
                self._outcomes.append(outcome)

    def wait(self) -> None:
        """Block until the write in flight (if any) has finished."""
        self._idle.wait()

    def close(self) -> None:
        """Wait for the write in flight, then end the thread (a later `submit` starts a new one)."""
        self.wait()
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None

    def take_outcomes(self) -> list[WriteOutcome]:
        """The outcomes finished since the last call (oldest first)."""
        with self._lock:
            outcomes, self._outcomes = self._outcomes, []
        return outcomes


@dataclass
class AsyncCheckpointPolicy(CheckpointPolicy):
    """A `CheckpointPolicy` whose periodic and best saves are written in the background.

    Same files, names, contents and events as the synchronous policy; a save's `CheckpointSaved` or
    `CheckpointFailed` comes when its write has finished (reported at the next epoch boundary or the end).

    Args:
        pin_memory: copy CUDA tensors into page-locked CPU buffers (set when training on CUDA).
    """

    pin_memory: bool = False
    _writer: BackgroundWriter = field(default_factory=BackgroundWriter, init=False, repr=False)
    _snapshot: CpuSnapshot | None = field(default=None, init=False, repr=False)
    _queued: list[WriteOutcome] = field(default_factory=list, init=False, repr=False)
    _synchronous: bool = field(default=False, init=False, repr=False)
    _last_snapshot: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def on_epoch_end(self, state: TrainingState, result: EpochResult) -> None:
        """Report finished writes, then queue this epoch's saves as one background write."""
        if not self.enabled:
            return
        if not self._writer.busy:
            self.report_finished()
        self._queued = []
        super().on_epoch_end(state, result)  # calls _build (snapshot) and _save (queue) below
        if self._queued:
            files = [(self.folder / outcome.name, outcome) for outcome in self._queued]
            self._writer.submit(self._last_snapshot, files)
            self._queued = []

    def on_train_end(self, state: TrainingState, completed: bool) -> None:
        """Wait for the write in flight and report it; the final save is written before returning."""
        self.flush()
        self._writer.close()
        self._synchronous = True
        try:
            super().on_train_end(state, completed)
        finally:
            self._synchronous = False

    def flush(self) -> None:
        """Wait for the write in flight, then report every finished outcome."""
        self._writer.wait()
        self.report_finished()

    def report_finished(self) -> None:
        """Emit the events of finished writes (and prune after a periodic save), on the calling thread."""
        for outcome in self._writer.take_outcomes():
            if outcome.error is not None:
                self._failed(self.shown(outcome.name), outcome.error.reason, outcome.kind)
                continue
            self.emit(CheckpointSaved(self.node_id, outcome.kind, self.shown(outcome.name), outcome.epoch,
                                      float(outcome.loss)))
            if outcome.kind == "periodic":
                self._prune(outcome.epoch)

    def _build(self, state: TrainingState, loss: float, val_loss: float | None) -> dict[str, Any]:
        checkpoint = super()._build(state, loss, val_loss)
        if self._synchronous:
            return checkpoint
        self.flush()  # the buffers are reused: the previous write must be done before they are refilled
        if self._snapshot is None:
            self._snapshot = CpuSnapshot(pin_memory=self.pin_memory)
        self._last_snapshot = self._snapshot.copy(checkpoint)
        return self._last_snapshot

    def _save(self, checkpoint: dict[str, Any], name: str, kind: str, epoch: int, loss: float) -> bool:
        if self._synchronous:
            return super()._save(checkpoint, name, kind, epoch, loss)
        self._queued.append(WriteOutcome(name, kind, epoch, float(loss)))
        return False  # not on disk yet: pruning waits for the outcome (see report_finished)

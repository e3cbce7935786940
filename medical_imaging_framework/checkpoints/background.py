"""Checkpoints written in the background, so that a save does not stall training.

`BackgroundWriter` is the background flavour of the checkpoint writer (`writer.CheckpointWriter`). The
training thread only copies the checkpoint's tensors into CPU buffers (`CpuSnapshot`: page-locked on CUDA,
reused from save to save), after the previous write has finished; the writer's worker thread then writes the
copy with the same atomic writer as a synchronous save, one file at a time. The outcomes (saved, failed) are
collected on the training thread, which reports them at the next epoch boundary or at the end as the same
events a synchronous save emits. The final save and a stop wait for the writes in flight, so a finished run
never leaves a file missing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from concurrent.futures import Future
from concurrent.futures import wait as wait_for_futures
from pathlib import Path
from typing import Any

import torch

from medical_imaging_framework.checkpoints.writer import CheckpointWriter, Save, SaveOutcome, write_save
from medical_imaging_framework.core.option_values import ASYNC_CHOICES as ASYNC_CHOICES  # torch-free home


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


class BackgroundWriter(CheckpointWriter):
    """Writes checkpoints on the worker thread, from CPU copies of their tensors; one file at a time.

    Args:
        pin_memory: copy CUDA tensors into page-locked CPU buffers (set when training on CUDA).
    """

    def __init__(self, pin_memory: bool = False) -> None:
        super().__init__()
        self.pin_memory = pin_memory
        self._snapshot: CpuSnapshot | None = None
        self._writes: deque[Future[SaveOutcome]] = deque()

    def prepare(self, checkpoint: dict[str, Any]) -> Mapping[str, Any]:
        """Wait for the writes in flight (they read the reused buffers), then copy ``checkpoint`` into the buffers.

        Args:
            checkpoint: the freshly built checkpoint dict.
        """
        wait_for_futures(list(self._writes))
        if self._snapshot is None:
            self._snapshot = CpuSnapshot(pin_memory=self.pin_memory)
        return self._snapshot.copy(checkpoint)

    def write(self, checkpoint: Mapping[str, Any], folder: Path, save: Save) -> list[SaveOutcome]:
        """Hand the write to the worker thread; its outcome comes from a later `finished` or `wait`.

        Args:
            checkpoint: what `prepare` returned (no one changes it until the write has finished).
            folder: the checkpoint folder.
            save: the file to write.
        """
        self._writes.append(self._submit(_write_reporting_every_error, checkpoint, folder, save))
        return []

    def finished(self) -> list[SaveOutcome]:
        """Outcomes of the writes that have finished since the last call, in the order they were handed over."""
        outcomes = []
        while self._writes and self._writes[0].done():
            outcomes.append(self._writes.popleft().result())
        return outcomes

    def wait(self) -> list[SaveOutcome]:
        """Wait for the writes in flight; returns every outcome not returned yet, oldest first."""
        wait_for_futures(list(self._writes))
        return self.finished()


def _write_reporting_every_error(checkpoint: Mapping[str, Any], folder: Path, save: Save) -> SaveOutcome:
    """`write_save` on the worker thread, where no failure may be lost: any error is a failed outcome."""
    try:
        return write_save(checkpoint, folder, save)
    except Exception as error:
        return SaveOutcome(save, f"writing failed: {type(error).__name__}: {error}")

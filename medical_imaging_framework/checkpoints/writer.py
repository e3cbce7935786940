"""Carrying out the saves a `CheckpointPolicy` decides on: one writer interface, in two flavours.

`CheckpointWriter` (synchronous) writes each file on the calling thread with the atomic writer
(`write_checkpoint`) and returns its outcome at once. `BackgroundWriter` (``background``) has the same
interface: it snapshots the state into CPU buffers and writes on its worker thread; its outcomes are
collected on the training thread (`finished`, `wait`). The policy learns every save's outcome (`SaveOutcome`:
written, or failed with the cause in words) from the writer, never from how a call returned.

Each writer owns one worker thread (a one-worker `ThreadPoolExecutor`, started on first use, ended by
`close`). Besides background writes, it unlinks the old periodic files ``keep_last_n`` drops: unlinking costs
time in proportion to a file's size (about 38 ms for 200 MB on ext4, seconds on some network file systems),
which training would otherwise wait for at every save (``bench/checkpoint_bench.py``). So `delete` first
renames the file to a writer temp name in the same folder (atomic and immediate: it leaves the checkpoint set
at once; `find_last_checkpoint` and loading ignore temp files) and hands the unlink to the worker. A temp
file left by a crash is removed at the next training start by `clean_temp_files`, like an interrupted save's.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from medical_imaging_framework.checkpoints.atomic import CheckpointWriteError, describe_os_error, write_checkpoint
from medical_imaging_framework.core.atomic_file import temp_path

T = TypeVar("T")


@dataclass(frozen=True)
class Save:
    """One file a policy decided to write.

    Args:
        name: the file name in the checkpoint folder (``best_model.pt``, ``checkpoint_epoch_4.pt``, ...).
        kind: ``periodic``, ``best`` or ``final``.
        epoch: the epoch it holds.
        loss: its monitored loss.
    """

    name: str
    kind: str
    epoch: int
    loss: float


@dataclass(frozen=True)
class SaveOutcome:
    """How a `Save` went: ``error`` is None when the file is on disk, else the cause in words."""

    save: Save
    error: str | None = None


def write_save(checkpoint: Mapping[str, Any], folder: Path, save: Save) -> SaveOutcome:
    """Write ``checkpoint`` to ``folder/save.name`` atomically; an OS error becomes a failed outcome.

    Args:
        checkpoint: the dict to write.
        folder: the checkpoint folder (created when missing).
        save: what is written.
    """
    path = folder / save.name
    try:
        write_checkpoint(checkpoint, path)
    except OSError as error:  # CheckpointWriteError, or any other OS error on the way
        return SaveOutcome(save, describe_os_error(error, path))
    return SaveOutcome(save)


class CheckpointWriter:
    """Writes checkpoints on the calling thread; unlinks dropped files on its worker thread."""

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._deletes: list[Future[None]] = []

    def prepare(self, checkpoint: dict[str, Any]) -> Mapping[str, Any]:
        """The checkpoint as it will be written (here ``checkpoint`` itself: it is written before training goes on).

        Args:
            checkpoint: the freshly built checkpoint dict.
        """
        return checkpoint

    def write(self, checkpoint: Mapping[str, Any], folder: Path, save: Save) -> list[SaveOutcome]:
        """Write ``checkpoint`` to ``folder/save.name``; returns the outcomes known now (here: this write's).

        Args:
            checkpoint: what `prepare` returned.
            folder: the checkpoint folder.
            save: the file to write.
        """
        return [write_save(checkpoint, folder, save)]

    def finished(self) -> list[SaveOutcome]:
        """Outcomes of earlier writes that have finished since the last call, oldest first (none here)."""
        return []

    def wait(self) -> list[SaveOutcome]:
        """Wait for the writes in flight; returns every outcome not returned yet, oldest first (none here)."""
        return []

    def delete(self, path: Path) -> None:
        """Take ``path`` out of its folder now (a missing file is fine) and unlink it on the worker thread.

        Args:
            path: the file.

        Raises:
            CheckpointWriteError: it cannot be moved aside (e.g. a read-only folder); it stays as it was.
        """
        aside = temp_path(path)
        try:
            os.replace(path, aside)
        except FileNotFoundError:
            return
        except OSError as error:
            raise CheckpointWriteError(path, f"could not delete: {describe_os_error(error, path)}") from None
        self._deletes = [future for future in self._deletes if not future.done()]
        self._deletes.append(self._submit(_unlink_quietly, aside))

    def wait_for_deletes(self) -> None:
        """Return once every file handed to `delete` so far is unlinked (or its unlinking failed)."""
        for future in self._deletes:
            future.result()
        self._deletes.clear()

    def close(self) -> None:
        """Wait for everything handed to the worker, then end its thread (a later use starts a new one)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self._deletes.clear()

    def _submit(self, function: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``function(*args)`` on the worker thread, after everything handed to it before."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mif-checkpoint-writer")
        return self._executor.submit(function, *args)


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):  # a temp file that stays is harmless: the next training start removes it
        path.unlink(missing_ok=True)

"""Checkpoint folders already used by another run: what they hold, which fresh runs would mix into them,
setting their files aside before a run starts over, and which file ``resume_from=last`` continues.

Which nodes of a pipeline start a fresh run into which folder is the Trainer's to say
(`nodes.training.folders`); this module knows folders and files only.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from medical_imaging_framework.checkpoints.files import (
    PERIODIC_PATTERN,
    checkpoint_files,
    find_last_checkpoint,
    peek_checkpoint,
)
from medical_imaging_framework.checkpoints.lock import CheckpointFolderBusy, holder

PREVIOUS_RUNS = "previous_runs"


@dataclass(frozen=True)
class UsedCheckpointFolder:
    """Checkpoint files an earlier run left in the folder a fresh run is about to write to.

    Args:
        node_id: the Trainer node that would write there.
        directory: the folder as the user typed it.
        folder: the folder on disk.
        files: the complete checkpoint files in it.
        last_epoch: the highest epoch among them (None when no file tells).
        run_ids: the run ids recorded in the files (files of older versions record none).
    """

    node_id: str
    directory: str
    folder: Path
    files: tuple[Path, ...]
    last_epoch: int | None
    run_ids: tuple[str, ...]


def inspect_folder(node_id: str, directory: str) -> UsedCheckpointFolder | None:
    """What an earlier run left in ``directory`` (None when it holds no checkpoint file).

    Args:
        node_id: the node that would write there.
        directory: the checkpoint folder as typed (``~`` is expanded; relative to the current folder).
    """
    folder = Path(os.path.expanduser(directory.strip()))
    files = checkpoint_files(folder)
    if not files:
        return None
    epochs: list[int] = []
    run_ids: list[str] = []
    for path in files:
        match = PERIODIC_PATTERN.match(path.name)
        peek = peek_checkpoint(path)  # an unreadable or hostile file still counts as a file; it tells nothing
        epoch = int(match.group(1)) if match else peek.epoch if peek else None
        if epoch is not None:
            epochs.append(epoch)
        run_id = peek.run_id if peek else None
        if run_id and run_id not in run_ids:
            run_ids.append(run_id)
    return UsedCheckpointFolder(node_id, directory.strip(), folder, tuple(files), max(epochs, default=None),
                                tuple(run_ids))


def set_aside(used: UsedCheckpointFolder) -> Path:
    """Move the folder's checkpoint files (and nothing else) into ``previous_runs/<name>/`` inside it.

    Args:
        used: what `inspect_folder` found.

    Returns:
        The folder the files now lie in.

    Raises:
        CheckpointFolderBusy: a run holds the folder now (its files are being written): nothing is moved.
        OSError: when a file cannot be moved (the ones already moved stay moved).
    """
    running = holder(used.folder)
    if running is not None:
        raise CheckpointFolderBusy(used.directory, running)
    label = used.run_ids[-1] if used.run_ids else time.strftime("%Y%m%d-%H%M%S")
    target = used.folder / PREVIOUS_RUNS / label
    number = 2
    while target.exists():
        target, number = used.folder / PREVIOUS_RUNS / f"{label}_{number}", number + 1
    target.mkdir(parents=True)
    for path in used.files:
        if path.exists():
            os.replace(path, target / path.name)
    return target


@dataclass(frozen=True)
class ResumeChoice:
    """Which file ``resume_from=last`` continues in a folder (`choose_resume`).

    Args:
        path: the file to resume from (None: no complete checkpoint).
        run_id: its run (None when it records none).
        newest: the newest complete file of any run (``path`` unless the folder holds several runs' files).
        newest_run_id: the run of ``newest``.
    """

    path: Path | None
    run_id: str | None = None
    newest: Path | None = None
    newest_run_id: str | None = None

    @property
    def passed_over(self) -> bool:
        """Whether a newer file of another run was passed over."""
        return self.newest is not None and self.newest != self.path


def choose_resume(folder: Path) -> ResumeChoice:
    """The newest complete checkpoint of the run that wrote into ``folder`` last.

    A folder can hold the files of two runs: a fresh run of 8 epochs written over one of 12 leaves files
    9-12 of the first. Its newest file (epoch 12) is then not the run to continue; the run that wrote into
    the folder last is: the run of the most recently written checkpoint file (two runs never write into one
    folder at the same time, `checkpoints.lock`, so the later run's files are all newer).

    Args:
        folder: the checkpoint folder on disk.

    Raises:
        OSError: the folder cannot be listed.
    """
    newest = find_last_checkpoint(folder)
    if newest is None:
        return ResumeChoice(None)
    runs: dict[Path, str] = {}
    for path in checkpoint_files(folder):
        peek = peek_checkpoint(path)
        if peek is not None and peek.run_id:
            runs[path] = peek.run_id
    newest_run = runs.get(newest)
    if len(set(runs.values())) < 2:
        return ResumeChoice(newest, newest_run, newest, newest_run)
    latest_run = runs[max(runs, key=lambda path: path.stat().st_mtime_ns)]
    path = newest if newest_run == latest_run else find_last_checkpoint(folder, run_id=latest_run)
    if path is None:  # none of that run's files is complete: the newest file is all there is
        return ResumeChoice(newest, newest_run, newest, newest_run)
    return ResumeChoice(path, latest_run, newest, newest_run)

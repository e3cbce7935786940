"""Checkpoint folders already used by another run: what they hold, which fresh runs would mix into them,
and setting their files aside before a run starts over.

Which nodes of a pipeline start a fresh run into which folder is the Trainer's to say
(`nodes.training.folders`); this module knows folders and files only.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from medical_imaging_framework.checkpoints.files import PERIODIC_PATTERN, checkpoint_files, peek_checkpoint

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
        OSError: when a file cannot be moved (the ones already moved stay moved).
    """
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

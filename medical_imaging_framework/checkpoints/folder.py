"""Checkpoint folders already used by another run: what they hold, which fresh runs would mix into them,
setting their files aside before a run starts over, and which file ``resume_from=last`` continues.

A run's files are its checkpoint files plus what `RUN_FILE_PATTERNS` names (its ``metrics.csv``, evaluation
results, report, TensorBoard event files); they move together, so ``previous_runs/<run id>/`` is a whole run
that ``mif report`` can describe.

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
from medical_imaging_framework.checkpoints.lock import LOCK_NAME, CheckpointFolderBusy, holder
from medical_imaging_framework.training.metrics_log import METRICS_NAME

PREVIOUS_RUNS = "previous_runs"

# Every file or folder besides the checkpoint files that a run (or a tool describing it) writes into its checkpoint
# folder, as glob patterns: the one list `set_aside` moves with the checkpoints. Patterns, not imported names: the
# evaluation files (`nodes/evaluation/files.py`) and the report (`tools/report.py`) are named by layers above this
# one, and a pattern also takes the sidecar files they may add (``evaluation_provenance.json``).
# The folder lock (``.mif-run.lock``) is never moved: it is held by whoever runs there.
RUN_FILE_PATTERNS = (
    METRICS_NAME,  # training/metrics_log.py: one row per epoch
    "evaluation*.csv", "evaluation*.json", "evaluation*.npz",  # nodes/evaluation/files.py and its sidecars
    "samples",  # sample images
    "report*.html", "report_files",  # tools/report.py (`mif report`, Report ▸ Open) and any assets beside it
    "events.out.tfevents.*",  # TensorBoard, when tensorboard_dir is the checkpoint folder itself
)


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
        run_files: the other files and folders of that run (`run_files`), moved with the checkpoint files.
    """

    node_id: str
    directory: str
    folder: Path
    files: tuple[Path, ...]
    last_epoch: int | None
    run_ids: tuple[str, ...]
    run_files: tuple[Path, ...] = ()


def run_files(folder: Path, also: tuple[Path, ...] = ()) -> tuple[Path, ...]:
    """The files and folders in ``folder`` besides its checkpoint files that belong to the run that wrote there.

    Args:
        folder: the checkpoint folder on disk.
        also: further paths the run wrote (e.g. its ``tensorboard_dir``); kept only when they lie inside
            ``folder`` (and not in ``previous_runs/``) and exist.
    """
    found: list[Path] = []
    for pattern in RUN_FILE_PATTERNS:
        found += sorted(path for path in folder.glob(pattern) if path.name != LOCK_NAME)
    root = folder.resolve()
    for path in also:
        try:
            inside = path.resolve().relative_to(root)
        except (OSError, ValueError):
            continue  # outside the folder: not this folder's to move
        if inside.parts and inside.parts[0] != PREVIOUS_RUNS and path.exists():
            found.append(folder / inside)
    unique: list[Path] = []
    for path in found:  # a folder named twice, or a path inside one already listed, moves once
        if not any(path == kept or kept in path.parents for kept in unique):
            unique.append(path)
    return tuple(unique)


def inspect_folder(node_id: str, directory: str, also: tuple[str, ...] = ()) -> UsedCheckpointFolder | None:
    """What an earlier run left in ``directory`` (None when it holds no checkpoint file).

    Args:
        node_id: the node that would write there.
        directory: the checkpoint folder as typed (``~`` is expanded; relative to the current folder).
        also: further folders the run writes, as typed (e.g. its ``tensorboard_dir``): moved with the run's
            files when they lie inside ``directory``.
    """
    folder = Path(os.path.expanduser(directory.strip()))
    files = checkpoint_files(folder)
    if not files:
        return None
    periodic = {path: int(match.group(1)) for path in files if (match := PERIODIC_PATTERN.match(path.name))}
    # reading a file costs a torch.load (tens of ms): a folder of 200 checkpoints froze the editor's F5 for
    # seconds. The periodic files name their epoch; only best/final, the oldest and the newest periodic file
    # are read (the run ids of a folder two runs wrote into lie at its oldest and newest files)
    ends = {min(periodic, key=periodic.__getitem__), max(periodic, key=periodic.__getitem__)} if periodic else set()
    epochs: list[int] = list(periodic.values())
    run_ids: list[str] = []
    for path in [p for p in files if p not in periodic or p in ends]:
        peek = peek_checkpoint(path)  # an unreadable or hostile file still counts as a file; it tells nothing
        if path not in periodic and peek is not None and peek.epoch is not None:
            epochs.append(peek.epoch)
        run_id = peek.run_id if peek else None
        if run_id and run_id not in run_ids:
            run_ids.append(run_id)
    extra = tuple(Path(os.path.expanduser(text.strip())) for text in also if text.strip())
    return UsedCheckpointFolder(node_id, directory.strip(), folder, tuple(files), max(epochs, default=None),
                                tuple(run_ids), run_files(folder, extra))


def set_aside(used: UsedCheckpointFolder) -> Path:
    """Move the earlier run's files (its checkpoints and `run_files`) into ``previous_runs/<name>/`` inside it.

    Files that are not the run's (the user's notes, the folder lock, a temp file an interrupted write left)
    stay. A path inside the folder keeps its place below the target (``tb/`` -> ``previous_runs/<name>/tb/``).

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
    for path in (*used.files, *used.run_files):
        if path.exists():
            destination = target / path.relative_to(used.folder)
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, destination)
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

"""Keeping ``best_model.pt`` true: find the best completed epoch, and copy its checkpoint over a stale best file.

A run saves the periodic file of an epoch before its ``best_model.pt``. A crash (or a failed save) between
the two leaves ``best_model.pt`` at an older, worse epoch while the periodic file already records the new
best loss; a run resumed from that file would never rewrite it. `repair_best` puts it right from the
checkpoint of the best epoch (the resumed file or a periodic file in the folder).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from medical_imaging_framework.checkpoints.atomic import write_checkpoint
from medical_imaging_framework.checkpoints.files import (
    BEST_NAME,
    FINAL_NAME,
    CheckpointError,
    periodic_name,
    read_checkpoint,
)


@dataclass(frozen=True)
class BestCheck:
    """What `repair_best` found and did.

    Args:
        best_epoch: the completed epoch with the lowest monitored loss.
        best_loss: its loss.
        held_epoch: the epoch ``best_model.pt`` held before (None: missing or unreadable).
        held_loss: its recorded loss (None: missing or unreadable).
        source: the file copied onto ``best_model.pt`` (None: nothing copied).
        error: why the copy could not be made ("" when it was made or was not needed).
    """

    best_epoch: int
    best_loss: float
    held_epoch: int | None
    held_loss: float | None
    source: Path | None = None
    error: str = ""

    @property
    def stale(self) -> bool:
        """Whether ``best_model.pt`` did not hold the best epoch."""
        return self.held_epoch != self.best_epoch or self.held_loss != self.best_loss


def best_epoch(monitored: Sequence[float], best_loss: float) -> int | None:
    """The first epoch (1-based) whose monitored loss equals ``best_loss``; None when none does.

    Args:
        monitored: the monitored loss of each completed epoch (validation loss when validating).
        best_loss: the best loss recorded by the run (the strict-lower rule keeps the first of equal ones).
    """
    if not math.isfinite(best_loss):
        return None
    for index, loss in enumerate(monitored):
        if loss == best_loss:
            return index + 1
    return None


def _recorded(path: Path) -> tuple[int, float] | None:
    """(epoch, loss) stored in checkpoint ``path``; None when it is missing or cannot be read."""
    try:
        if not path.is_file():
            return None
        data = read_checkpoint(path, map_location="cpu")
        return int(data["epoch"]), float(data["loss"])
    except (CheckpointError, OSError, TypeError, ValueError):
        return None


def repair_best(
    folder: str | os.PathLike[str],
    epoch: int,
    loss: float,
    last_epoch: int,
    extra_sources: Iterable[str | os.PathLike[str]] = (),
) -> BestCheck | None:
    """Make ``folder/best_model.pt`` hold ``epoch`` (loss ``loss``) when it holds an older, other epoch.

    A best file from an epoch after ``last_epoch`` (a later part of an earlier run) is left alone: the
    resumed run replaces it when it gets there. Sources are tried in order: ``extra_sources`` (e.g. the file
    the run resumed from), ``checkpoint_epoch_{epoch}.pt`` and ``final_model.pt`` in ``folder``; a source is
    used only when it records exactly ``epoch`` and ``loss``.

    Args:
        folder: the checkpoint folder.
        epoch: the best completed epoch (1-based).
        loss: its monitored loss.
        last_epoch: the last completed epoch.
        extra_sources: further files that may hold ``epoch``.

    Returns:
        None when ``best_model.pt`` already holds ``epoch`` or a later epoch; else what was found and done.
    """
    target = Path(folder) / BEST_NAME
    held = _recorded(target)
    if held is not None and (held == (epoch, loss) or held[0] > last_epoch):
        return None
    held_epoch, held_loss = held if held is not None else (None, None)
    candidates = [Path(path) for path in extra_sources]
    candidates += [Path(folder) / periodic_name(epoch), Path(folder) / FINAL_NAME]
    for source in candidates:
        if _recorded(source) != (epoch, loss):
            continue
        try:
            write_checkpoint(read_checkpoint(source, map_location="cpu"), target)
        except (CheckpointError, OSError) as error:  # CheckpointWriteError is an OSError
            return BestCheck(epoch, loss, held_epoch, held_loss, error=str(error))
        return BestCheck(epoch, loss, held_epoch, held_loss, source=source)
    return BestCheck(epoch, loss, held_epoch, held_loss,
                     error=f"no checkpoint of epoch {epoch} is left to copy from")

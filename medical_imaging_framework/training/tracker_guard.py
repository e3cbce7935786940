"""A tracker that fails never ends training: its error is reported with ✗ and the tracker is switched off.

TensorBoard and MLflow are records of a run, as ``metrics.csv`` and the checkpoints are; a failed write to
one of them (an unwritable or full store, a tracking server that went down) is reported like a failed
checkpoint save and the run trains on without that tracker.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from medical_imaging_framework.core.text import printable
from medical_imaging_framework.training.loop import Callback, EpochResult, TrainingState

_REASON_MAX = 300


def short_reason(error: BaseException) -> str:
    """The first line of ``error``'s message (at most 300 characters), printable; its type when it has none."""
    lines = str(error).strip().splitlines()
    text = lines[0].rstrip(". ") if lines else type(error).__name__
    return printable(text if len(text) <= _REASON_MAX else text[:_REASON_MAX] + "...")


class GuardedTracker(Callback):
    """Runs ``tracker``'s callbacks; the first exception is reported and ends that tracker, not training.

    Args:
        tracker: the TensorBoard or MLflow callback.
        name: what it is called in the message (``MLflow``, ``TensorBoard``).
        target: where it writes (the tracking URI, the log folder), named in the message.
        warn: called with the ✗ line.
    """

    def __init__(self, tracker: Callback, name: str, target: str, warn: Callable[[str], None]) -> None:
        self.tracker = tracker
        self.name = name
        self.target = target
        self.warn = warn
        self.failed = False

    def on_train_start(self, state: TrainingState) -> None:
        """Start the tracker (an unreachable server is found here)."""
        self._call("could not start logging to", self.tracker.on_train_start, state)

    def on_epoch_end(self, state: TrainingState, result: EpochResult) -> None:
        """Log the epoch."""
        self._call(f"could not log epoch {result.epoch} to", self.tracker.on_epoch_end, state, result)

    def on_train_end(self, state: TrainingState, completed: bool) -> None:
        """Finish the tracker's run; after a failure only free what it holds (`close`, if it has one)."""
        if not self.failed:
            self._call("could not finish the run in", self.tracker.on_train_end, state, completed)
            return
        close = getattr(self.tracker, "close", None)
        if callable(close):
            with contextlib.suppress(Exception):  # already reported as failed; freeing what is left is best effort
                close()

    def _call(self, what: str, action: Callable[..., Any], *args: Any) -> None:
        if self.failed:
            return
        try:
            action(*args)
        except Exception as error:  # any library error; KeyboardInterrupt and SystemExit still end the run
            self.failed = True
            self.warn(f"  ✗ {self.name}: {what} {printable(self.target)}: {short_reason(error)}; "
                      f"training goes on without {self.name}")

"""The control types every running layer shares: stopping a run (the cancel token, the escalation of a
second stop), the progress throttle, and a node's own failure.

Kept apart from the executor so the training loop, the checkpoint policy and the distributed helpers can
use them without importing the graph executor.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from medical_imaging_framework.run.events import Event


class Cancelled(Exception):
    """Raised inside a node when the run's cancel token is set."""


class NodeError(Exception):
    """A node refused its inputs or failed in a way the user can fix; the message is shown as is."""


def worker_message(message: str) -> str:
    """A `NodeError`'s own message when a data loader worker raised it, else ``message`` unchanged.

    PyTorch re-raises a worker's exception in the main process with the worker's whole traceback as its
    message (``Caught NodeError in DataLoader worker process 0.\nOriginal Traceback ...``); the user needs
    only the last line, the message the node wrote.

    Args:
        message: the text of a `NodeError` as caught.
    """
    if not message.startswith("Caught NodeError in DataLoader worker process"):
        return message
    marker = f"{NodeError.__module__}.{NodeError.__qualname__}: "
    last = message.rstrip("\n").rpartition(marker)[2]
    return last if last and last != message.rstrip("\n") else message


class CancelToken:
    """Thread-safe stop flag, checked by long-running nodes between batches."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the run to stop at the next check."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether a stop was asked for."""
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise `Cancelled` when a stop was asked for."""
        if self._event.is_set():
            raise Cancelled()


StopRequest = Literal["graceful", "abort"]


class ProgressThrottle:
    """Lets through at most one `Progress` event per ``interval`` seconds (always the last batch of an epoch).

    Progress comes after every batch; a progress bar needs far fewer, and each one crossing to the GUI thread
    costs it time (bench/ui_latency.py). Other events always pass.

    Args:
        interval: the shortest time between two progress events let through (`DEFAULT_INTERVAL` when None).
        clock: the time source (tests pass a fake one).
    """

    DEFAULT_INTERVAL = 0.1

    def __init__(self, interval: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = self.DEFAULT_INTERVAL if interval is None else interval
        self.clock = clock
        self._last = float("-inf")

    def admit(self, event: Event) -> bool:
        """Whether ``event`` should be passed on."""
        from medical_imaging_framework.run.events import Progress  # events import nothing back: no cycle

        if not isinstance(event, Progress):
            return True
        now = self.clock()
        if event.batch != event.num_batches and now - self._last < self.interval:
            return False
        self._last = now
        return True


class StopEscalation:
    """Counts stop requests: the first asks for a stop after the current batch, any later one to abort now."""

    def __init__(self) -> None:
        self.count = 0

    def request(self) -> StopRequest:
        """Record one more stop request and say what it asks for."""
        self.count += 1
        return "graceful" if self.count == 1 else "abort"


__all__ = ["CancelToken", "Cancelled", "NodeError", "ProgressThrottle", "StopEscalation", "StopRequest"]

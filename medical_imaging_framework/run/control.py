"""The control types every running layer shares: stopping a run and a node's own failure.

Kept apart from the executor so the training loop, the checkpoint policy and the distributed helpers can
use them without importing the graph executor.
"""

from __future__ import annotations

import threading


class Cancelled(Exception):
    """Raised inside a node when the run's cancel token is set."""


class NodeError(Exception):
    """A node refused its inputs or failed in a way the user can fix; the message is shown as is."""


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


__all__ = ["CancelToken", "Cancelled", "NodeError"]

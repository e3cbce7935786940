"""Ending a process together with the processes it started (torchrun and its workers)."""

from __future__ import annotations

import contextlib
import os
import signal


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children first-level last), read from /proc; [] where there is none.

    Args:
        pid: the root process.
    """
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as handle:
            children = [int(item) for item in handle.read().split()]
    except OSError:
        return []
    found: list[int] = []
    for child in children:
        found += [*descendants(child), child]
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and its descendants (torchrun's workers live in sessions of their own).

    Args:
        pid: the root process.
    """
    for process in [*descendants(pid), pid]:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(process, signal.SIGKILL)

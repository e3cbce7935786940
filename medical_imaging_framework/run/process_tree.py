"""Ending a process together with the processes it started (torchrun and its workers), and with its parent."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable


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


# prctl(2) option: the signal this process gets when the thread that started it ends (Linux only)
PR_SET_PDEATHSIG = 1


def _prctl() -> Callable[..., int] | None:
    """libc's ``prctl`` (None off Linux): Python has no binding of its own, so it is called through ctypes."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def die_with_parent(signum: int = signal.SIGTERM) -> bool:
    """Have the kernel send ``signum`` to this process when its parent dies; False where it cannot (not Linux).

    A torchrun rank calls it at start: its agent killed (SIGKILL, or its own launcher gone), it stops too instead
    of training on, orphaned. A parent that dies between this process reading its pid and the request is caught
    too; one that died before (in the moment Python starts) is not: this process has been adopted already.

    Args:
        signum: the signal to receive (SIGTERM: a rank of ``mif run`` stops after the current batch).
    """
    prctl = _prctl()
    if prctl is None:
        return False
    parent = os.getppid()
    if prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:  # the parent died between the two calls: the kernel will not tell
        os.kill(os.getpid(), signum)
    return True


def parent_death_signal(signum: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` for `subprocess.Popen`: the child gets ``signum`` when this process dies (None off Linux).

    The child is in a session of its own (no SIGHUP of a closed terminal, no Ctrl-C reaches it), so without it
    a ``mif run --nproc`` killed or hung up would leave torchrun and its ranks training.

    Args:
        signum: the signal the child gets.
    """
    prctl = _prctl()
    if prctl is None:
        return None
    launcher = os.getpid()

    def preexec() -> None:  # runs in the child, between fork and exec
        prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0)
        if os.getppid() != launcher:  # the launcher died during the fork
            os.kill(os.getpid(), signum)

    return preexec

"""Ending a process together with the processes it started (torchrun and its workers), and with its parent."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
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
# How long an orphaned rank may take to stop on its own before it ends itself: torchrun, alive, gives a rank
# that ignores SIGTERM 30 s before its SIGKILL; a dead torchrun cannot, so the rank does it itself.
ORPHAN_GRACE_S = 30.0
# Seconds that replace ORPHAN_GRACE_S when set to a number > 0 (anything else is ignored: it is read in a signal
# handler of a rank whose launcher is gone, where no error could reach anyone). For tests, which would otherwise
# wait the whole 30 s to see an orphaned rank end; not a user setting.
ORPHAN_GRACE_ENV = "MIF_ORPHAN_GRACE_S"
_parent_at_start: int | None = None


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
    global _parent_at_start
    prctl = _prctl()
    if prctl is None:
        return False
    parent = _parent_at_start = os.getppid()
    if prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:  # the parent died between the two calls: the kernel will not tell
        os.kill(os.getpid(), signum)
    return True


def orphaned() -> bool:
    """True when `die_with_parent` was called and the parent it saw has died since (this process was adopted)."""
    return _parent_at_start is not None and os.getppid() != _parent_at_start


def orphan_grace_s() -> float:
    """The grace period of `end_if_still_running`: ``MIF_ORPHAN_GRACE_S`` when it is a number > 0, else 30 s."""
    try:
        seconds = float(os.environ.get(ORPHAN_GRACE_ENV, ""))
    except ValueError:
        return ORPHAN_GRACE_S
    return seconds if 0 < seconds < float("inf") else ORPHAN_GRACE_S


def end_if_still_running(after_s: float | None = None, code: int = 128 + signal.SIGTERM) -> threading.Timer:
    """End this process with ``code`` in ``after_s`` seconds unless it has exited by then.

    An orphaned rank stops gracefully after its batch, but a rank blocked where no stop is checked (a collective
    whose peer is already gone, a store whose host was the dead agent) would run on for ever: nobody is left to
    SIGKILL it. The timer thread is a daemon, so a rank that ends in time is not held up.

    Args:
        after_s: the grace period (None: `orphan_grace_s`, 30 s unless a test set ``MIF_ORPHAN_GRACE_S``).
        code: the exit status (143: ended by SIGTERM).
    """
    timer = threading.Timer(orphan_grace_s() if after_s is None else after_s, os._exit, args=(code,))
    timer.daemon = True
    timer.start()
    return timer


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
